/**
 * Resolves the `<agent>` of `timebox run`: the name of a bundled example, or
 * a path to a module that exports an agent (`export default` or
 * `export const agent`), loaded with `import()` from the current directory.
 *
 * @since 0.1.0
 */
import { Agent } from "@timebox/core"
import { Effect, FileSystem, Path } from "effect"
import { UsageError } from "./errors.ts"
import * as Examples from "./examples.ts"

const modulePattern = /\.[cm]?[jt]s$/i

const typeScriptPattern = /\.[cm]?ts$/i

/**
 * Whether `spec` names a file rather than a bundled example: it has a path
 * separator, starts with a dot, or ends in a module extension.
 *
 * **Example** (Example names and paths)
 *
 * ```ts
 * import { isPath } from "./load.ts"
 *
 * isPath("support-agent") // false: a bundled example
 * isPath("./my-agent.mjs") // true
 * isPath("agent.ts") // true: a module extension
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isPath = (spec: string): boolean =>
  spec.includes("/") || spec.includes("\\") || spec.startsWith(".") || modulePattern.test(spec)

/**
 * Whether this Node can import `.ts` modules: type stripping is on by default
 * from Node 22.18 and 23.6 (`process.features.typescript` is then `"strip"`).
 *
 * **Example** (Which agent files to offer)
 *
 * ```ts
 * import { canImportTypeScript } from "./load.ts"
 *
 * const accepted = canImportTypeScript() ? [".ts", ".mts", ".js", ".mjs"] : [".js", ".mjs"]
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const canImportTypeScript = (): boolean => {
  const features: { readonly typescript?: unknown } = process.features
  return typeof features.typescript === "string"
}

const firstLine = (cause: unknown): string => {
  const text = cause instanceof Error ? cause.message : String(cause)
  return text.split("\n")[0]?.trim() ?? text
}

/**
 * An agent the CLI can run: any input (decoded from `--input` text), any
 * output, and no required services.
 *
 * **Example** (Decoding the input text, then running)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import type { Runnable } from "./load.ts"
 *
 * const runText = (agent: Runnable, text: string) =>
 *   Effect.flatMap(Agent.decodeInput(agent, text), (input) => Agent.run(agent, input))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Runnable = Agent.Agent<any, unknown, never>

const pick = (module: Record<string, unknown>): Runnable | undefined => {
  const fallback = module.default
  const candidates = [
    fallback,
    module.agent,
    typeof fallback === "object" && fallback !== null ? (fallback as Record<string, unknown>).agent : undefined
  ]
  return candidates.find(Agent.isAgent) as Runnable | undefined
}

/**
 * Imports the agent exported by the module at `spec` (resolved against the
 * current directory). Fails with a `UsageError` naming the problem: no such
 * file, a `.ts` module on a Node that cannot strip types, an import that
 * throws, or a module without an agent export.
 *
 * **Gotchas**
 *
 * The module is imported into the CLI's own process: its top-level code runs,
 * and `import()` caches it, so loading a path twice gives the same agent.
 *
 * **Example** (Loading a user's agent module)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { fromPath } from "./load.ts"
 *
 * const agent = fromPath("./agents/echo.mjs").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromPath = Effect.fn("load.fromPath")(function*(spec: string) {
  const path = yield* Path.Path
  const fs = yield* FileSystem.FileSystem
  const absolute = path.resolve(spec)
  const exists = yield* fs.exists(absolute).pipe(Effect.orElseSucceed(() => false))
  if (!exists) {
    return yield* new UsageError({ message: `cannot load agent ${JSON.stringify(spec)}: no such file (${absolute})` })
  }
  if (typeScriptPattern.test(absolute) && !canImportTypeScript()) {
    return yield* new UsageError({
      message: `cannot load agent ${JSON.stringify(spec)}: Node ${process.version} cannot import TypeScript ` +
        `(type stripping needs Node >= 22.18 or >= 23.6); compile it to .js or .mjs`
    })
  }
  const url = yield* path.toFileUrl(absolute).pipe(
    Effect.mapError((error) =>
      new UsageError({ message: `cannot load agent ${JSON.stringify(spec)}: ${error.message}` })
    )
  )
  const module = yield* Effect.tryPromise({
    try: (): Promise<Record<string, unknown>> => import(url.href),
    catch: (cause) => new UsageError({ message: `cannot load agent ${JSON.stringify(spec)}: ${firstLine(cause)}` })
  })
  const agent = pick(module)
  if (agent === undefined) {
    return yield* new UsageError({
      message: `${JSON.stringify(spec)} exports no agent (expected a default or \`agent\` export made with Agent.make)`
    })
  }
  return agent
})

/**
 * Resolves `spec` to an agent: a bundled example by name, else a module path.
 * Anything else fails with a `UsageError` listing the bundled examples.
 *
 * **Example** (An example name or a path, then a run)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import { resolve } from "./load.ts"
 *
 * const program = resolve("support-agent").pipe(
 *   Effect.flatMap((agent) => Agent.run(agent, "Where is my order?")),
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = Effect.fn("load.resolve")(function*(spec: string) {
  const example = Examples.find(spec)
  if (example !== undefined) return example.agent as Runnable
  if (isPath(spec)) return yield* fromPath(spec)
  const names = Examples.examples.map((entry) => entry.name).join(", ")
  return yield* new UsageError({
    message: `unknown agent ${JSON.stringify(spec)}: not a bundled example (${names}) ` +
      `nor a path to a module (try timebox list, or ./my-agent.mjs)`
  })
})
