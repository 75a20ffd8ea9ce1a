// `pnpm timebox …`: builds the workspace when a source is newer than its build
// (compiler output goes to stderr, so `--json` keeps stdout clean), then runs the CLI.
import { spawnSync } from "node:child_process"

const build = spawnSync(process.execPath, ["scripts/build.mjs", "--only-stale"], { stdio: ["ignore", 2, 2] })
if (build.status !== 0) process.exit(build.status ?? 1)
const run = spawnSync(process.execPath, ["packages/cli/dist/bin.js", ...process.argv.slice(2)], { stdio: "inherit" })
if (run.signal !== null) process.kill(process.pid, run.signal)
process.exit(run.status ?? 1)
