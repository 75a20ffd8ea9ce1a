import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Stream } from "effect"
import { LanguageModel } from "effect/ai"
import { TestClock } from "effect/testing"
import { ModelProfile, SimulatedModel, Simulation } from "../src/index.ts"

const fast = ModelProfile.presets.fast

describe("SimulatedModel", () => {
  it.effect("streams real text token by token through Clock, with usage", () =>
    Effect.gen(function*() {
      const arrivals: Array<number> = []
      const fiber = yield* Effect.forkChild(
        LanguageModel.streamText({ prompt: "Where is my order?" }).pipe(
          Stream.tap((part) =>
            part.type === "text-delta" ? Effect.map(Clock.currentTimeMillis, (ms) => arrivals.push(ms)) : Effect.void
          ),
          Stream.runCollect,
          Effect.provide(SimulatedModel.layer({ profile: fast, outputTokens: 20 }))
        )
      )
      yield* TestClock.adjust("5 seconds")
      const parts = yield* Fiber.join(fiber)
      const deltas = parts.filter((part) => part.type === "text-delta")
      assert.strictEqual(deltas.length, 20)
      // first token after the jittered TTFT (300 ms ± 10%), then one every ~1000/160 ms
      assert.isAtLeast(arrivals[0]!, 270)
      assert.isAtMost(arrivals[0]!, 330 + 7)
      const gap = arrivals[1]! - arrivals[0]!
      assert.isAtLeast(gap, 5.6)
      assert.isAtMost(gap, 6.9)
      const finish = parts.find((part) => part.type === "finish")
      assert.strictEqual(finish?.type === "finish" ? finish.usage.outputTokens.total : -1, 20)
      assert.isAbove(finish?.type === "finish" ? finish.usage.inputTokens.total ?? 0 : 0, 0)
    }))

  it.effect("is deterministic for a seed and a prompt", () =>
    Effect.gen(function*() {
      const generate = (seed: number) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(
            LanguageModel.generateText({ prompt: "Where is my order?" }).pipe(
              Effect.provide(SimulatedModel.layer({ profile: fast })),
              Simulation.withSeed(seed)
            )
          )
          yield* TestClock.adjust("5 seconds")
          return (yield* Fiber.join(fiber)).text
        })
      const a = yield* generate(1)
      const b = yield* generate(1)
      const c = yield* generate(2)
      assert.strictEqual(a, b)
      assert.notStrictEqual(a, c)
      assert.isTrue(a.endsWith("."))
      assert.strictEqual(a.split(" ").length, ModelProfile.presets.fast.expectedOutputTokens)
    }))

  it.effect("reasoning models spend hidden time and tokens before the first visible token", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        LanguageModel.streamText({ prompt: "Why?" }).pipe(
          Stream.filter((part) => part.type === "text-delta"),
          Stream.take(1),
          Stream.runCollect,
          Effect.andThen(Clock.currentTimeMillis),
          Effect.provide(SimulatedModel.layer({ profile: ModelProfile.presets.reasoning }))
        )
      )
      yield* TestClock.adjust("10 seconds")
      const firstTokenAt = yield* Fiber.join(fiber)
      // 1,200 ms reasoning + 560 ms first token, each ± 10%
      assert.isAtLeast(firstTokenAt, (1_200 + 560) * 0.9)
      assert.isAtMost(firstTokenAt, (1_200 + 560) * 1.1)
    }))

  it.effect("a forced latency (Simulation.Overrides) sets the whole call's duration", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        LanguageModel.generateText({ prompt: "hi" }).pipe(
          Effect.andThen(Clock.currentTimeMillis),
          Effect.provide(SimulatedModel.layer({ profile: fast, latencyKey: "inference" })),
          Simulation.withLatencies({ inference: 1_600 })
        )
      )
      yield* TestClock.adjust("5 seconds")
      assert.closeTo(yield* Fiber.join(fiber), 1_600, 0.001)
    }))

  it("presets follow the published grid", () => {
    assert.closeTo(ModelProfile.expectedMs(ModelProfile.presets.fast), 1_000, 100)
    assert.closeTo(ModelProfile.expectedMs(ModelProfile.presets.balanced), 1_800, 50)
    assert.closeTo(ModelProfile.expectedMs(ModelProfile.presets.large), 2_500, 50)
    assert.closeTo(
      ModelProfile.expectedMs(ModelProfile.presets.reasoning) - ModelProfile.expectedMs(ModelProfile.presets.balanced),
      1_200,
      1
    )
    // $0.00075 per 1K input tokens, exactly, as integers
    assert.strictEqual(ModelProfile.presets.fast.price.inputNanoUsdPerToken * 1_000, 750_000)
    assert.isTrue(Number.isInteger(ModelProfile.presets.large.price.outputNanoUsdPerToken))
  })
})
