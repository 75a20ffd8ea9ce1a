// Fails on circular imports between source modules, and on a package importing
// against the dependency direction (cli → examples → core; cli → core; redis → core and its client; core → effect only).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"

const allowed = {
  "packages/core": ["effect"],
  "packages/redis": ["effect", "@timebox/core", "@effect/platform-node", "redis"],
  "packages/server": ["effect", "@timebox/core", "@effect/platform-node"],
  "packages/cli": [
    "effect",
    "@effect/platform-node",
    "@timebox/core",
    "@timebox/server",
    "@timebox/redis",
    "@timebox/example-"
  ],
  examples: ["effect", "@timebox/core"],
  bench: ["effect", "@timebox/core", "@timebox/redis", "@effect/platform-node"]
}

const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (name === "node_modules" || name === "dist") continue
    if (statSync(path).isDirectory()) walk(path)
    else if (path.endsWith(".ts")) files.push(resolve(path))
  }
}
for (const root of ["packages", "examples", "bench"]) {
  if (!existsSync(root)) continue
  for (const name of readdirSync(root)) {
    const src = join(root, name, "src")
    if (existsSync(src)) walk(src)
  }
  if (root === "bench" && existsSync("bench/src")) walk("bench/src")
}

const importPattern = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']/g
const graph = new Map()
const problems = []
for (const file of files) {
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "")
  const rel = relative(process.cwd(), file)
  const owner = Object.keys(allowed).find((prefix) => rel.startsWith(prefix + "/"))
  const edges = []
  for (const match of text.matchAll(importPattern)) {
    const specifier = match[1]
    if (specifier.startsWith(".")) {
      edges.push(resolve(dirname(file), specifier))
    } else if (!specifier.startsWith("node:") && owner !== undefined) {
      const ok = allowed[owner].some((prefix) => specifier === prefix || specifier.startsWith(prefix))
      if (!ok) problems.push(`${rel}: imports ${specifier}, against the dependency direction`)
    }
  }
  graph.set(file, edges)
}

const state = new Map()
const stack = []
const visit = (file) => {
  state.set(file, "open")
  stack.push(file)
  for (const next of graph.get(file) ?? []) {
    if (!graph.has(next)) continue
    if (state.get(next) === "open") {
      const cycle = stack.slice(stack.indexOf(next)).concat(next).map((f) => relative(process.cwd(), f))
      problems.push(`circular import: ${cycle.join(" → ")}`)
    } else if (!state.has(next)) visit(next)
  }
  stack.pop()
  state.set(file, "done")
}
for (const file of graph.keys()) if (!state.has(file)) visit(file)

if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  process.exit(1)
}
console.log(`no circular imports, dependencies one way (${graph.size} modules)`)
