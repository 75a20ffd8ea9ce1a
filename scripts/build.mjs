// Compiles the publishable packages to dist/ in dependency order with the
// workspace's TypeScript (no nested pnpm, so it runs anywhere node does).
// `node scripts/build.mjs [--only-stale]`: with --only-stale, skips when every
// dist is newer than its sources.
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

export const projects = [
  "packages/core",
  "packages/redis",
  "examples/support-agent",
  "examples/research-agent",
  "examples/runaway-agent",
  "packages/cli"
]

const newest = (dir) => {
  let latest = 0
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const stat = statSync(path)
    latest = Math.max(latest, stat.isDirectory() ? newest(path) : stat.mtimeMs)
  }
  return latest
}

const oldestOutput = (project) => {
  const dist = join(project, "dist")
  if (!existsSync(dist)) return 0
  let oldest = Number.POSITIVE_INFINITY
  const visit = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      const stat = statSync(path)
      if (stat.isDirectory()) visit(path)
      else if (path.endsWith(".js")) oldest = Math.min(oldest, stat.mtimeMs)
    }
  }
  visit(dist)
  return oldest === Number.POSITIVE_INFINITY ? 0 : oldest
}

export const isStale = () =>
  projects.some((project) => existsSync(join(project, "src")) && newest(join(project, "src")) > oldestOutput(project))

const main = () => {
  if (process.argv.includes("--only-stale") && !isStale()) return 0
  const tsc = join("node_modules", "typescript", "bin", "tsc")
  for (const project of projects) {
    if (!existsSync(join(project, "tsconfig.build.json"))) continue
    const result = spawnSync(process.execPath, [tsc, "-p", join(project, "tsconfig.build.json")], {
      stdio: ["ignore", process.stderr, process.stderr]
    })
    if (result.status !== 0) {
      console.error(`build failed in ${project}`)
      return result.status ?? 1
    }
  }
  return 0
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main())
