/**
 * What a model costs in time and money, and how good it is: time to first
 * token (median and p95), tokens per second, jitter, hidden reasoning, prices
 * as integers, and a rubric accuracy. The router picks models from these; the
 * simulated model behaves by them; observed runs can update them.
 *
 * @since 0.1.0
 */
import { Context, Schema } from "effect"
import type * as Cost from "./Cost.ts"
import type { StageRecord } from "./Report.ts"

/**
 * A model's latency, price and quality profile. Times in milliseconds.
 *
 * **Example** (A custom profile)
 *
 * ```ts
 * import type { ModelProfile } from "@timebox/core"
 *
 * const small: ModelProfile.ModelProfile = {
 *   name: "small",
 *   provider: "simulated",
 *   ttftMs: 250,
 *   ttftP95Ms: 320,
 *   tokensPerSecond: 200,
 *   jitter: 0.05,
 *   reasoningMs: 0,
 *   reasoningTokens: 0,
 *   expectedOutputTokens: 60,
 *   maxOutputTokens: 256,
 *   price: { inputNanoUsdPerToken: 500, outputNanoUsdPerToken: 600 },
 *   accuracy: 3.8
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ModelProfile {
  readonly name: string
  readonly provider: string
  /** Median time to the first visible token, hidden reasoning excluded. */
  readonly ttftMs: number
  /** 95th percentile of the same. */
  readonly ttftP95Ms: number
  readonly tokensPerSecond: number
  /** Relative spread of every duration, e.g. 0.1 for ±10%. */
  readonly jitter: number
  /** Time spent on hidden reasoning before the first visible token. */
  readonly reasoningMs: number
  readonly reasoningTokens: number
  readonly expectedOutputTokens: number
  readonly maxOutputTokens: number
  readonly price: Cost.Price
  /** Rubric accuracy out of 5, for routing and the tradeoff explorer. */
  readonly accuracy: number
}

/**
 * Median latency of one call: reasoning + first token + expected output.
 *
 * **Example** (The balanced preset takes about 1.8 s)
 *
 * ```ts
 * import { ModelProfile } from "@timebox/core"
 *
 * ModelProfile.expectedMs(ModelProfile.presets.balanced) // ≈ 1804
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const expectedMs = (profile: ModelProfile): number =>
  profile.reasoningMs + profile.ttftMs + (profile.expectedOutputTokens / profile.tokensPerSecond) * 1000

/**
 * The 95th percentile latency of one call (one step of a tool loop): p95
 * first token plus the expected output at the slow end of the jitter.
 *
 * **Example** (Can one more step fit?)
 *
 * ```ts
 * import { ModelProfile } from "@timebox/core"
 *
 * const affordable = (remainingMs: number) => ModelProfile.p95Ms(ModelProfile.presets.fast) <= remainingMs
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const p95Ms = (profile: ModelProfile): number =>
  (profile.reasoningMs + (profile.expectedOutputTokens / profile.tokensPerSecond) * 1000) * (1 + profile.jitter) +
  profile.ttftP95Ms

/**
 * The most tokens the model call in progress may produce, reasoning
 * included. `Inference.run` sets it, for each call, to the answering
 * profile's `outputLimit` (the worst case a `Guard` reserves), and a provider
 * passes it on: `OpenAiCompatible` sends it as `max_tokens` (or
 * `max_completion_tokens`), so the provider stops where the reservation
 * ends. `undefined` (outside `Inference.run`) sends no limit.
 *
 * **Example** (A provider reading it)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ModelProfile } from "@timebox/core"
 *
 * const limitField = Effect.map(ModelProfile.OutputLimit, (limit) => limit === undefined ? {} : { max_tokens: limit })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const OutputLimit = Context.Reference<number | undefined>("@timebox/core/ModelProfile/OutputLimit", {
  defaultValue: () => undefined
})

/**
 * The most tokens one call of `profile` may produce: `maxOutputTokens` plus
 * `reasoningTokens`. What `Inference.run` asks the provider to stop at
 * (`OutputLimit`), and the output side of a `Guard`'s worst case.
 *
 * **Example** (The fast preset)
 *
 * ```ts
 * import { ModelProfile } from "@timebox/core"
 *
 * ModelProfile.outputLimit(ModelProfile.presets.fast) // 1024
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const outputLimit = (profile: ModelProfile): number => profile.maxOutputTokens + profile.reasoningTokens

const base = { provider: "simulated", jitter: 0.1, reasoningMs: 0, reasoningTokens: 0, maxOutputTokens: 1024 }

/**
 * Presets calibrated on a published model grid (average latency / price per
 * 1K tokens / rubric accuracy out of 5):
 *
 * - `fast`: ≈ 1,000 ms / $0.00075 in, $0.0008 out / 4.1
 * - `balanced`: ≈ 1,800 ms / $0.003 / 4.4
 * - `large`: ≈ 2,500 ms / $0.015 / 4.6
 * - `reasoning`: balanced plus a low-effort reasoning pass: +1.2 s and 300 hidden tokens / 4.7
 * - `reasoningHigh`: the same at high effort: +6 s (4–8 s with jitter) and 1,500 hidden tokens
 *
 * **Example** (Picking a preset)
 *
 * ```ts
 * import { ModelProfile } from "@timebox/core"
 *
 * const profile = ModelProfile.presets.fast
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const presets = {
  fast: {
    ...base,
    name: "fast",
    ttftMs: 300,
    ttftP95Ms: 420,
    tokensPerSecond: 160,
    expectedOutputTokens: 110,
    price: { inputNanoUsdPerToken: 750, outputNanoUsdPerToken: 800 },
    accuracy: 4.1
  },
  balanced: {
    ...base,
    name: "balanced",
    ttftMs: 560,
    ttftP95Ms: 780,
    tokensPerSecond: 90,
    expectedOutputTokens: 112,
    price: { inputNanoUsdPerToken: 3_000, outputNanoUsdPerToken: 3_000 },
    accuracy: 4.4
  },
  large: {
    ...base,
    name: "large",
    ttftMs: 850,
    ttftP95Ms: 1_150,
    tokensPerSecond: 68,
    expectedOutputTokens: 112,
    price: { inputNanoUsdPerToken: 15_000, outputNanoUsdPerToken: 15_000 },
    accuracy: 4.6
  },
  reasoning: {
    ...base,
    name: "reasoning",
    ttftMs: 560,
    ttftP95Ms: 780,
    tokensPerSecond: 90,
    expectedOutputTokens: 112,
    reasoningMs: 1_200,
    reasoningTokens: 300,
    price: { inputNanoUsdPerToken: 3_000, outputNanoUsdPerToken: 3_000 },
    accuracy: 4.7
  },
  reasoningHigh: {
    ...base,
    name: "reasoning-high",
    jitter: 0.33,
    ttftMs: 560,
    ttftP95Ms: 780,
    tokensPerSecond: 90,
    expectedOutputTokens: 112,
    reasoningMs: 6_000,
    reasoningTokens: 1_500,
    price: { inputNanoUsdPerToken: 3_000, outputNanoUsdPerToken: 3_000 },
    accuracy: 4.8
  }
} as const satisfies Record<string, ModelProfile>

/**
 * Updates a profile from observed calls: the medians move toward what was
 * seen (an exponential moving average with weight `alpha`), the p95 first
 * token toward the largest observation when it is above the current p95.
 *
 * **Example** (A model that got slower)
 *
 * ```ts
 * import { ModelProfile } from "@timebox/core"
 *
 * const updated = ModelProfile.observe(ModelProfile.presets.fast, [{ ttftMs: 600, tokensPerSecond: 120 }])
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const observe = (
  profile: ModelProfile,
  observations: ReadonlyArray<{ readonly ttftMs: number; readonly tokensPerSecond?: number | undefined }>,
  alpha = 0.2
): ModelProfile => {
  let ttftMs = profile.ttftMs
  let ttftP95Ms = profile.ttftP95Ms
  let tokensPerSecond = profile.tokensPerSecond
  for (const observation of observations) {
    ttftMs = ttftMs + alpha * (observation.ttftMs - ttftMs)
    if (observation.ttftMs > ttftP95Ms) ttftP95Ms = ttftP95Ms + alpha * (observation.ttftMs - ttftP95Ms)
    if (observation.tokensPerSecond !== undefined && observation.tokensPerSecond > 0) {
      tokensPerSecond = tokensPerSecond + alpha * (observation.tokensPerSecond - tokensPerSecond)
    }
  }
  return { ...profile, ttftMs, ttftP95Ms: Math.max(ttftP95Ms, ttftMs), tokensPerSecond }
}

/**
 * The Schema of a profile, for configuration files and environment variables:
 * durations in milliseconds, prices as integer nano-USD per token.
 *
 * **Example** (A profile from JSON configuration)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { ModelProfile } from "@timebox/core"
 *
 * const profile = Schema.decodeUnknownSync(ModelProfile.ModelProfileSchema)({
 *   ...ModelProfile.presets.fast,
 *   name: "my-model",
 *   ttftMs: 280
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ModelProfileSchema = Schema.Struct({
  name: Schema.NonEmptyString,
  provider: Schema.String,
  ttftMs: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  ttftP95Ms: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  tokensPerSecond: Schema.Number.check(Schema.isGreaterThan(0)),
  jitter: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
  reasoningMs: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  reasoningTokens: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  expectedOutputTokens: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  maxOutputTokens: Schema.Int.check(Schema.isGreaterThan(0)),
  price: Schema.Struct({
    inputNanoUsdPerToken: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    outputNanoUsdPerToken: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
  }),
  accuracy: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 5 }))
})

/**
 * The first-token observations of a run, by model: every stage record whose
 * model choice carries the model's own first-token time (`model.ttftMs`,
 * measured from the call's start, not the stage's), for `observe`.
 *
 * **Example** (Learning from a finished run)
 *
 * ```ts
 * import { ModelProfile, type Report } from "@timebox/core"
 *
 * const learn = (profile: ModelProfile.ModelProfile, report: Report.RunReport) =>
 *   ModelProfile.observe(profile, ModelProfile.observationsFrom(report).get(profile.name) ?? [])
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const observationsFrom = (
  report: { readonly stages: ReadonlyArray<StageRecord> }
): Map<string, Array<{ readonly ttftMs: number }>> => {
  const out = new Map<string, Array<{ readonly ttftMs: number }>>()
  const visit = (records: ReadonlyArray<StageRecord>) => {
    for (const record of records) {
      const observed = record.model?.ttftMs
      if (record.model !== undefined && observed !== undefined) {
        const list = out.get(record.model.chosen) ?? []
        list.push({ ttftMs: observed })
        out.set(record.model.chosen, list)
      }
      if (record.children !== undefined) visit(record.children)
    }
  }
  visit(report.stages)
  return out
}
