/**
 * Test helpers for timebox users, published as `@timebox/core/testing`:
 * run an agent under `TestClock` and read its report deterministically.
 *
 * @since 0.1.0
 */
import { type Duration, Effect, Fiber, Layer, Stream } from "effect"
import { AiError, LanguageModel, type Response } from "effect/ai"
import { TestClock } from "effect/testing"
import * as Agent from "../Agent.ts"
import * as ModelProfile from "../ModelProfile.ts"
import type { RunResult } from "../Report.ts"
import type * as TimeboxError from "../TimeboxError.ts"

/**
 * Runs `agent` on a forked fiber, moves the `TestClock` forward by `advance`
 * (default: one hour, past any budget), and returns the result. Use inside
 * `it.effect`, where the `TestClock` starts at 0 and only moves when told.
 *
 * **Example** (A degradation path in a unit test)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Report, Simulation } from "@timebox/core"
 * import { runUnderTestClock } from "@timebox/core/testing"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const slowRag = Effect.gen(function*() {
 *   const result = yield* runUnderTestClock(SupportAgent.agent, "Where is my order?").pipe(
 *     Simulation.withLatencies({ rag: 400 })
 *   )
 *   return Report.find(result.report, "context/rag")?.status // "timed-out"
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const runUnderTestClock = <In, Out, R>(
  agent: Agent.Agent<In, Out, R>,
  input: In,
  options?: Agent.RunOptions & { readonly advance?: Duration.Input | undefined }
): Effect.Effect<RunResult<Out>, TimeboxError.TimeboxError, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Agent.run(agent, input, options))
    yield* TestClock.adjust(options?.advance ?? "1 hour")
    return yield* Fiber.join(fiber)
  })

/**
 * The simulated-model presets (`fast`, `balanced`, `large`, `reasoning`,
 * `reasoningHigh`), re-exported for tests.
 *
 * **Example** (A test on the fast preset)
 *
 * ```ts
 * import { SimulatedModel } from "@timebox/core"
 * import { presets } from "@timebox/core/testing"
 *
 * const model = SimulatedModel.layer({ profile: presets.fast })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const presets = ModelProfile.presets

/**
 * A fake `LanguageModel` that records every request it receives and answers
 * with canned parts (or a function of the request); with `fail`, every call
 * fails with a rate-limit `AiError`.
 *
 * **Example** (Asserting what the model was sent)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { makeRecordingModel } from "@timebox/core/testing"
 *
 * const program = Effect.gen(function*() {
 *   const fake = makeRecordingModel({ text: "hello" })
 *   yield* LanguageModel.generateText({ prompt: "hi" }).pipe(Effect.provide(fake.layer))
 *   return fake.calls.length // 1
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRecordingModel = (options: {
  readonly text?: string | undefined
  readonly respond?: ((request: LanguageModel.ProviderOptions) => ReadonlyArray<Response.StreamPartEncoded>) | undefined
  readonly fail?: boolean | undefined
}): {
  readonly calls: Array<LanguageModel.ProviderOptions>
  readonly layer: Layer.Layer<LanguageModel.LanguageModel>
} => {
  const calls: Array<LanguageModel.ProviderOptions> = []
  const usage = {
    inputTokens: { total: 10, uncached: 10, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: 5, text: 5, reasoning: 0 }
  }
  const partsFor = (request: LanguageModel.ProviderOptions): ReadonlyArray<Response.StreamPartEncoded> =>
    options.respond?.(request) ?? [
      { type: "text-start", id: "t" },
      { type: "text-delta", id: "t", delta: options.text ?? "ok" },
      { type: "text-end", id: "t" },
      { type: "finish", reason: "stop", usage }
    ]
  const failure = () =>
    AiError.make({ module: "RecordingModel", method: "streamText", reason: new AiError.RateLimitError({}) })
  const layer = Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: (request) =>
        Effect.suspend(() => {
          calls.push(request)
          if (options.fail === true) return Effect.fail(failure())
          const text = partsFor(request).flatMap((part) => (part.type === "text-delta" ? [part.delta] : [])).join("")
          return Effect.succeed<Array<Response.PartEncoded>>([
            { type: "text", text },
            { type: "finish", reason: "stop", usage }
          ])
        }),
      streamText: (request) =>
        Stream.suspend(() => {
          calls.push(request)
          return options.fail === true ? Stream.fail(failure()) : Stream.fromIterable(partsFor(request))
        })
    })
  )
  return { calls, layer }
}
