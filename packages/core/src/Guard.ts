/**
 * The model guard: every model call an inference makes asks the cost ledger
 * first. Before the call it reserves the worst case (the prompt's input
 * tokens plus the model's most output tokens, priced); after the call it
 * commits the real usage, priced; when the call fails or is interrupted it
 * releases the reservation. A denied reservation stops the call before it is
 * made: the inference fails with the `LedgerError`, and the run's report lists
 * every ledger decision.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema, SchemaIssue } from "effect"
import type { Prompt } from "effect/ai"
import { dual } from "effect/Function"
import * as Budget from "./Budget.ts"
import type * as Cost from "./Cost.ts"
import * as Ledger from "./Ledger.ts"
import * as ModelProfile from "./ModelProfile.ts"
import * as TimeboxError from "./TimeboxError.ts"

// =============================================================================
// Models
// =============================================================================

/**
 * The units the guard prices calls in: `USD_MICROCENTS` (10^8 per dollar,
 * from the model's nano-USD prices) or `TOKENS` (input plus output tokens).
 *
 * **Example** (Metering tokens instead of money)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Guard } from "@timebox/core"
 *
 * const unit = Schema.decodeUnknownSync(Guard.GuardUnit)("TOKENS") // "TOKENS"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const GuardUnit = Schema.Literals(["USD_MICROCENTS", "TOKENS"])

/**
 * The units the guard prices calls in, as a type.
 *
 * **Example** (A label for a unit)
 *
 * ```ts
 * import type { Guard } from "@timebox/core"
 *
 * const label = (unit: Guard.GuardUnit) => (unit === "TOKENS" ? "tokens" : "µ¢")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type GuardUnit = typeof GuardUnit.Type

/**
 * An agent's guard configuration, as it comes from a file or the
 * environment: the ledger subject its calls are charged to (some of
 * `tenant → workspace → app → workflow → agent → toolset`), the unit, how
 * long a reservation is held, and the overage policy of its commits.
 *
 * **Details**
 *
 * - `tenant`: the caller's tenant for the ledger's tenancy check.
 *   Default: the subject's own `tenant`.
 * - `unit`: default `USD_MICROCENTS`.
 * - `ttl`: how long a reservation holds its amount before the ledger's
 *   sweeper returns it (1 s to 24 h). Default `"60 seconds"`.
 * - `overagePolicy`: what a commit above the reservation does (a model that
 *   reports more input tokens than the estimate). Default
 *   `ALLOW_IF_AVAILABLE`. The call was made, so a commit the policy refuses
 *   (`REJECT`, or an overdraft past its limit) becomes the commit of the
 *   amount held plus an event for the rest, capped at what is left.
 *
 * **Example** (The support agent's subject)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Guard } from "@timebox/core"
 *
 * const config = Schema.decodeUnknownSync(Guard.Config)({
 *   subject: { tenant: "acme", app: "support", agent: "support-agent" },
 *   ttl: "30s"
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  subject: Ledger.Subject,
  tenant: Schema.optionalKey(Schema.String),
  unit: Schema.optionalKey(GuardUnit),
  ttl: Schema.optionalKey(Budget.DurationField),
  overagePolicy: Schema.optionalKey(Ledger.OveragePolicy)
})

/**
 * An agent's guard configuration, as a type.
 *
 * **Example** (Configuration in code)
 *
 * ```ts
 * import type { Guard } from "@timebox/core"
 *
 * const config: Guard.Config = { subject: { tenant: "acme", app: "support", agent: "support-agent" } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Config = typeof Config.Type

/**
 * A resolved guard: the configuration with its defaults applied and the
 * ledger it asks.
 *
 * **Example** (Reading the guard in effect)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Guard } from "@timebox/core"
 *
 * const subjectInEffect = Effect.map(Guard.ModelGuard, (guard) => guard?.subject)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Guard {
  readonly ledger: Ledger.Service
  readonly tenant: string
  readonly subject: Ledger.Subject
  readonly unit: GuardUnit
  readonly ttlMs: number
  readonly overagePolicy: Ledger.OveragePolicy
}

/**
 * The worst case of one model call, and its price.
 *
 * **Example** (What a call may cost at most)
 *
 * ```ts
 * import type { Guard } from "@timebox/core"
 *
 * const describe = (worst: Guard.WorstCase) =>
 *   `${worst.inputTokens} in + ${worst.outputTokens} out: at most ${worst.amount}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface WorstCase {
  readonly inputTokens: number
  readonly outputTokens: number
  /** The price of the tokens above, in the guard's unit (rounded up). */
  readonly amount: bigint
}

// =============================================================================
// Services
// =============================================================================

/**
 * The guard the model calls of `Inference.run` consult; none by default
 * (calls are not metered).
 *
 * **When to use**
 *
 * Provide it with `Guard.layer` or `Guard.withGuard` around a run (or a
 * stage) whose model calls must stay within a ledger budget.
 *
 * **Gotchas**
 *
 * Only calls made through `Inference.run` are guarded; a `LanguageModel`
 * called directly is not.
 *
 * **Example** (Is this run guarded?)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Guard } from "@timebox/core"
 *
 * const guarded = Effect.map(Guard.ModelGuard, (guard) => guard !== undefined)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const ModelGuard = Context.Reference<Guard | undefined>("@timebox/core/Guard/ModelGuard", {
  defaultValue: () => undefined
})

// =============================================================================
// Constructors
// =============================================================================

const method = "Guard.make"

const decodeUnknown = Schema.decodeUnknownEffect(Config)
const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Decodes a configuration; a failure names the first bad field (`ttl`, `subject.app`) and its value. */
const decodeConfig = (input: unknown): Effect.Effect<Config, TimeboxError.TimeboxError> =>
  Effect.mapError(decodeUnknown(input), (error) => {
    const issue = formatter(error.issue).issues[0]
    const path = (issue?.path ?? []).map((segment: unknown) =>
      typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
    ) as Array<PropertyKey>
    let value: unknown = input
    for (const key of path) {
      value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined
    }
    return TimeboxError.invalidConfig(
      method,
      path.length === 0 ? "config" : path.map(String).join("."),
      value,
      issue?.message ?? error.message
    )
  })

/**
 * Resolves a guard configuration against the ambient `Ledger`: decodes it
 * with `Guard.Config` and applies the defaults.
 *
 * **Details**
 *
 * Bad configuration (no subject level, a subject of another tenant, a bad
 * `ttl`) fails with a `TimeboxError` whose `InvalidConfig` reason names the
 * field.
 *
 * **Example** (A guard on the in-memory ledger)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Guard, Ledger } from "@timebox/core"
 *
 * const guard = Guard.make({ subject: { tenant: "acme", agent: "support-agent" } }).pipe(
 *   Effect.provide(Ledger.layerMemory)
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: Config): Effect.Effect<Guard, TimeboxError.TimeboxError, Ledger.Ledger> =>
  Effect.gen(function*() {
    const decoded = yield* decodeConfig(config)
    const tenant = decoded.tenant ?? decoded.subject.tenant
    if (tenant === undefined) {
      return yield* TimeboxError.invalidConfig(
        method,
        "tenant",
        undefined,
        "name the subject's tenant, or the caller's tenant"
      )
    }
    if (decoded.subject.tenant !== undefined && decoded.subject.tenant !== tenant) {
      return yield* TimeboxError.invalidConfig(
        method,
        "subject.tenant",
        decoded.subject.tenant,
        `the subject belongs to another tenant than ${tenant}`
      )
    }
    let ttlMs = 60_000
    if (decoded.ttl !== undefined) {
      const total = Budget.parseTotal(method, "ttl", decoded.ttl)
      if (typeof total !== "number") return yield* total
      if (total < 1_000 || total > 86_400_000) {
        return yield* TimeboxError.invalidConfig(method, "ttl", decoded.ttl, "must be between 1 second and 24 hours")
      }
      ttlMs = Math.ceil(total)
    }
    return {
      ledger: yield* Ledger.Ledger,
      tenant,
      subject: decoded.subject,
      unit: decoded.unit ?? "USD_MICROCENTS",
      ttlMs,
      overagePolicy: decoded.overagePolicy ?? "ALLOW_IF_AVAILABLE"
    } satisfies Guard
  })

// =============================================================================
// Pricing
// =============================================================================

/**
 * The number of characters of a prompt the guard counts: text, reasoning,
 * tool-call parameters and tool results (as JSON).
 */
const promptCharacters = (prompt: Prompt.Prompt): number => {
  let characters = 0
  for (const message of prompt.content) {
    if (typeof message.content === "string") {
      characters += message.content.length
      continue
    }
    for (const part of message.content as ReadonlyArray<Prompt.Part>) {
      if (part.type === "text" || part.type === "reasoning") characters += part.text.length
      else if (part.type === "tool-call") characters += JSON.stringify(part.params ?? null).length
      else if (part.type === "tool-result") characters += JSON.stringify(part.result ?? null).length
    }
  }
  return characters
}

/**
 * The input tokens of a prompt, estimated as its characters / 4, rounded up.
 *
 * **Gotchas**
 *
 * An estimate: a provider's tokenizer may count more. The commit charges
 * what the provider reports, under the guard's overage policy.
 *
 * **Example** (A 43-character question)
 *
 * ```ts
 * import { Prompt } from "effect/ai"
 * import { Guard } from "@timebox/core"
 *
 * Guard.inputTokens(Prompt.make("Where is my order A-1? It has not come yet.")) // 11
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const inputTokens = (prompt: Prompt.Prompt): number => Math.ceil(promptCharacters(prompt) / 4)

/**
 * Prices token usage in a guard unit: `USD_MICROCENTS` from the model's
 * integer nano-USD prices (1 microcent = 10 nano-USD, rounded up), or
 * `TOKENS` (input + output + reasoning).
 *
 * **Example** (100 output tokens at 100,000 nano-USD each is $0.01)
 *
 * ```ts
 * import { Guard } from "@timebox/core"
 *
 * const price = { inputNanoUsdPerToken: 0, outputNanoUsdPerToken: 100_000 }
 * Guard.price({ inputTokens: 12, outputTokens: 100, reasoningTokens: 0 }, price, "USD_MICROCENTS") // 1_000_000n
 * Guard.price({ inputTokens: 12, outputTokens: 100, reasoningTokens: 0 }, price, "TOKENS") // 112n
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const price = (usage: Cost.Usage, prices: Cost.Price, unit: GuardUnit): bigint => {
  if (unit === "TOKENS") return BigInt(usage.inputTokens + usage.outputTokens + usage.reasoningTokens)
  const nano = BigInt(usage.inputTokens) * BigInt(prices.inputNanoUsdPerToken) +
    BigInt(usage.outputTokens + usage.reasoningTokens) * BigInt(prices.outputNanoUsdPerToken)
  return (nano + 9n) / 10n
}

/**
 * The worst case of one call of `profile` on `prompt`: the prompt's input
 * tokens plus the model's most output tokens (`maxOutputTokens`, plus its
 * hidden reasoning tokens), priced in `unit`.
 *
 * **Example** (The reservation before a call)
 *
 * ```ts
 * import { Prompt } from "effect/ai"
 * import { Guard, ModelProfile } from "@timebox/core"
 *
 * const worst = Guard.worstCase(ModelProfile.presets.fast, Prompt.make("Where is my order?"), "USD_MICROCENTS")
 * // { inputTokens: 5, outputTokens: 1024, amount: 82295n }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const worstCase = (
  profile: ModelProfile.ModelProfile,
  prompt: Prompt.Prompt,
  unit: GuardUnit
): WorstCase => {
  const input = inputTokens(prompt)
  const output = ModelProfile.outputLimit(profile)
  return {
    inputTokens: input,
    outputTokens: output,
    amount: price({ inputTokens: input, outputTokens: output, reasoningTokens: 0 }, profile.price, unit)
  }
}

// =============================================================================
// Layers
// =============================================================================

/**
 * Guards the model calls of everything it is provided to, on the ambient
 * `Ledger`.
 *
 * **Details**
 *
 * Each call of `Inference.run` then reserves its worst case before the call
 * (`Ledger.reserve`, with an idempotency key of its own), commits the usage
 * the model reports after it, and releases the reservation when the call
 * fails or is interrupted (a stage cut at its deadline included). A denied
 * reservation, or a ledger that cannot answer (`StoreUnavailable`: the
 * guard fails closed), fails the inference with the `LedgerError` before the
 * model is called: a required inference stage fails, and the run ends
 * `failed` with the ledger's message in the stage's reason.
 *
 * What the ledger could not answer is not forgotten. A call that outlived
 * its reservation (`ttl` + the 5 s grace; the guard does not extend) is
 * charged by a ledger `event` of its real usage. A commit or release that
 * got `StoreUnavailable`, and a reserve whose answer was lost that way (the
 * store may have applied it), are kept in the process and tried again with
 * the same idempotency keys before the next guarded call of the tenant on
 * that ledger reserves: the commit charges once, the lost reserve is sent
 * again and what it holds released. Their entries then appear in that later
 * run's report, with the detail `recovered: …`; one given up after 5 tries
 * (counted only while the ledger answers other calls: an outage gives up
 * nothing), or older than the ledger's retention (`ledger.retention`), is
 * recorded `failed` with the reason `given-up`. A store call that dies is
 * recorded `failed` with the reason `defect` (a first reserve's is then
 * kept like an unanswered one).
 *
 * **Gotchas**
 *
 * A budget must exist for the subject in the guard's unit; without one,
 * every call is denied (`NotFound`). A call that failed or was interrupted
 * is released, charged nothing, even if the provider billed part of it.
 * Settlements kept for later live in this process only (up to 1,000 per
 * ledger and tenant): if it exits first, an unrecorded commit stays
 * unrecorded and a lost reservation holds until its ttl, then the sweeper
 * returns it. The guard's round trips to the ledger
 * count against the stage's window. A stage cut at its deadline does not
 * wait for its work: the release of a cut call's reservation runs as that
 * work's finalizer, so with a remote store (Redis) it can land after the
 * report was built, and its `release` entry is then missing from
 * `report.ledger` (the ledger itself has it).
 *
 * **Example** (A support agent charged to acme's budget)
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Agent, Guard, Ledger } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const GuardLive = Guard.layer({ subject: { tenant: "acme", app: "support", agent: "support-agent" } }).pipe(
 *   Layer.provideMerge(Ledger.layerMemory)
 * )
 * const program = Effect.gen(function*() {
 *   const ledger = yield* Ledger.Ledger
 *   yield* ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 100_000_000 })
 *   return yield* Agent.run(SupportAgent.agent, "Where is my order?")
 * }).pipe(Effect.provide(GuardLive))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: Config): Layer.Layer<never, TimeboxError.TimeboxError, Ledger.Ledger> =>
  Layer.effect(ModelGuard, make(config))

/**
 * Runs `self` with its model calls guarded (see `Guard.layer`).
 *
 * **Example** (One guarded run, on a budget of 10,000 tokens)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Guard, Ledger } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const program = Effect.gen(function*() {
 *   const ledger = yield* Ledger.Ledger
 *   yield* ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "TOKENS", allocated: 10_000 })
 *   return yield* Agent.run(SupportAgent.agent, "Where is my order?").pipe(
 *     Guard.withGuard({ subject: { tenant: "acme", agent: "support-agent" }, unit: "TOKENS" })
 *   )
 * }).pipe(Effect.provide(Ledger.layerMemory))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withGuard: {
  (
    config: Config
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | TimeboxError.TimeboxError, R | Ledger.Ledger>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    config: Config
  ): Effect.Effect<A, E | TimeboxError.TimeboxError, R | Ledger.Ledger>
} = dual(
  2,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    config: Config
  ): Effect.Effect<A, E | TimeboxError.TimeboxError, R | Ledger.Ledger> =>
    Effect.flatMap(make(config), (guard) => Effect.provideService(self, ModelGuard, guard))
)
