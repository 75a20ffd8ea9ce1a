// Type-checks the examples in the JSDoc of every public export (`node scripts/docgen.mjs`).
//
// Source files: packages/*/src/**/*.ts and examples/*/src/**/*.ts, except
// src/internal/** and the generated `src/index.ts` barrels.
//
// 1. Every exported declaration (`export const|let|function|class|interface|type|enum|namespace`)
//    must carry a JSDoc comment (line comments may sit between the two) with
//    - an `**Example**` heading and a ```ts block,
//    - exactly one `@category` from the list below,
//    - a `@since`.
// 2. Every ```ts block in any JSDoc comment of those files (module docs and member docs included)
//    is written, as is, to `.docgen/<package>.<module>.<Export>[-n].ts`. A block is a whole module
//    with its imports: nothing is wrapped around it. Relative imports (`./render.ts`) are read from
//    the source file's directory and rewritten for `.docgen/`.
// 3. `.docgen/tsconfig.json` extends tsconfig.base.json and maps every workspace package's
//    exports (their `source` condition) with `paths`; internal subpaths do not resolve. tsc checks
//    the blocks, and its errors are traced back to the source file and line.
//
// Exits 1 naming the file and the export of every problem.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"

const started = performance.now()
const root = process.cwd()
const outDir = join(root, ".docgen")
const categories = new Set([
  "constructors",
  "models",
  "services",
  "layers",
  "errors",
  "error handling",
  "guards",
  "combinators"
])

// =============================================================================
// Sources
// =============================================================================

const workspaceDirs = ["packages", "examples"].flatMap((dir) =>
  existsSync(dir)
    ? readdirSync(dir).map((name) => join(dir, name)).filter((path) => existsSync(join(path, "package.json")))
    : []
)

const sourceFiles = () => {
  const files = []
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) {
        if (name !== "internal" && name !== "node_modules") walk(path)
      } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
        const text = readFileSync(path, "utf8")
        if (name === "index.ts" && text.startsWith("// This file is generated")) continue
        files.push({ path, text })
      }
    }
  }
  for (const dir of workspaceDirs) if (existsSync(join(dir, "src"))) walk(join(dir, "src"))
  return files
}

// =============================================================================
// Parsing
// =============================================================================

const lineAt = (text, index) => {
  let line = 1
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++
  return line
}

/** Every `/** … *\/` comment that opens a line, with its start and end offsets. */
const jsdocComments = (text) =>
  Array.from(text.matchAll(/^[ \t]*(\/\*\*(?!\/)[\s\S]*?\*\/)/gm), (match) => {
    const start = match.index + match[0].length - match[1].length
    return { start, end: start + match[1].length }
  })

/** The comment's lines without the leading ` * ` (exactly one space after the star is removed). */
const commentLines = (text, comment) =>
  text.slice(comment.start + 3, comment.end - 2).split("\n").map((line) => line.replace(/^\s*\* ?/, "").trimEnd())

const exportPattern =
  /^export\s+(?:declare\s+)?(?:abstract\s+)?(const|let|var|function\*?|class|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm

/** Top-level exported declarations, each with the JSDoc comment right before it, if any. */
const exportsOf = (text, comments) => {
  const found = []
  for (const match of text.matchAll(exportPattern)) {
    const at = match.index
    const before = comments.filter((comment) => comment.end <= at).at(-1)
    // Only whitespace and line comments (`// oxlint-disable-next-line …`) may separate the two.
    const gap = before === undefined ? "" : text.slice(before.end, at).replace(/\/\/[^\n]*/g, "")
    const doc = before !== undefined && gap.trim() === "" ? before : undefined
    found.push({ name: match[2], kind: match[1], index: at, line: lineAt(text, at), doc })
  }
  return found
}

/** The ```ts blocks of a comment, with the offset (in comment lines) of each block's first line. */
const tsBlocks = (lines) => {
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```(ts|typescript)\s*$/.test(lines[i])) continue
    const indent = /^\s*/.exec(lines[i])[0].length
    const body = []
    let j = i + 1
    while (j < lines.length && lines[j].trim() !== "```") {
      body.push(lines[j].slice(indent))
      j++
    }
    blocks.push({ firstLine: i + 1, body })
    i = j
  }
  return blocks
}

// =============================================================================
// Checks and generation
// =============================================================================

const problems = []
const generated = []
const usedNames = new Map()
let documented = 0

const fileKey = (path) => {
  const [area, pkg, ...rest] = relative(root, path).split(/[\\/]/)
  const inner = rest[0] === "src" ? rest.slice(1) : rest
  return [area === "examples" ? `example-${pkg}` : pkg, ...inner].join(".").replace(/\.ts$/, "")
}

// Unique without regard to case (`InvalidConfig` and `invalidConfig` live side by side).
const outName = (base) => {
  const key = base.toLowerCase()
  const count = (usedNames.get(key) ?? 0) + 1
  usedNames.set(key, count)
  return count === 1 ? `${base}.ts` : `${base}-${count}.ts`
}

const relativeImport = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*)\2/g

for (const { path, text } of sourceFiles()) {
  const source = relative(root, path)
  const comments = jsdocComments(text)
  const declarations = exportsOf(text, comments)
  for (const declaration of declarations) {
    const where = `${source}:${declaration.line}: ${declaration.name}`
    if (declaration.doc === undefined) {
      problems.push(`${where}: no JSDoc`)
      continue
    }
    const lines = commentLines(text, declaration.doc)
    const tags = lines.filter((line) => /^\s*@category\b/.test(line)).map((line) =>
      line.replace(/^\s*@category\s*/, "").trim()
    )
    const issues = []
    const exampleAt = lines.findIndex((line) => /^\s*\*\*Example\*\*/.test(line))
    if (exampleAt < 0) issues.push("no **Example** block")
    else if (!tsBlocks(lines.slice(exampleAt)).length) issues.push("its **Example** has no ```ts block")
    if (tags.length === 0) issues.push("no @category")
    else if (tags.length > 1) issues.push(`${tags.length} @category tags (${tags.join(", ")})`)
    else if (!categories.has(tags[0])) {
      issues.push(`@category ${JSON.stringify(tags[0])} is not one of: ${[...categories].join(", ")}`)
    }
    if (!lines.some((line) => /^\s*@since\s+\S/.test(line))) issues.push("no @since")
    if (issues.length > 0) problems.push(`${where}: ${issues.join("; ")}`)
    else documented++
  }
  for (const comment of comments) {
    const lines = commentLines(text, comment)
    const blocks = tsBlocks(lines)
    if (blocks.length === 0) continue
    // The export a comment documents, or the one it sits inside (member docs), or the module.
    const owner = declarations.find((declaration) => declaration.doc === comment)
    const enclosing = declarations.filter((declaration) => declaration.index < comment.start).at(-1)
    const member = /^\s*(?:readonly\s+)?([A-Za-z_$][\w$]*)/.exec(text.slice(comment.end).trimStart())?.[1]
    const exportName = owner?.name ?? (enclosing === undefined ? "module" : `${enclosing.name}-${member ?? "member"}`)
    const commentLine = lineAt(text, comment.start)
    for (const block of blocks) {
      const name = outName(`${fileKey(path)}.${exportName}`)
      const code = block.body.join("\n").replace(relativeImport, (_, head, quote, specifier) => {
        const target = relative(outDir, resolve(dirname(path), specifier)).split("\\").join("/")
        return `${head}${quote}${target.startsWith(".") ? target : `./${target}`}${quote}`
      })
      generated.push({ name, code, source, exportName, firstLine: commentLine + block.firstLine })
    }
  }
}

// =============================================================================
// Type-checking
// =============================================================================

/** `paths` for every workspace package's public exports (the `source` condition); internals fail to resolve. */
const pathsOf = () => {
  const paths = {}
  const toDocgen = (dir, target) => relative(outDir, join(root, dir, target)).split("\\").join("/")
  for (const dir of workspaceDirs) {
    const manifest = join(dir, "package.json")
    if (!existsSync(manifest)) continue
    const { name, exports } = JSON.parse(readFileSync(manifest, "utf8"))
    if (name === undefined || exports === undefined) continue
    const entries = typeof exports === "string" || "source" in exports || "default" in exports
      ? [[".", exports]]
      : Object.entries(exports)
    for (const [key, value] of entries) {
      if (key === "./package.json") continue
      const specifier = key === "." ? name : `${name}/${key.slice(2)}`
      const target = value === null
        ? undefined
        : typeof value === "string"
        ? value
        : (value.source ?? value.types ?? value.default)
      paths[specifier] = [target === undefined ? "./internal-module-not-exported" : toDocgen(dir, target)]
    }
  }
  return paths
}

rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })
const header = (entry) =>
  `// Generated by scripts/docgen.mjs from ${entry.source}:${entry.firstLine} (${entry.exportName}); do not edit.\n`
for (const entry of generated) writeFileSync(join(outDir, entry.name), header(entry) + entry.code + "\n")
writeFileSync(
  join(outDir, "tsconfig.json"),
  JSON.stringify(
    {
      extends: "../tsconfig.base.json",
      compilerOptions: {
        noEmit: true,
        noUnusedLocals: false,
        declaration: false,
        sourceMap: false,
        // Each block is a module, even one without imports: no clashes between blocks.
        moduleDetection: "force",
        paths: pathsOf()
      },
      include: ["*.ts"]
    },
    null,
    2
  ) + "\n"
)

let checked = 0
if (generated.length > 0) {
  const tsc = spawnSync(
    process.execPath,
    [join(root, "node_modules/typescript/bin/tsc"), "-p", join(outDir, "tsconfig.json"), "--pretty", "false"],
    { cwd: root, encoding: "utf8" }
  )
  const byName = new Map(generated.map((entry) => [entry.name, entry]))
  const output = `${tsc.stdout ?? ""}${tsc.stderr ?? ""}`.trim()
  const failing = new Set()
  for (const line of output.split("\n")) {
    if (line.trim() === "") continue
    if (/^\s/.test(line) && problems.length > 0) {
      problems[problems.length - 1] += `\n${line}`
      continue
    }
    const match = /^(?:\.docgen[\\/])?([^\\/(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
    const entry = match === null ? undefined : byName.get(match[1])
    if (entry === undefined) {
      problems.push(`tsc: ${line}`)
      continue
    }
    failing.add(entry.name)
    // Line 1 of a generated file is its header; line 2 is the block's first line.
    const sourceLine = entry.firstLine + Number(match[2]) - 2
    problems.push(
      `${entry.source}:${sourceLine}: ${entry.exportName}: example does not type-check (.docgen/${entry.name}:${
        match[2]
      }:${match[3]}): ${match[4]}`
    )
  }
  if (tsc.status !== 0 && failing.size === 0 && output === "") problems.push(`tsc exited with ${tsc.status}`)
  checked = generated.length - failing.size
}

const seconds = ((performance.now() - started) / 1000).toFixed(1)
if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  console.error(`docgen: ${problems.length} problem(s); ${checked} of ${generated.length} examples type-checked`)
  process.exit(1)
}
console.log(`docgen: ${generated.length} examples type-checked, ${documented} exports documented (${seconds}s)`)
