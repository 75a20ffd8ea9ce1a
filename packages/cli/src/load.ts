/**
 * Resolves the `<agent>` and `--profile` of `timebox run`: the name of a
 * bundled example, or a path to a module that exports an agent
 * (`export default` or `export const agent`) and optionally its profiles
 * (`export const agents = { full, fast }`), loaded with `import()` from the
 * current directory.
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

/**
 * What a module or a bundled example offers: the agent run without
 * `--profile`, and its profiles by name (empty when it has none).
 *
 * **Example** (A module with two profiles)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Pipeline, Stage } from "@timebox/core"
 * import type { Offer } from "./load.ts"
 *
 * const make = (name: string, budget: "1 second" | "3 seconds") =>
 *   Agent.make({
 *     name,
 *     budget,
 *     pipeline: Pipeline.make<string>().add(Stage.required("answer", ({ input }) => Effect.succeed(input)))
 *   })
 * const quick = make("quick", "1 second")
 * const offer: Offer = { agent: quick, profiles: { quick, careful: make("careful", "3 seconds") } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Offer {
  readonly agent: Runnable
  readonly profiles: Readonly<Record<string, Runnable>>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

// An `agents` export counts as profiles when it is a non-empty record of agents.
const profilesOf = (u: unknown): Record<string, Runnable> | undefined => {
  if (!isRecord(u) || Agent.isAgent(u)) return undefined
  const entries = Object.entries(u)
  return entries.length > 0 && entries.every(([, value]) => Agent.isAgent(value))
    ? (u as Record<string, Runnable>)
    : undefined
}

const pick = (module: Record<string, unknown>): Offer | undefined => {
  const fallback = module.default
  const nested = isRecord(fallback) ? fallback : {}
  const profiles = profilesOf(module.agents) ?? profilesOf(nested.agents) ?? {}
  const agent = [fallback, module.agent, nested.agent, Object.values(profiles)[0]].find(Agent.isAgent) as
    | Runnable
    | undefined
  return agent === undefined ? undefined : { agent, profiles }
}

/**
 * Imports the agent exported by the module at `spec` (resolved against the
 * current directory), with its profiles: an `agents` export (or
 * `default.agents`) that is a record of agents. Without a default or `agent`
 * export, the first profile is the agent. Fails with a `UsageError` naming the
 * problem: no such file, a `.ts` module on a Node that cannot strip types, an
 * import that throws, or a module without an agent export.
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
 * const offer = fromPath("./agents/echo.mjs").pipe(Effect.provide(NodeServices.layer))
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
  const offer = pick(module)
  if (offer === undefined) {
    return yield* new UsageError({
      message: `${JSON.stringify(spec)} exports no agent ` +
        `(expected a default or \`agent\` export made with Agent.make, or an \`agents\` record of them)`
    })
  }
  return offer
})

/**
 * The agent `timebox run` runs: the one picked, the name of its profile (the
 * one asked for, or the default agent's when it is one of the profiles), and
 * the input to use without `--input`.
 *
 * **Example** (Describing a resolved agent)
 *
 * ```ts
 * import type { Resolved } from "./load.ts"
 *
 * const label = (resolved: Resolved): string =>
 *   resolved.profile === undefined ? resolved.agent.name : `${resolved.agent.name} (${resolved.profile})`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Resolved {
  readonly agent: Runnable
  readonly profile: string | undefined
  readonly input: string | undefined
}

/**
 * Picks `profile` among an agent's profiles, or its default agent when
 * `profile` is undefined. Fails with a `UsageError` naming the choices when
 * the profile does not exist, or saying the agent has none.
 *
 * **Example** (Choosing the fast profile)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 * import { chooseProfile } from "./load.ts"
 *
 * const fast = chooseProfile("research-agent", { agent: ResearchAgent.agent, profiles: ResearchAgent.agents }, "fast-tools")
 * // fails for "fastest": unknown --profile "fastest" for research-agent (choices: full, fast-tools, fast-small-toolset)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const chooseProfile = (
  spec: string,
  offer: Offer,
  profile: string | undefined
): Effect.Effect<Runnable, UsageError> => {
  if (profile === undefined) return Effect.succeed(offer.agent)
  const names = Object.keys(offer.profiles)
  if (names.length === 0) {
    return Effect.fail(
      new UsageError({
        message: `${spec} has no profiles: --profile is for agents that export several (an \`agents\` record)`
      })
    )
  }
  const chosen = Object.hasOwn(offer.profiles, profile) ? offer.profiles[profile] : undefined
  return chosen === undefined
    ? Effect.fail(
      new UsageError({
        message: `unknown --profile ${JSON.stringify(profile)} for ${spec} (choices: ${names.join(", ")})`
      })
    )
    : Effect.succeed(chosen)
}

/**
 * Resolves `spec` to an agent: a bundled example by name, else a module path;
 * then `profile` among its profiles. Anything else fails with a `UsageError`
 * listing the bundled examples, or the profiles.
 *
 * **Example** (An example name or a path, then a run)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import { resolve } from "./load.ts"
 *
 * const program = resolve("research-agent", "fast-tools").pipe(
 *   Effect.flatMap((resolved) => Agent.run(resolved.agent, resolved.input ?? "Why is the sky blue?")),
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = Effect.fn("load.resolve")(function*(spec: string, profile?: string | undefined) {
  const example = Examples.find(spec)
  const offer: Offer | undefined = example !== undefined
    ? { agent: example.agent as Runnable, profiles: (example.profiles ?? {}) as Offer["profiles"] }
    : isPath(spec)
    ? yield* fromPath(spec)
    : undefined
  if (offer !== undefined) {
    const agent = yield* chooseProfile(spec, offer, profile)
    const name = profile ?? Object.keys(offer.profiles).find((key) => offer.profiles[key] === agent)
    return { agent, profile: name, input: example?.input } satisfies Resolved
  }
  const names = Examples.examples.map((entry) => entry.name).join(", ")
  return yield* new UsageError({
    message: `unknown agent ${JSON.stringify(spec)}: not a bundled example (${names}) ` +
      `nor a path to a module (try timebox list, or ./my-agent.mjs)`
  })
})
