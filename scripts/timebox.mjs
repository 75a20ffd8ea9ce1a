// `pnpm timebox …`: builds the workspace when a source file is newer than its build
// (build output goes to stderr, so `--json` keeps stdout clean), then runs the CLI.
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const newest = (dir) => {
  let latest = 0
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const stat = statSync(path)
    latest = Math.max(latest, stat.isDirectory() ? newest(path) : stat.mtimeMs)
  }
  return latest
}

const bin = "packages/cli/dist/bin.js"
const sources = ["packages/core/src", "examples/support-agent/src", "packages/cli/src"].filter(existsSync)
const stale = !existsSync(bin) || sources.some((dir) => newest(dir) > statSync(bin).mtimeMs)
if (stale) {
  const build = spawnSync("pnpm", ["-s", "build"], { stdio: ["ignore", 2, 2] })
  if (build.status !== 0) process.exit(build.status ?? 1)
}
const run = spawnSync(process.execPath, [bin, ...process.argv.slice(2)], { stdio: "inherit" })
if (run.signal !== null) process.kill(process.pid, run.signal)
process.exit(run.status ?? 1)
