/**
 * The inference stage's work: model calls through `effect/ai`'s
 * `LanguageModel`, made budget-aware. A tool loop runs the model's tool calls
 * through the toolkit's handlers under the stage's window (in parallel, each
 * with its own allocation; cut or skipped calls reach the model as
 * `"skipped: deadline"`), checks before every further step that the window can
 * afford one more (p95 first token + expected output), and records time to
 * first and last token, the steps, the model choice and the cost.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Duration, Effect, ExecutionPlan, Fiber, Layer, Stream } from "effect"
import { type AiError, LanguageModel, Prompt, type Response, type Toolkit } from "effect/ai"
import * as Budget from "./Budget.ts"
import * as Cost from "./Cost.ts"
import * as Deadline from "./Deadline.ts"
import * as Guard from "./Guard.ts"
import { CurrentFrame, type Frame } from "./internal/frame.ts"
import { guarded } from "./internal/guard.ts"
import type * as Ledger from "./Ledger.ts"
import * as ModelProfile from "./ModelProfile.ts"
import type { ModelChoice } from "./Report.ts"
import * as Router from "./Router.ts"
import * as TimeboxError from "./TimeboxError.ts"
import * as ToolWindow from "./ToolWindow.ts"

/**
 * Why a tool loop stopped: the model answered, one more step did not fit the
 * window (`step-unaffordable`), or the step limit was reached (`max-steps`).
 *
 * **Example** (Telling a short answer from a complete one)
 *
 * ```ts
 * import type { Inference } from "@timebox/core"
 *
 * const complete = (reason: Inference.StopReason) => reason === "answered"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StopReason = "answered" | "step-unaffordable" | "max-steps"

/**
 * What the first-token window does when no token arrives in time: try the next
 * faster model within the same deadline, or fail the stage.
 *
 * **Example** (Fall back after 300 ms without a token)
 *
 * ```ts
 * import type { Inference } from "@timebox/core"
 *
 * const firstToken: Inference.FirstToken = { window: "300 millis", onTimeout: "fallback" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface FirstToken {
  readonly window: Budget.DurationText
  readonly onTimeout: "fallback" | "fail"
}

/**
 * The options of an inference.
 *
 * **Example** (A routed, streamed tool loop)
 *
 * ```ts
 * import { ModelProfile, Router, type Inference } from "@timebox/core"
 *
 * const options: Inference.Options = {
 *   prompt: "Where is my order A-1?",
 *   models: Router.simulated([ModelProfile.presets.balanced, ModelProfile.presets.fast]),
 *   maxSteps: 4,
 *   stream: true,
 *   toolAllocations: { LookupOrder: "250 millis" }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly prompt: Prompt.RawInput
  /**
   * A router to choose from by the window, or the profile of the ambient
   * `LanguageModel` (for the step check and the cost).
   */
  readonly models: Router.Router | ModelProfile.ModelProfile
  /** The toolkit with its handlers (`yield* MyToolkit`). */
  readonly toolkit?: Toolkit.WithHandler<any> | undefined
  /**
   * A plain safety net on model calls.
   * @default 5
   */
  readonly maxSteps?: number | undefined
  /** Per-tool allocations inside the stage's window, by tool name. */
  readonly toolAllocations?: Readonly<Record<string, Budget.Allocation>> | undefined
  /**
   * Stream tokens to `Agent.stream` as they arrive (and record time to first
   * and last token).
   * @default false
   */
  readonly stream?: boolean | undefined
  /** A first-token window, separate from the stage window. */
  readonly firstToken?: FirstToken | undefined
}

/**
 * The outcome of an inference.
 *
 * **Example** (Using the answer)
 *
 * ```ts
 * import type { Inference } from "@timebox/core"
 *
 * const answer = (result: Inference.Result) => result.stopReason === "answered" ? result.text : `${result.text} (short)`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Result {
  readonly text: string
  readonly steps: number
  readonly stopReason: StopReason
  readonly model: string
  readonly toolResults: ReadonlyArray<ToolWindow.ToolResult<unknown>>
  readonly usage: Cost.Usage
}

/** The profile of the model that actually answered (set by each candidate's layer). */
class ActiveProfile extends Context.Service<ActiveProfile, ModelProfile.ModelProfile>()(
  "@timebox/core/Inference/ActiveProfile"
) {}

const isRouter = (models: Options["models"]): models is Router.Router => "candidates" in models

/**
 * The usage a call reports, or, where it reports none (no `finish` part, or
 * no totals in it: some servers send no usage when streaming), the worst
 * case of the call: its prompt's estimated input tokens and the model's most
 * output tokens, so that a call whose usage is unknown is charged what was
 * reserved for it, never nothing.
 */
const usageOf = (
  reported: Response.Usage | undefined,
  prompt: Prompt.Prompt,
  profile: ModelProfile.ModelProfile
): { readonly usage: Cost.Usage; readonly estimated: boolean } => {
  const input = reported?.inputTokens.total
  const output = reported?.outputTokens.total
  if (input !== undefined && output !== undefined) {
    const reasoning = reported?.outputTokens.reasoning ?? 0
    return {
      usage: { inputTokens: input, outputTokens: Math.max(0, output - reasoning), reasoningTokens: reasoning },
      estimated: false
    }
  }
  const worst = Guard.worstCase(profile, prompt, "TOKENS")
  return {
    usage: {
      inputTokens: input ?? worst.inputTokens,
      outputTokens: output ?? worst.outputTokens,
      reasoningTokens: 0
    },
    estimated: true
  }
}

interface StepOutcome {
  readonly text: string
  readonly calls: ReadonlyArray<{ readonly id: string; readonly name: string; readonly params: unknown }>
  readonly usage: Cost.Usage
  /** The provider reported no usage: `usage` is the call's worst case. */
  readonly usageEstimated: boolean
  readonly profile: ModelProfile.ModelProfile
  /** From the call's start to its first token or tool call. */
  readonly firstTokenMs: number | undefined
}

/**
 * One model call, guarded when a `ModelGuard` is in context: the worst case
 * is reserved before the call (a denial fails with the `LedgerError` and the
 * model is never called), the usage committed after it, the reservation
 * released when it fails or is interrupted.
 */
const step = (
  prompt: Prompt.Prompt,
  options: Options,
  frame: Frame | undefined,
  firstToken: Deferred.Deferred<void>
): Effect.Effect<StepOutcome, AiError.AiError | Ledger.LedgerError, LanguageModel.LanguageModel | ActiveProfile> =>
  Effect.flatMap(Guard.ModelGuard, (guard) => {
    const call = modelCall(prompt, options, frame, firstToken)
    return guard === undefined
      ? call
      : Effect.flatMap(ActiveProfile, (profile) => guarded(guard, profile, prompt, frame, call))
  })

/**
 * One model call, streamed: text deltas go to `Agent.stream` and mark the
 * first and last token; tool calls are collected, not executed.
 */
const modelCall = (
  prompt: Prompt.Prompt,
  options: Options,
  frame: Frame | undefined,
  firstToken: Deferred.Deferred<void>
): Effect.Effect<StepOutcome, AiError.AiError, LanguageModel.LanguageModel | ActiveProfile> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const profile = yield* ActiveProfile
    let text = ""
    const calls: Array<{ id: string; name: string; params: unknown }> = []
    let reported: Response.Usage | undefined
    const owner = frame?.owner
    const offset = () =>
      frame === undefined ? 0 : clock.currentTimeMillisUnsafe() - frame.runStartMillis - (owner?.startedAtMs ?? 0)
    const callStart = clock.currentTimeMillisUnsafe()
    let firstTokenMs: number | undefined
    const stream = LanguageModel.streamText({
      prompt,
      ...(options.toolkit === undefined ? {} : { toolkit: options.toolkit }),
      disableToolCallResolution: true
    } as any) as Stream.Stream<Response.StreamPart<any>, AiError.AiError, LanguageModel.LanguageModel>
    yield* Stream.runForEach(stream, (part) =>
      Effect.sync(() => {
        if (part.type === "text-delta") {
          if (text === "") {
            Deferred.doneUnsafe(firstToken, Effect.void)
            firstTokenMs ??= clock.currentTimeMillisUnsafe() - callStart
          }
          text += part.delta
          if (owner !== undefined && options.stream === true) {
            const at = offset()
            owner.extra = { ...owner.extra, ttltMs: at, ...(owner.extra?.ttftMs === undefined ? { ttftMs: at } : {}) }
            frame?.run.emit?.({
              type: "text-delta",
              path: frame.path,
              delta: part.delta,
              atMs: round(clock.currentTimeMillisUnsafe() - frame.runStartMillis)
            })
          }
        } else if (part.type === "tool-call") {
          Deferred.doneUnsafe(firstToken, Effect.void)
          firstTokenMs ??= clock.currentTimeMillisUnsafe() - callStart
          calls.push({ id: part.id, name: part.name, params: part.params })
          if (frame !== undefined) {
            frame.run.emit?.({ type: "tool-call", path: frame.path, id: part.id, name: part.name, params: part.params })
          }
        } else if (part.type === "finish") {
          reported = part.usage
        }
      })).pipe(Effect.provideService(ModelProfile.OutputLimit, ModelProfile.outputLimit(profile)))
    const { estimated, usage } = usageOf(reported, prompt, profile)
    if (frame !== undefined) Cost.add(frame.run.tally, usage, profile.price)
    return { text, calls, usage, usageEstimated: estimated, profile, firstTokenMs }
  })

const plus = (a: Cost.Usage, b: Cost.Usage): Cost.Usage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  reasoningTokens: a.reasoningTokens + b.reasoningTokens
})

const withProfile = (candidate: Router.Candidate) =>
  Layer.merge(candidate.layer, Layer.succeed(ActiveProfile, candidate.profile))

/**
 * What is wrong with a profile's figures that prices and limits read (they
 * become bigint money and a provider's `max_tokens`), as the `InvalidConfig`
 * naming the field and the value; `undefined` when nothing is.
 */
const badProfile = (profile: ModelProfile.ModelProfile): TimeboxError.TimeboxError | undefined => {
  const fields: ReadonlyArray<readonly [string, number, number]> = [
    ["price.inputNanoUsdPerToken", profile.price.inputNanoUsdPerToken, 0],
    ["price.outputNanoUsdPerToken", profile.price.outputNanoUsdPerToken, 0],
    ["maxOutputTokens", profile.maxOutputTokens, 1],
    ["reasoningTokens", profile.reasoningTokens, 0]
  ]
  for (const [field, value, least] of fields) {
    if (!Number.isSafeInteger(value) || value < least) {
      return TimeboxError.invalidConfig(
        "Inference.run",
        `models.${profile.name}.${field}`,
        value,
        least === 0 ? "must be an integer, 0 or more" : "must be an integer, 1 or more"
      )
    }
  }
  return undefined
}

/** Whether a failure is the model's, for a fallback to try another: not a `LedgerError`. */
const isProviderError = (error: unknown): boolean =>
  !(typeof error === "object" && error !== null && "_tag" in error && error._tag === "LedgerError")

/** Provides `first`, then the choice's other candidates in order on provider errors (an `ExecutionPlan`). */
const planFrom = (
  first: Router.Candidate,
  choice: Router.Choice
): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, any> => {
  const rest = [choice.chosen, ...choice.fallbacks].filter((candidate) => candidate !== first)
  const plan = ExecutionPlan.make(
    { provide: withProfile(first) },
    // a ledger refusal (a denied reservation, a ledger that does not answer) stops the agent: no other model is tried
    ...rest.map((candidate) => ({ provide: withProfile(candidate), while: isProviderError }))
  )
  return (effect) => Effect.withExecutionPlan(effect as Effect.Effect<any, any, any>, plan as any) as any
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000

/**
 * Runs an inference inside the current stage: routes by the time left (when
 * given a router), calls the model, runs its tool calls under the window,
 * and loops while the model asks for tools, another step is affordable and
 * `maxSteps` is not reached. When a step is unaffordable, the stage is
 * reported `degraded` with reason `step-unaffordable` and the loop returns
 * what it has.
 *
 * **Details**
 *
 * With a `Guard.ModelGuard` in context (`Guard.layer`, `Guard.withGuard`),
 * every model call reserves its worst case on the cost ledger first, commits
 * the usage after, and releases the reservation when the call fails or is
 * interrupted. A denied reservation fails the inference with the
 * `LedgerError` before the model is called; the run's report lists every
 * ledger decision (`report.ledger`).
 *
 * **Gotchas**
 *
 * The stage's own timeout still applies: a step that runs past the window is
 * cut like any stage work. The step check uses the chosen model's p95, so a
 * slow outlier can still be cut.
 *
 * **Example** (The inference stage of an agent)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Inference, ModelProfile, Router, Stage } from "@timebox/core"
 *
 * const router = Router.simulated([ModelProfile.presets.balanced, ModelProfile.presets.fast])
 * const inference = Stage.required(
 *   "inference",
 *   ({ input }: { readonly input: string }) =>
 *     Effect.map(Inference.run({ prompt: input, models: router, stream: true }), (result) => result.text),
 *   { allocation: "2 seconds", minUseful: "500 millis" }
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const run: {
  (options: Options & { readonly models: Router.Router }): Effect.Effect<
    Result,
    AiError.AiError | TimeboxError.TimeboxError | Ledger.LedgerError
  >
  (options: Options): Effect.Effect<
    Result,
    AiError.AiError | TimeboxError.TimeboxError | Ledger.LedgerError,
    LanguageModel.LanguageModel
  >
} = (
  options: Options
): Effect.Effect<Result, AiError.AiError | TimeboxError.TimeboxError | Ledger.LedgerError, never> =>
  Effect.gen(function*() {
    const frame = yield* CurrentFrame
    const owner = frame?.owner
    if (isRouter(options.models) && options.models.candidates.length === 0) {
      return yield* TimeboxError.invalidConfig(
        "Inference.run",
        "models.candidates",
        [],
        "a router needs at least one model to choose from"
      )
    }
    for (const each of isRouter(options.models) ? options.models.candidates : [options.models]) {
      const problem = badProfile("profile" in each ? each.profile : each)
      if (problem !== undefined) return yield* problem
    }
    const maxSteps = options.maxSteps ?? 5
    const windowMs = yield* Deadline.remainingMillis
    let choice: Router.Choice | undefined
    let provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, any>
    let profile: ModelProfile.ModelProfile
    if (isRouter(options.models)) {
      choice = Router.choose(options.models, windowMs)
      const current = choice
      provide = planFrom(current.chosen, current)
      profile = current.chosen.profile
    } else {
      const fixed = options.models
      provide = (effect) => Effect.provideService(effect, ActiveProfile, fixed)
      profile = fixed
    }
    const report = (update: Partial<ModelChoice>) => {
      if (owner === undefined || choice === undefined) return
      const base = owner.extra?.model ?? choice.report
      owner.extra = { ...owner.extra, model: { ...base, ...update } }
    }
    report({})

    let prompt = Prompt.make(options.prompt)
    let text = ""
    let steps = 0
    let usage: Cost.Usage = { inputTokens: 0, outputTokens: 0, reasoningTokens: 0 }
    const toolResults: Array<ToolWindow.ToolResult<unknown>> = []
    let stopReason: StopReason = "max-steps"
    while (steps < maxSteps) {
      if (steps > 0 && (yield* Deadline.remainingMillis) < ModelProfile.p95Ms(profile)) {
        stopReason = "step-unaffordable"
        if (owner !== undefined) owner.degradation = "step-unaffordable"
        break
      }
      const firstToken = yield* Deferred.make<void>()
      let attempt: Effect.Effect<
        StepOutcome,
        AiError.AiError | TimeboxError.TimeboxError | Ledger.LedgerError,
        any
      > = provide(
        step(prompt, options, frame, firstToken)
      )
      if (steps === 0 && options.firstToken !== undefined) {
        attempt = firstTokenGuard(attempt, firstToken, options, choice, report)
      }
      const outcome: StepOutcome = yield* attempt
      steps++
      usage = plus(usage, outcome.usage)
      if (outcome.profile.name !== profile.name) {
        // Another model answered: a fallback after a provider error (a first-token fallback reported itself).
        if (owner?.extra?.model?.chosen !== outcome.profile.name) {
          report({ chosen: outcome.profile.name, reason: `fallback-after-error (${profile.name} failed)` })
          // A first-token time measured on the model that failed must not be credited to the one that answered.
          if (owner?.extra?.model !== undefined) {
            const { ttftMs: _measuredOnAnother, ...rest } = owner.extra.model
            owner.extra = {
              ...owner.extra,
              model: outcome.firstTokenMs === undefined ? rest : { ...rest, ttftMs: round(outcome.firstTokenMs) }
            }
          }
        }
        profile = outcome.profile
        // Later steps start from the model that answered, not from the one that failed or was too slow.
        const answered = choice?.fallbacks.find((candidate) => candidate.profile.name === outcome.profile.name)
        if (answered !== undefined && choice !== undefined) provide = planFrom(answered, choice)
      }
      if (steps === 1 && outcome.firstTokenMs !== undefined) report({ ttftMs: round(outcome.firstTokenMs) })
      text = outcome.text
      if (owner !== undefined) owner.extra = { ...owner.extra, steps }
      if (outcome.calls.length === 0 || options.toolkit === undefined) {
        stopReason = "answered"
        break
      }
      const results = yield* runTools(outcome.calls, options, frame)
      toolResults.push(...results)
      prompt = Prompt.concat(
        prompt,
        Prompt.make([
          {
            role: "assistant",
            content: outcome.calls.map((call) => ({
              type: "tool-call" as const,
              id: call.id,
              name: call.name,
              params: call.params
            }))
          },
          {
            role: "tool",
            content: results.map((result, index) => ({
              type: "tool-result" as const,
              id: outcome.calls[index]!.id,
              name: result.name,
              isFailure: result._tag !== "Completed",
              result: result._tag === "Completed" ? result.value : result.note
            }))
          }
        ])
      )
    }
    return { text, steps, stopReason, model: profile.name, toolResults, usage }
  }) as unknown as Effect.Effect<Result, AiError.AiError | TimeboxError.TimeboxError | Ledger.LedgerError, never>

const runTools = (
  calls: StepOutcome["calls"],
  options: Options,
  frame: Frame | undefined
): Effect.Effect<Array<ToolWindow.ToolResult<unknown>>, never, any> => {
  const toolkit = options.toolkit!
  return Effect.map(
    ToolWindow.parallel(
      calls.map((call) =>
        ToolWindow.call(
          call.name,
          Effect.flatMap(toolkit.handle(call.name, call.params as never, call.id), (results) =>
            Effect.flatMap(Stream.runLast(results as Stream.Stream<any, any, any>), (last) =>
              last._tag === "Some" ? Effect.succeed(last.value.encodedResult) : Effect.succeed(null))),
          options.toolAllocations?.[call.name] === undefined ? {} : { allocation: options.toolAllocations[call.name]! }
        )
      )
    ),
    (results) => {
      const list = results as Array<ToolWindow.ToolResult<unknown>>
      list.forEach((result, index) => {
        if (frame === undefined) return
        frame.run.emit?.({
          type: "tool-result",
          path: frame.path,
          id: calls[index]!.id,
          name: result.name,
          status: result._tag === "Completed" ? "completed" : result.status,
          result: result._tag === "Completed" ? result.value : result.note
        })
      })
      return list
    }
  )
}

/**
 * Races the first token of `attempt` against the first-token window; on a
 * timeout, either fails the stage or retries on the next faster candidate.
 */
const firstTokenGuard = (
  attempt: Effect.Effect<StepOutcome, AiError.AiError | TimeboxError.TimeboxError | Ledger.LedgerError, any>,
  firstToken: Deferred.Deferred<void>,
  options: Options,
  choice: Router.Choice | undefined,
  report: (update: Partial<ModelChoice>) => void
): Effect.Effect<StepOutcome, AiError.AiError | TimeboxError.TimeboxError | Ledger.LedgerError, any> =>
  Effect.gen(function*() {
    const guard = options.firstToken!
    const windowMs = Budget.toMillis(guard.window) ?? 0
    const fiber = yield* Effect.forkChild(attempt)
    // the attempt ending before its first token (a denied reservation, a provider error) ends the wait:
    // its own outcome is the answer
    const arrived = yield* Effect.raceAll([
      Effect.as(Deferred.await(firstToken), true),
      Effect.as(Fiber.await(fiber), true),
      Effect.as(Effect.sleep(Duration.millis(windowMs)), false)
    ])
    if (arrived) return yield* Fiber.join(fiber)
    yield* Fiber.interrupt(fiber)
    const current = choice?.chosen.profile
    const next = choice === undefined || current === undefined
      ? undefined
      // The next faster model: the slowest of those faster than the current one.
      : [...choice.fallbacks].sort((a, b) => ModelProfile.p95Ms(b.profile) - ModelProfile.p95Ms(a.profile))
        .find((candidate) => ModelProfile.p95Ms(candidate.profile) < ModelProfile.p95Ms(current))
    if (guard.onTimeout === "fail" || next === undefined) {
      report({ reason: `first-token-timeout after ${windowMs}ms` })
      return yield* new TimeboxError.TimeboxError({
        method: "Inference.run",
        reason: new TimeboxError.StageFailed({ stage: "inference", detail: `no first token within ${windowMs}ms` })
      })
    }
    report({
      chosen: next.profile.name,
      reason: `first-token-timeout after ${windowMs}ms: ${current!.name} → ${next.profile.name}`
    })
    const frame = yield* CurrentFrame
    const retry = yield* Deferred.make<void>()
    return yield* Effect.provide(
      step(Prompt.make(options.prompt), options, frame, retry),
      withProfile(next)
    )
  })
