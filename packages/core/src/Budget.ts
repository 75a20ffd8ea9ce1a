/**
 * Budgets: durations in the forms people type (`150ms`, `2s`, `1.5s`,
 * `2 seconds`), allocations by duration or by fraction (`"40%"`), and the
 * Schema-decoded budget configuration with typed errors that name the field
 * and the value.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Schema, SchemaIssue } from "effect"
import * as TimeboxError from "./TimeboxError.ts"

/**
 * A share of the parent's window, written `"40%"`.
 *
 * **Gotchas**
 *
 * A share is of the parent's whole window, not of what is left of it: `"40%"`
 * of a 150 ms window is 60 ms even when only 30 ms remain, and the stage then
 * gets `min(60, 30 − reserve)`.
 *
 * **Example** (History gets 40% of the context window)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { type Budget, Stage } from "@timebox/core"
 *
 * const share: Budget.Fraction = "40%"
 * const history = Stage.required("history", (userId: string) => Effect.succeed([`${userId}: hello`]), {
 *   allocation: share
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Fraction = `${number}%`

/**
 * How much a stage may take: a duration (`"150 millis"`, `"150ms"`, a number of
 * milliseconds) or a fraction of its parent's window (`"40%"`). A top-level
 * stage's parent window is the run's total budget.
 *
 * **Example** (A stage whose allocation is configurable)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { type Budget, Stage } from "@timebox/core"
 *
 * const retrieval = (allocation: Budget.Allocation) =>
 *   Stage.optional("retrieval", (question: string) => Effect.succeed([`doc about ${question}`]), {
 *     allocation,
 *     fallback: () => []
 *   })
 * const fixed = retrieval("120ms")
 * const shared = retrieval("50%")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Allocation = DurationText | Fraction

/**
 * A duration: any `Duration.Input` or a short form such as `"150ms"`, `"2s"`.
 *
 * **Example** (Every form, in milliseconds)
 *
 * ```ts
 * import { Duration } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const inputs: ReadonlyArray<Budget.DurationText> = ["150ms", "2 seconds", 250, Duration.millis(20)]
 * const millis = inputs.map((input) => Budget.toMillis(input)) // [150, 2000, 250, 20]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DurationText = Duration.Input | `${number}${ShortUnit}`

/**
 * Short unit suffixes accepted by `parseMillis`.
 *
 * **Example** (Building a duration from a number and a unit)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * const duration = (value: number, unit: Budget.ShortUnit): Budget.DurationText => `${value}${unit}`
 * Budget.toMillis(duration(1.5, "s")) // 1500
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ShortUnit = "ms" | "s" | "m" | "h"

const unitMillis: Record<string, number> = {
  ms: 1,
  milli: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1_000,
  sec: 1_000,
  secs: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000
}

const durationPattern = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]+)\s*$/i

/**
 * Parses a duration as people type it into milliseconds: `150ms`, `2s`,
 * `1.5s`, `2 seconds`, `150 millis`, `1m`; a bare number is milliseconds.
 * Returns `undefined` for anything else (including negative values).
 *
 * **Example** (Parsing CLI input)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * Budget.parseMillis("1.5s") // 1500
 * Budget.parseMillis("2 seconds") // 2000
 * Budget.parseMillis("soon") // undefined
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const parseMillis = (text: string): number | undefined => {
  const trimmed = text.trim()
  if (trimmed === "") return undefined
  const asNumber = Number(trimmed)
  if (Number.isFinite(asNumber)) return asNumber >= 0 ? asNumber : undefined
  const match = durationPattern.exec(trimmed)
  if (match === null) return undefined
  const unit = unitMillis[match[2]!.toLowerCase()]
  if (unit === undefined) return undefined
  return Number(match[1]) * unit
}

/**
 * Milliseconds of any `Duration.Input` or typed duration string; `undefined`
 * when the input is not a duration.
 *
 * **Example** (Any form in, milliseconds out)
 *
 * ```ts
 * import { Duration } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * Budget.toMillis(Duration.seconds(2)) // 2000
 * Budget.toMillis("150ms") // 150
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const toMillis = (input: unknown): number | undefined => {
  if (typeof input === "string") return parseMillis(input)
  if (typeof input === "number") return Number.isNaN(input) ? undefined : input
  const decoded = Duration.fromInput(input as Duration.Input)
  return decoded._tag === "Some" ? Duration.toMillis(decoded.value) : undefined
}

/**
 * An allocation resolved to numbers: fixed milliseconds or a share (0, 1] of
 * the parent's window.
 *
 * **Example** (Explaining an allocation)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * const explain = (allocation: Budget.ResolvedAllocation): string =>
 *   allocation._tag === "Millis" ? `${allocation.millis}ms` : `${allocation.share * 100}% of the parent window`
 *
 * const rag = Budget.resolveAllocation("50%")
 * const text = rag === undefined ? "invalid" : explain(rag) // "50% of the parent window"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ResolvedAllocation =
  | { readonly _tag: "Millis"; readonly millis: number }
  | { readonly _tag: "Share"; readonly share: number }

/**
 * Reads an `Allocation`; `undefined` when it is neither a duration nor a
 * percentage.
 *
 * **Example** (Both forms)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * Budget.resolveAllocation("40%") // { _tag: "Share", share: 0.4 }
 * Budget.resolveAllocation("150ms") // { _tag: "Millis", millis: 150 }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolveAllocation = (allocation: unknown): ResolvedAllocation | undefined => {
  if (typeof allocation === "string" && allocation.trim().endsWith("%")) {
    const share = Number(allocation.trim().slice(0, -1)) / 100
    return Number.isFinite(share) ? { _tag: "Share", share } : undefined
  }
  const millis = toMillis(allocation)
  return millis === undefined ? undefined : { _tag: "Millis", millis }
}

/**
 * The milliseconds an allocation grants inside a parent window of
 * `parentWindowMs`.
 *
 * **Example** (40% of a 150 ms context window)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * Budget.allocate({ _tag: "Share", share: 0.4 }, 150) // 60
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const allocate = (allocation: ResolvedAllocation, parentWindowMs: number): number =>
  allocation._tag === "Millis" ? allocation.millis : allocation.share * parentWindowMs

/**
 * Splits a window among named parts by duration or fraction, e.g. history 40%
 * and RAG 50% of a 150 ms context window. Parts without an allocation get
 * nothing; the result is never more than the window for any one part.
 *
 * **Example** (Splitting a context window)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * Budget.split(150, { history: "40%", rag: "50%", profile: "30ms" })
 * // { history: 60, rag: 75, profile: 30 }
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const split = <const K extends string>(
  windowMs: number,
  parts: { readonly [P in K]: Allocation }
): { [P in K]: number } => {
  const out = {} as { [P in K]: number }
  for (const key of Object.keys(parts) as Array<K>) {
    const resolved = resolveAllocation(parts[key])
    out[key] = resolved === undefined ? 0 : Math.min(windowMs, allocate(resolved, windowMs))
  }
  return out
}

/**
 * Milliseconds kept back, on top of the `minUseful` of later required stages,
 * for scheduling jitter: a stage cut at its deadline hands over a little after
 * it (a timer fires late, the event loop is busy), and the next required stage
 * must still find its `minUseful`. Added only when a pipeline reserves time.
 *
 * **Example** (No slack, for exact arithmetic in a test)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const exact = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provideService(self, Budget.Slack, 0)
 * ```
 *
 * @default 5
 * @category services
 * @since 0.1.0
 */
export const Slack = Context.Reference<number>("@timebox/core/Budget/Slack", { defaultValue: () => 5 })

// =============================================================================
// Configuration
// =============================================================================

const isDurationText = (u: unknown): boolean => toMillis(u) !== undefined

/**
 * A duration field of a configuration: a number of milliseconds or a string
 * such as `"150ms"`, `"2s"`, `"2 seconds"`.
 *
 * **Details**
 *
 * The field is checked, not converted: its decoded value is the number or the
 * text as given. Read it with `Budget.toMillis`, or decode a whole
 * configuration with `Budget.decode`, which converts every field.
 *
 * **Example** (Durations in your own configuration)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const Timeouts = Schema.Struct({ firstToken: Budget.DurationField, total: Budget.DurationField })
 * const timeouts = Schema.decodeUnknownSync(Timeouts)({ firstToken: "300ms", total: 2000 })
 * const firstTokenMs = Budget.toMillis(timeouts.firstToken) // 300
 * // Schema.decodeUnknownSync(Timeouts)({ firstToken: "soon", total: 2000 }) throws
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const DurationField = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter(isDurationText, { expected: "a duration such as 150ms, 2s, 1.5s or \"2 seconds\"" })
)

/**
 * An allocation field: a duration or a percentage (`"40%"`).
 *
 * **Details**
 *
 * Like `DurationField`, it checks the form only: `"150%"` passes here and is
 * rejected by `Budget.decode`, which also checks shares and totals.
 *
 * **Example** (A configurable share)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const Tuning = Schema.Struct({ rag: Budget.AllocationField })
 * const tuning = Schema.decodeUnknownSync(Tuning)({ rag: "50%" }) // { rag: "50%" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const AllocationField = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter((u: unknown) => resolveAllocation(u) !== undefined, {
    expected: "a duration such as 150ms, or a percentage such as 40%"
  })
)

/**
 * The configuration of one stage, as it comes from a file, an environment
 * variable or an HTTP body.
 *
 * **Gotchas**
 *
 * The schema checks the shape only. That `minUseful` fits within `allocation`,
 * or a share within (0%, 100%], is checked by `Budget.decode` and
 * `Budget.checkPolicies`.
 *
 * **Example** (One stage's settings)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const rag = Schema.decodeUnknownSync(Budget.StageConfig)({ allocation: "50%", minUseful: "20ms" })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const StageConfig = Schema.Struct({
  allocation: Schema.optionalKey(AllocationField),
  minUseful: Schema.optionalKey(DurationField),
  reserve: Schema.optionalKey(DurationField)
})

/**
 * A budget configuration: the total and optional per-stage settings keyed by
 * stage name.
 *
 * **When to use**
 *
 * To embed a budget in a larger schema. To turn input into milliseconds with
 * errors that name the field, use `Budget.decode`.
 *
 * **Example** (A budget inside an application's settings)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const Settings = Schema.Struct({ model: Schema.String, budget: Budget.Config })
 * const settings = Schema.decodeUnknownSync(Settings)({ model: "fast", budget: { total: "2s" } })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  total: DurationField,
  stages: Schema.optionalKey(Schema.Record(Schema.String, StageConfig))
})

/**
 * A budget configuration as written: durations and allocations as given, not yet in milliseconds.
 *
 * **Example** (A configuration value, decoded to milliseconds)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * const config: Budget.Config = { total: "2s", stages: { rag: { allocation: "50%", minUseful: "20ms" } } }
 * const decoded = Budget.decode(config) // succeeds with totalMs 2000
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Config = typeof Config.Type

/**
 * A decoded budget: every duration in milliseconds.
 *
 * **Example** (Reading a stage's share)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const ragShare = (decoded: Budget.Decoded): number => {
 *   const allocation = decoded.stages.rag?.allocation
 *   return allocation?._tag === "Share" ? allocation.share : 0
 * }
 * const share = Effect.map(Budget.decode({ total: "2s", stages: { rag: { allocation: "50%" } } }), ragShare) // 0.5
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Decoded {
  readonly totalMs: number
  readonly stages: Readonly<
    Record<
      string,
      { readonly allocation?: ResolvedAllocation; readonly minUsefulMs?: number; readonly reserveMs?: number }
    >
  >
}

/**
 * The policy of one stage as the checks see it.
 *
 * **Example** (Policies read from a file)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * const policies: ReadonlyArray<Budget.PolicyInput> = [
 *   { name: "auth", allocation: "10ms", minUseful: "2ms" },
 *   { name: "rag", allocation: "50%", minUseful: "20ms" }
 * ]
 * const problem = Budget.policyError("config", 2000, policies) // undefined: both fit in 2 s
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface PolicyInput {
  readonly name: string
  readonly allocation?: unknown
  readonly minUseful?: unknown
  readonly reserve?: unknown
}

/**
 * Checks stage policies against a total budget: durations must be positive
 * (`minUseful` and `reserve` may be zero), an allocation cannot exceed the
 * total, a share must lie in (0, 100%], `minUseful` cannot exceed its
 * allocation, and names must be unique and not `input`. `prefix` names the
 * field path in errors (`stages`).
 *
 * **Example** (A duplicate name)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const checked = Budget.checkPolicies("Agent.run", 2000, [{ name: "auth" }, { name: "auth" }])
 * // fails: invalid stages[1].name ("auth"): duplicate stage name
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const checkPolicies = (
  method: string,
  totalMs: number | undefined,
  policies: ReadonlyArray<PolicyInput>,
  prefix = "stages"
): Effect.Effect<void, TimeboxError.TimeboxError> => {
  const error = policyError(method, totalMs, policies, prefix)
  return error === undefined ? Effect.void : Effect.fail(error)
}

/**
 * The first problem `checkPolicies` would report, or `undefined`; pure.
 *
 * **Details**
 *
 * With `totalMs` `undefined`, allocations are not compared with a total (a
 * nested stage's parent window is only known at run time).
 *
 * **Example** (An allocation larger than the budget)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * const problem = Budget.policyError("config", 500, [{ name: "inference", allocation: "1400ms" }])
 * problem?.message // 'config: invalid stages.inference.allocation ("1400ms"): 1400ms exceeds the total budget of 500ms'
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const policyError = (
  method: string,
  totalMs: number | undefined,
  policies: ReadonlyArray<PolicyInput>,
  prefix = "stages"
): TimeboxError.TimeboxError | undefined => {
  const seen = new Set<string>()
  for (let index = 0; index < policies.length; index++) {
    const policy = policies[index]!
    const at = `${prefix}[${index}]`
    if (policy.name.trim() === "" || policy.name.includes("/")) {
      return (
        TimeboxError.invalidConfig(method, `${at}.name`, policy.name, "must be non-empty and contain no \"/\"")
      )
    }
    if (policy.name === "input") {
      return (
        TimeboxError.invalidConfig(method, `${at}.name`, policy.name, "\"input\" is reserved for the run's input")
      )
    }
    if (seen.has(policy.name)) {
      return (TimeboxError.invalidConfig(method, `${at}.name`, policy.name, "duplicate stage name"))
    }
    seen.add(policy.name)
    const field = `${prefix}.${policy.name}`
    let allocationMs: number | undefined
    if (policy.allocation !== undefined) {
      const resolved = resolveAllocation(policy.allocation)
      if (resolved === undefined) {
        return (
          TimeboxError.invalidConfig(method, `${field}.allocation`, policy.allocation, "not a duration or percentage")
        )
      }
      if (resolved._tag === "Share") {
        if (!(resolved.share > 0 && resolved.share <= 1)) {
          return (
            TimeboxError.invalidConfig(
              method,
              `${field}.allocation`,
              policy.allocation,
              "a share must be in (0%, 100%]"
            )
          )
        }
      } else {
        allocationMs = resolved.millis
        if (!(resolved.millis > 0) || !Number.isFinite(resolved.millis)) {
          return (
            TimeboxError.invalidConfig(method, `${field}.allocation`, policy.allocation, "must be a positive duration")
          )
        }
        if (totalMs !== undefined && resolved.millis > totalMs) {
          return (
            TimeboxError.invalidConfig(
              method,
              `${field}.allocation`,
              policy.allocation,
              `${resolved.millis}ms exceeds the total budget of ${totalMs}ms`
            )
          )
        }
      }
    }
    for (const key of ["minUseful", "reserve"] as const) {
      const value = policy[key]
      if (value === undefined) continue
      const millis = toMillis(value)
      if (millis === undefined || !(millis >= 0) || !Number.isFinite(millis)) {
        return (
          TimeboxError.invalidConfig(method, `${field}.${key}`, value, "must be a non-negative duration")
        )
      }
      if (key === "minUseful" && allocationMs !== undefined && millis > allocationMs) {
        return (
          TimeboxError.invalidConfig(
            method,
            `${field}.minUseful`,
            value,
            `${millis}ms exceeds the stage's allocation of ${allocationMs}ms`
          )
        )
      }
    }
  }
  return undefined
}

/**
 * Checks a total budget: a positive, finite duration.
 *
 * **Example** (Validating a CLI flag)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * const total = Budget.decodeTotal("Agent.run", "budget", "700ms") // succeeds with 700
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeTotal = (
  method: string,
  field: string,
  input: unknown
): Effect.Effect<number, TimeboxError.TimeboxError> => {
  const total = parseTotal(method, field, input)
  return typeof total === "number" ? Effect.succeed(total) : Effect.fail(total)
}

/**
 * The pure form of `decodeTotal`: milliseconds, or the error.
 *
 * **Gotchas**
 *
 * Zero is not a budget: `"0ms"` is an error, as are negative and infinite
 * durations.
 *
 * **Example** (A budget from the environment, with a default)
 *
 * ```ts
 * import { Budget } from "@timebox/core"
 *
 * const total = Budget.parseTotal("config", "TIMEBOX_BUDGET", process.env.TIMEBOX_BUDGET ?? "2s")
 * const budgetMs = typeof total === "number" ? total : 2000
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const parseTotal = (method: string, field: string, input: unknown): number | TimeboxError.TimeboxError => {
  const millis = toMillis(input)
  if (millis === undefined) {
    // "-1s": a duration with a sign in front is a duration, just not a positive one
    const negative = typeof input === "string" && /^\s*-/.test(input) &&
      toMillis(input.trim().slice(1)) !== undefined
    return TimeboxError.invalidConfig(
      method,
      field,
      input,
      negative ? "must be a positive, finite duration" : "not a duration (try 150ms, 2s, 1.5s or \"2 seconds\")"
    )
  }
  if (!(millis > 0) || !Number.isFinite(millis)) {
    return TimeboxError.invalidConfig(method, field, input, "must be a positive, finite duration")
  }
  return millis
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current = input
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return current
}

/**
 * Decodes a budget configuration from unknown input (JSON, environment,
 * HTTP): shape with Schema, then the semantic checks of `checkPolicies`.
 * Every failure is a `TimeboxError` whose `InvalidConfig` reason names the
 * field (`stages.rag.minUseful`) and the value.
 *
 * **Example** (A configuration file)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Budget } from "@timebox/core"
 *
 * const program = Budget.decode({ total: "2s", stages: { rag: { allocation: "50%", minUseful: "20ms" } } })
 * // succeeds with { totalMs: 2000, stages: { rag: { allocation: { _tag: "Share", share: 0.5 }, minUsefulMs: 20 } } }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (input: unknown): Effect.Effect<Decoded, TimeboxError.TimeboxError> =>
  Schema.decodeUnknownEffect(Config)(input).pipe(
    Effect.mapError((error) => {
      const issue = formatter(error.issue).issues[0]
      const path = (issue?.path ?? []).map((segment: unknown) =>
        typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
      ) as Array<PropertyKey>
      const field = path.length === 0 ? "config" : path.map(String).join(".")
      return TimeboxError.invalidConfig("Budget.decode", field, valueAt(input, path), issue?.message ?? error.message)
    }),
    Effect.flatMap((config) =>
      Effect.gen(function*() {
        const totalMs = yield* decodeTotal("Budget.decode", "total", config.total)
        const entries = Object.entries(config.stages ?? {})
        yield* checkPolicies("Budget.decode", totalMs, entries.map(([name, stage]) => ({ name, ...stage })))
        const stages: Record<string, Decoded["stages"][string]> = {}
        for (const [name, stage] of entries) {
          const allocation = stage.allocation === undefined ? undefined : resolveAllocation(stage.allocation)
          const minUsefulMs = stage.minUseful === undefined ? undefined : toMillis(stage.minUseful)
          const reserveMs = stage.reserve === undefined ? undefined : toMillis(stage.reserve)
          stages[name] = {
            ...(allocation === undefined ? {} : { allocation }),
            ...(minUsefulMs === undefined ? {} : { minUsefulMs }),
            ...(reserveMs === undefined ? {} : { reserveMs })
          }
        }
        return { totalMs, stages }
      })
    )
  )
