// Keeps the code in the docs equal to compiled, tested code (`node scripts/docs-check.mjs`).
//
// A fenced code block in a markdown file (docs/**, packages/*/README.md,
// examples/*/README.md, README.md) whose first line is
//
//   // file: docs/examples/<name>.ts                 the whole file
//   // file: docs/examples/<name>.ts region: <id>    the lines between `// region: <id>`
//                                                    and its `// endregion` in that file
//
// must show exactly that code after its first line. Region marker lines are
// never part of the code shown, and a region is compared without its common
// indentation. Other blocks are not checked. Exits 1 naming every mismatch.
// With `--fix`, rewrites each such block from its file instead.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"

const root = process.cwd()
const headerPattern = /^\/\/ file: (\S+)(?:\s+region: (\S+))?\s*$/
const regionPattern = /^\s*\/\/ region: (\S+)\s*$/
const endPattern = /^\s*\/\/ endregion\s*$/
const fencePattern = /^ {0,3}(`{3,}|~{3,})/

const markdownFiles = () => {
  const files = []
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith(".md")) files.push(path)
    }
  }
  if (existsSync("docs")) walk("docs")
  for (const dir of ["packages", "examples"]) {
    if (!existsSync(dir)) continue
    for (const name of readdirSync(dir)) {
      const readme = join(dir, name, "README.md")
      if (existsSync(readme)) files.push(readme)
    }
  }
  if (existsSync("README.md")) files.push("README.md")
  return files.sort()
}

/** Fenced blocks: the line number of the opening fence and the lines inside. */
const blocksOf = (text) => {
  const lines = text.split("\n")
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = fencePattern.exec(lines[i])
    if (open === null) continue
    const fence = open[1]
    const body = []
    let j = i + 1
    while (j < lines.length && !(lines[j].trim().startsWith(fence) && lines[j].trim().replace(/[`~]/g, "") === "")) {
      body.push(lines[j])
      j++
    }
    blocks.push({ line: i + 1, body })
    i = j
  }
  return blocks
}

const dedent = (lines) => {
  const indents = lines.filter((line) => line.trim() !== "").map((line) => /^ */.exec(line)[0].length)
  const cut = indents.length === 0 ? 0 : Math.min(...indents)
  return lines.map((line) => line.slice(cut))
}

const trimEnds = (lines) => {
  let start = 0
  let end = lines.length
  while (start < end && lines[start].trim() === "") start++
  while (end > start && lines[end - 1].trim() === "") end--
  return lines.slice(start, end).map((line) => line.replace(/\s+$/, ""))
}

/** The expected lines for a file (and region), or a string naming the problem. */
const expected = (file, region) => {
  if (!existsSync(file)) return `${file} does not exist`
  const lines = readFileSync(file, "utf8").split("\n")
  if (region === undefined) {
    return trimEnds(lines.filter((line) => !regionPattern.test(line) && !endPattern.test(line)))
  }
  const starts = lines.flatMap((line, index) => (regionPattern.exec(line)?.[1] === region ? [index] : []))
  if (starts.length === 0) return `${file} has no "// region: ${region}"`
  if (starts.length > 1) return `${file} has ${starts.length} regions named ${region}`
  let depth = 0
  for (let index = starts[0] + 1; index < lines.length; index++) {
    if (regionPattern.test(lines[index])) depth++
    else if (endPattern.test(lines[index])) {
      if (depth === 0) {
        const inner = lines.slice(starts[0] + 1, index).filter((line) =>
          !regionPattern.test(line) && !endPattern.test(line)
        )
        return trimEnds(dedent(inner))
      }
      depth--
    }
  }
  return `${file}: region ${region} has no "// endregion"`
}

const fix = process.argv.includes("--fix")
const problems = []
let checked = 0
let fixed = 0
const files = markdownFiles()
for (const markdown of files) {
  const text = readFileSync(markdown, "utf8")
  const lines = text.split("\n")
  // Blocks are rewritten from the last to the first, so earlier line numbers stay valid.
  const rewrites = []
  for (const block of blocksOf(text)) {
    const header = headerPattern.exec(block.body[0] ?? "")
    if (header === null) continue
    checked++
    const [, file, region] = header
    const where = `${relative(root, markdown)}:${block.line}`
    const target = region === undefined ? file : `${file} region ${region}`
    const want = expected(file, region)
    if (typeof want === "string") {
      problems.push(`${where}: ${want}`)
      continue
    }
    const got = trimEnds(block.body.slice(1))
    if (fix) {
      if (want.join("\n") !== got.join("\n")) rewrites.push({ block, want })
      continue
    }
    const length = Math.max(want.length, got.length)
    for (let i = 0; i < length; i++) {
      if (want[i] === got[i]) continue
      problems.push(
        `${where}: the block differs from ${target} at its line ${i + 2}\n` +
          `  in the file: ${want[i] === undefined ? "(end)" : JSON.stringify(want[i])}\n` +
          `  in the doc:  ${got[i] === undefined ? "(end)" : JSON.stringify(got[i])}`
      )
      break
    }
  }
  for (const { block, want } of rewrites.reverse()) {
    // block.line is the opening fence (1-based); the header is the next line.
    lines.splice(block.line + 1, block.body.length - 1, ...want)
    fixed++
  }
  if (rewrites.length > 0) writeFileSync(markdown, lines.join("\n"))
}
if (fix) console.log(`docs-check --fix: rewrote ${fixed} of ${checked} code blocks`)

if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  console.error(`docs-check: ${problems.length} of ${checked} code blocks differ from their files`)
  process.exit(1)
}
console.log(`docs-check: ${checked} code blocks match their files (${files.length} markdown files)`)
