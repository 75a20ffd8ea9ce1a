/**
 * A runaway agent: a loop of model calls at $0.01 each that never decides to
 * stop. Unguarded, it spends whatever its time allows; guarded by a $1.00
 * budget on the cost ledger, it makes exactly 100 calls, spends exactly
 * $1.00, and the 101st call is denied before it is made (`budget-exceeded`).
 *
 * @since 0.1.0
 */
import {
  Agent,
  Deadline,
  Guard,
  Inference,
  Ledger,
  ModelProfile,
  Pipeline,
  type Report,
  SimulatedModel,
  Stage
} from "@timebox/core"
import { Context, Effect } from "effect"

// =============================================================================
// Models
// =============================================================================

/**
 * The model the agent calls: 10 output tokens a call, never more, at
 * 1,000,000 nano-USD each, and free input, so every call costs exactly
 * $0.01 (1,000,000 USD_MICROCENTS) and its worst case is the same amount.
 * 15 ms to the first token, then 1,000 tokens/s, no jitter: a call takes 24 ms
 * (the first token at 15 ms, the other nine 1 ms apart), its p95 is planned at 35 ms.
 *
 * **Example** (The price of one call)
 *
 * ```ts
 * import { Guard } from "@timebox/core"
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const usage = { inputTokens: 3, outputTokens: 10, reasoningTokens: 0 }
 * Guard.price(usage, RunawayAgent.profile.price, "USD_MICROCENTS") // 1_000_000n: $0.01
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const profile: ModelProfile.ModelProfile = {
  name: "runaway-model",
  provider: "simulated",
  ttftMs: 15,
  ttftP95Ms: 25,
  tokensPerSecond: 1_000,
  jitter: 0,
  reasoningMs: 0,
  reasoningTokens: 0,
  expectedOutputTokens: 10,
  maxOutputTokens: 10,
  price: { inputNanoUsdPerToken: 0, outputNanoUsdPerToken: 1_000_000 },
  accuracy: 1
}

/**
 * What one call costs, in USD_MICROCENTS (10^8 per dollar): $0.01.
 *
 * **Example** (Calls a budget covers)
 *
 * ```ts
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const calls = RunawayAgent.guardBudget / RunawayAgent.callPrice // 100n
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const callPrice = 1_000_000n

/**
 * The guarded half's budget, in USD_MICROCENTS: $1.00.
 *
 * **Example** (In dollars)
 *
 * ```ts
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const dollars = Number(RunawayAgent.guardBudget) / 100_000_000 // 1
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const guardBudget = 100_000_000n

/**
 * The ledger subject the guarded half is charged to, in a tenant of the
 * caller's choosing (`demo` by default).
 *
 * **Example** (The scope the budget is created on)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * Ledger.scopes(RunawayAgent.subject("demo")).at(-1) // "tenant:demo/app:runaway/agent:runaway-agent"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const subject = (tenant: string): Ledger.Subject => ({ tenant, app: "runaway", agent: "runaway-agent" })

/**
 * The agent's answer: how many calls it made before it stopped on its own
 * (its time ran out).
 *
 * **Example** (Reading a complete run)
 *
 * ```ts
 * import type { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const calls = (output: RunawayAgent.Output) => output.calls
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Output {
  readonly calls: number
}

/**
 * One half of the comparison: the calls made, what they cost in
 * USD_MICROCENTS, how long the half ran, and why it stopped: `deadline` (its
 * time ran out), a ledger reason such as `budget-exceeded` or
 * `store-unavailable` (the guard denied the next call), or the run's failure
 * reason.
 *
 * **Example** (A line of the table)
 *
 * ```ts
 * import type { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const line = (summary: RunawayAgent.Summary) =>
 *   `${summary.calls} calls, $${(summary.spentUsdMicrocents / 1e8).toFixed(2)}, ${summary.stopReason}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Summary {
  readonly calls: number
  readonly spentUsdMicrocents: number
  readonly durationMs: number
  readonly stopReason: string
}

/**
 * Both halves side by side.
 *
 * **Example** (What the guard saved)
 *
 * ```ts
 * import type { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const saved = (comparison: RunawayAgent.Comparison) =>
 *   comparison.unguarded.spentUsdMicrocents - comparison.guarded.spentUsdMicrocents
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Comparison {
  readonly unguarded: Summary
  readonly guarded: Summary
}

// =============================================================================
// Agent
// =============================================================================

/** Counts the calls of one run, whether the run completes or is stopped. */
const CallCount = Context.Reference<{ calls: number }>("@timebox/example-runaway-agent/CallCount", {
  defaultValue: () => ({ calls: 0 })
})

const model = SimulatedModel.layer({ profile })

/**
 * The loop: call the model, again and again, while one more call fits the
 * time left (the model's p95).
 */
const loop = Stage.required(
  "loop",
  ({ input }: { readonly input: string }) =>
    Effect.gen(function*() {
      const counter = yield* CallCount
      let calls = 0
      while ((yield* Deadline.remainingMillis) >= ModelProfile.p95Ms(profile)) {
        yield* Inference.run({ prompt: input, models: profile })
        calls++
        counter.calls++
      }
      return { calls } satisfies Output
    }).pipe(Effect.provide(model))
)

/**
 * The runaway agent: one required stage, `loop`, that calls the model until
 * its time runs out. Its own budget is 30 s.
 *
 * **Example** (Ten seconds of it, unguarded)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const tenSeconds = Agent.run(RunawayAgent.agent, "Keep going.", { budget: "10 seconds" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const agent = Agent.make({
  name: "runaway-agent",
  description: "a loop of model calls at $0.01 each; guarded by a $1.00 budget it stops after exactly 100",
  budget: "30 seconds",
  pipeline: Pipeline.make<string>().add(loop)
})

/**
 * The input every call is given.
 *
 * **Example** (Running it)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const run = Agent.run(RunawayAgent.agent, RunawayAgent.input)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const input = "Keep going."

// =============================================================================
// Halves
// =============================================================================

/**
 * Why a run stopped: `deadline` when it ended on its own; the ledger's
 * reason when the guard denied a call (`budget-exceeded`); else the run's
 * failure reason.
 *
 * **Example** (The stop reason of a guarded run)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const reason = Effect.map(RunawayAgent.runGuarded(), (summary) => summary.stopReason) // "budget-exceeded"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const stopReason = (result: Report.RunResult<Output>): string => {
  if (result.status === "failed" || result.status === "interrupted") {
    const last = result.report.ledger?.at(-1)
    return last !== undefined && last.decision === "denied" ? (last.reason ?? "denied") : result.reason
  }
  return "deadline"
}

const summarize = (
  result: Report.RunResult<Output>,
  calls: number,
  spentUsdMicrocents: number
): Summary => ({
  calls,
  spentUsdMicrocents,
  durationMs: Math.round(result.report.elapsedMs),
  stopReason: stopReason(result)
})

/**
 * Runs the agent unguarded for `duration`: it calls the model until its time
 * runs out, and spends what it spends.
 *
 * **Example** (Five seconds unguarded)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const spent = Effect.map(RunawayAgent.runUnguarded("5 seconds"), (summary) => summary.spentUsdMicrocents)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const runUnguarded = (duration: Agent.RunOptions["budget"] & {}) =>
  Effect.gen(function*() {
    const counter = { calls: 0 }
    const result = yield* Agent.run(agent, input, { budget: duration }).pipe(
      Effect.provideService(CallCount, counter)
    )
    // Every call costs the same whole number of micro-USD: the report's cost is exact.
    return summarize(result, counter.calls, result.report.cost.microUsd * 100)
  })

/**
 * The options of the guarded half.
 *
 * **Example** (On a shared Redis: a tenant of its own per run)
 *
 * ```ts
 * import type { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const options: RunawayAgent.GuardedOptions = { tenant: `runaway-${Date.now()}` }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface GuardedOptions {
  /**
   * The tenant the budget is created in; it must not have a runaway budget yet.
   * @default "demo"
   */
  readonly tenant?: string | undefined
  /**
   * The most time the guarded half may take.
   * @default "60 seconds"
   */
  readonly budget?: Agent.RunOptions["budget"]
}

/**
 * Runs the agent guarded: creates a $1.00 USD_MICROCENTS budget for its
 * subject on the ambient `Ledger`, then runs it with every model call
 * reserved, committed or released there. The 101st call is denied before it
 * is made; the run ends `failed` and the half stops with `budget-exceeded`.
 *
 * **Gotchas**
 *
 * The budget is created, not reused: on a ledger that outlives the program
 * (Redis), give each run a tenant of its own.
 *
 * **Example** (On the in-memory ledger)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger } from "@timebox/core"
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const guarded = RunawayAgent.runGuarded().pipe(Effect.provide(Ledger.layerMemory))
 * // succeeds with { calls: 100, spentUsdMicrocents: 100_000_000, durationMs: …, stopReason: "budget-exceeded" }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const runGuarded = (options: GuardedOptions = {}) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const tenant = options.tenant ?? "demo"
    const scope = subject(tenant)
    yield* ledger.createBudget({ tenant, scope, unit: "USD_MICROCENTS", allocated: guardBudget })
    const counter = { calls: 0 }
    const result = yield* Agent.run(agent, input, { budget: options.budget ?? "60 seconds" }).pipe(
      Guard.withGuard({ subject: scope, unit: "USD_MICROCENTS", ttl: "30 seconds" }),
      Effect.provideService(CallCount, counter)
    )
    // What the calls cost, as in the unguarded half: the report's cost, which also counts a call
    // whose commit the ledger could not record (a lost Redis)
    return summarize(result, counter.calls, result.report.cost.microUsd * 100)
  })

/**
 * Runs both halves at the same time: unguarded for `unguardedFor`, guarded
 * by $1.00 on the ambient `Ledger`.
 *
 * **Example** (The comparison `timebox run runaway-agent` prints)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger } from "@timebox/core"
 * import { RunawayAgent } from "@timebox/example-runaway-agent"
 *
 * const comparison = RunawayAgent.compare({ unguardedFor: "30 seconds" }).pipe(Effect.provide(Ledger.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const compare = (options: GuardedOptions & { readonly unguardedFor: Agent.RunOptions["budget"] & {} }) =>
  Effect.map(
    Effect.all([runUnguarded(options.unguardedFor), runGuarded(options)], { concurrency: 2 }),
    ([unguarded, guarded]): Comparison => ({ unguarded, guarded })
  )
