// The CLI tests run the real binary, `packages/cli/dist/bin.js`: build the
// workspace first, unless this is the root `pnpm test`, which has just built it.
// The root `build` script runs through a shell with `node_modules/.bin` on the
// PATH, as `pnpm build` would, without pnpm itself (which may want the network).
import { execSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"

export default function setup(): void {
  if (process.env.npm_lifecycle_event === "test" && process.env.npm_lifecycle_script?.includes("pnpm build")) return
  const root = fileURLToPath(new URL("../../..", import.meta.url))
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    readonly scripts: { readonly build: string }
  }
  execSync(manifest.scripts.build, {
    cwd: root,
    env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}` },
    stdio: ["ignore", "inherit", "inherit"]
  })
}
