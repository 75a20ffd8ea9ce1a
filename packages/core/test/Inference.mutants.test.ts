// Tests that pin the contract of routing, the inference stage, profiles, the
// simulated model and cost where a mutation of the source survived the other
// suites (scratch/mut-inf). Every timing runs under TestClock.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schema, Stream } from "effect"
import { AiError, LanguageModel, type Response, Tool, Toolkit } from "effect/ai"
import { TestClock } from "effect/testing"
import {
  Agent,
  type Budget,
  Cost,
  Inference,
  ModelProfile,
  Pipeline,
  Report,
  Router,
  SimulatedModel,
  Stage
} from "../src/index.ts"
import { makeRecordingModel, presets, runUnderTestClock } from "../src/testing/index.ts"

const LookupOrder = Tool.make("LookupOrder", {
  description: "Find an order",
  parameters: Schema.Struct({ id: Schema.String }),
  success: Schema.String
})
const Desk = Toolkit.make(LookupOrder)
const DeskHandlers = Desk.toLayer({
  LookupOrder: ({ id }) => Effect.as(Effect.sleep("300 millis"), `order ${id}: shipped`)
})

const usage = (input: number, output: number, reasoning = 0): Response.FinishPartEncoded["usage"] => ({
  inputTokens: { total: input, uncached: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output - reasoning, reasoning }
})

type Part = Response.StreamPartEncoded | { readonly sleepMs: number }

const toolCall = (id: string, usageOf = usage(10, 20)): ReadonlyArray<Part> => [
  { type: "tool-call", id, name: "LookupOrder", params: { id: "A-1" } },
  { type: "finish", reason: "tool-calls", usage: usageOf }
]
const answer = (text: string, usageOf = usage(10, 5)): ReadonlyArray<Part> => [
  { type: "text-start", id: "t" },
  { type: "text-delta", id: "t", delta: text },
  { type: "text-end", id: "t" },
  { type: "finish", reason: "stop", usage: usageOf }
]

const partOrPause = (part: Part): Stream.Stream<Response.StreamPartEncoded> =>
  "sleepMs" in part ? Stream.drain(Stream.fromEffect(Effect.sleep(part.sleepMs))) : Stream.succeed(part)

/**
 * A streaming fake whose n-th call (from 0) answers `reply(n)`: parts, with
 * `{ sleepMs }` pauses between them, or "fail" for a rate-limit `AiError`.
 */
const fakeModel = (reply: (call: number) => ReadonlyArray<Part> | "fail") => {
  let calls = 0
  const layer = Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () => Effect.die("fakeModel streams only"),
      streamText: () =>
        Stream.suspend(() => {
          const parts = reply(calls++)
          if (parts === "fail") {
            return Stream.fail(
              AiError.make({ module: "FakeModel", method: "streamText", reason: new AiError.RateLimitError({}) })
            )
          }
          return Stream.flatMap(Stream.fromIterable(parts), partOrPause)
        })
    })
  )
  return { layer, calls: () => calls }
}

// p95 = (100 / 100 × 1000) × (1 + 0) + 200 = 1,200 ms exactly; expected = 100 + 1,000 = 1,100 ms
const exact: ModelProfile.ModelProfile = {
  ...presets.fast,
  name: "exact",
  jitter: 0,
  ttftMs: 100,
  ttftP95Ms: 200,
  tokensPerSecond: 100,
  expectedOutputTokens: 100,
  accuracy: 4.5
}

// An agent whose only stage is an inference with the desk's toolkit, starting at 0 ms.
const deskAgent = <E, R>(
  infer: (input: string, toolkit: Toolkit.WithHandler<any>) => Effect.Effect<Inference.Result, E, R>,
  allocation: Budget.Allocation = "5 seconds"
) =>
  Agent.make({
    name: "desk",
    budget: "10 seconds",
    pipeline: Pipeline.make<string>().add(
      Stage.required(
        "inference",
        ({ input }) => Effect.flatMap(Desk, (toolkit) => infer(input, toolkit)).pipe(Effect.provide(DeskHandlers)),
        { allocation }
      )
    )
  })

const outputOf = <A>(result: Report.RunResult<A>): A => {
  if (result.status !== "complete" && result.status !== "partial") throw new Error(`run ${result.status}`)
  return result.output
}

describe("Router (mutants)", () => {
  it.effect("a candidate whose p95 equals the window fits it (p95 ≤ window), 1 ms less does not", () =>
    Effect.gen(function*() {
      const router = Router.make([
        { profile: exact, layer: makeRecordingModel({}).layer },
        { profile: presets.fast, layer: makeRecordingModel({}).layer }
      ])
      const agent = (allocation: Budget.Allocation) =>
        deskAgent((input) => Inference.run({ prompt: input, models: router }), allocation)
      const fits = Report.find((yield* runUnderTestClock(agent("1200 millis"), "hi")).report, "inference")?.model
      assert.strictEqual(fits?.chosen, "exact")
      assert.strictEqual(fits?.reason, "most-capable-that-fits")
      const candidates = fits?.candidates.map((c) => [c.name, c.p95Ms, c.fits])
      assert.deepStrictEqual(candidates, [["exact", 1200, true], ["fast", 1176, true]])
      const short = Report.find((yield* runUnderTestClock(agent("1199 millis"), "hi")).report, "inference")?.model
      assert.strictEqual(short?.chosen, "fast")
    }))

  it.effect("among equally accurate candidates that fit, the faster is chosen and the slower is its fallback", () =>
    Effect.gen(function*() {
      const twin: ModelProfile.ModelProfile = {
        ...presets.fast,
        name: "fast-twin",
        accuracy: presets.balanced.accuracy
      }
      const router = Router.make([
        { profile: presets.balanced, layer: makeRecordingModel({}).layer },
        { profile: twin, layer: makeRecordingModel({}).layer }
      ])
      assert.deepStrictEqual(Router.choose(router, 5_000).fallbacks.map((c) => c.profile.name), ["balanced"])
      const result = yield* runUnderTestClock(
        deskAgent((input) => Inference.run({ prompt: input, models: router })),
        "hi"
      )
      assert.strictEqual(Report.find(result.report, "inference")?.model?.chosen, "fast-twin")
      assert.strictEqual(outputOf(result).model, "fast-twin")
    }))

  it.effect("updateProfile changes only the named candidate", () =>
    Effect.gen(function*() {
      const router = Router.simulated([presets.balanced, presets.fast])
      const updated = Router.updateProfile(router, "balanced", (profile) => ({ ...profile, ttftP95Ms: 5_000 }))
      assert.strictEqual(updated.candidates[1]!.profile, presets.fast)
      const result = yield* runUnderTestClock(
        deskAgent((input) => Inference.run({ prompt: input, models: updated }), "2200 millis"),
        "hi"
      )
      const model = Report.find(result.report, "inference")?.model
      // balanced no longer fits 2.2 s; fast, untouched, still does
      assert.strictEqual(model?.chosen, "fast")
      assert.strictEqual(model?.reason, "most-capable-that-fits")
    }))

  it.effect("learned tokens per second change routing; a 0 tokens/s observation is ignored", () =>
    Effect.gen(function*() {
      const router = Router.simulated([presets.balanced, presets.fast])
      // balanced's median first token (560 ms) is observed unchanged, its speed as 180 tokens/s, then as 0
      const learned = Router.updateProfile(
        router,
        "balanced",
        (profile) =>
          ModelProfile.observe(profile, [{ ttftMs: 560, tokensPerSecond: 180 }, { ttftMs: 560, tokensPerSecond: 0 }])
      )
      const balanced = learned.candidates[0]!.profile
      assert.closeTo(balanced.tokensPerSecond, 108, 1e-9) // 90 + 0.2 × (180 − 90)
      assert.strictEqual(balanced.ttftP95Ms, 780)
      // p95: 112 / 108 × 1000 × 1.1 + 780 ≈ 1,920.7 ms: fits 2 s now (it was 2,148.9 ms)
      const agent = (models: Router.Router) =>
        deskAgent((input) => Inference.run({ prompt: input, models }), "2000 millis")
      const before = yield* runUnderTestClock(agent(router), "hi")
      assert.strictEqual(Report.find(before.report, "inference")?.model?.chosen, "fast")
      const after = yield* runUnderTestClock(agent(learned), "hi")
      assert.strictEqual(Report.find(after.report, "inference")?.model?.chosen, "balanced")
    }))

  it.effect("Router.learn observes routed stages nested inside another stage", () =>
    Effect.gen(function*() {
      const router = Router.simulated([presets.fast])
      const inner = Stage.required("inference", (input: string) => Inference.run({ prompt: input, models: router }))
      const agent = Agent.make({
        name: "nested",
        budget: "10 seconds",
        pipeline: Pipeline.make<string>().add(
          Stage.required("answer", ({ input }) => Stage.run(inner, input), { allocation: "5 seconds" })
        )
      })
      const result = yield* runUnderTestClock(agent, "Where is my order?")
      const observed = Report.find(result.report, "answer/inference")?.model?.ttftMs
      assert.isDefined(observed)
      assert.notStrictEqual(observed, presets.fast.ttftMs)
      const learned = Router.learn(router, result.report).candidates[0]!.profile
      assert.closeTo(learned.ttftMs, presets.fast.ttftMs + 0.2 * (observed! - presets.fast.ttftMs), 1e-9)
    }))
})

describe("Inference (mutants)", () => {
  it.effect("the step check: remaining == p95 affords one more step; 1 ms less (still above the median) does not", () =>
    Effect.gen(function*() {
      const agent = (allocation: Budget.Allocation) =>
        deskAgent(
          (input, toolkit) =>
            Inference.run({ prompt: input, models: exact, toolkit }).pipe(
              Effect.provide(fakeModel((call) => call === 0 ? toolCall("c1") : answer("shipped")).layer)
            ),
          allocation
        )
      // step 1 at 0 ms, the tool until 300 ms: 1,200 ms left, exactly exact's p95
      const enough = yield* runUnderTestClock(agent("1500 millis"), "hi")
      assert.strictEqual(outputOf(enough).steps, 2)
      assert.strictEqual(outputOf(enough).stopReason, "answered")
      // 1,199 ms left: under the p95 (1,200), over the median (1,100)
      const short = yield* runUnderTestClock(agent("1499 millis"), "hi")
      assert.strictEqual(outputOf(short).steps, 1)
      assert.strictEqual(outputOf(short).stopReason, "step-unaffordable")
      assert.include(Report.find(short.report, "inference")?.reason, "step-unaffordable")
    }))

  it.effect("usage is summed over every step of a tool loop, reasoning included, like the report's cost", () =>
    Effect.gen(function*() {
      const model = fakeModel((call) =>
        call === 0 ? toolCall("c1", usage(10, 25, 20)) : answer("shipped", usage(30, 12, 4))
      )
      const result = yield* runUnderTestClock(
        deskAgent((input, toolkit) =>
          Inference.run({ prompt: input, models: presets.fast, toolkit }).pipe(Effect.provide(model.layer))
        ),
        "hi"
      )
      const expected = { inputTokens: 40, outputTokens: 13, reasoningTokens: 24 }
      assert.deepStrictEqual(outputOf(result).usage, expected)
      // 40 × 750 + (13 + 24) × 800 = 59,600 nano-USD → 60 µUSD
      assert.deepStrictEqual(result.report.cost, { ...expected, microUsd: 60 })
    }))

  it.effect("the result's text is the last step's", () =>
    Effect.gen(function*() {
      const model = fakeModel((call) =>
        call === 0
          ? [...answer("Let me look.").slice(0, 3), ...toolCall("c1")]
          : answer("Order A-1 has shipped.")
      )
      const result = yield* runUnderTestClock(
        deskAgent((input, toolkit) =>
          Inference.run({ prompt: input, models: presets.fast, toolkit }).pipe(Effect.provide(model.layer))
        ),
        "hi"
      )
      assert.strictEqual(outputOf(result).steps, 2)
      assert.strictEqual(outputOf(result).text, "Order A-1 has shipped.")
    }))

  it.effect("maxSteps defaults to 5", () =>
    Effect.gen(function*() {
      const model = fakeModel((call) => toolCall(`c${call}`))
      const result = yield* runUnderTestClock(
        deskAgent(
          (input, toolkit) =>
            Inference.run({ prompt: input, models: presets.fast, toolkit }).pipe(Effect.provide(model.layer)),
          "9 seconds"
        ),
        "hi"
      )
      assert.strictEqual(model.calls(), 5)
      assert.strictEqual(outputOf(result).steps, 5)
      assert.strictEqual(outputOf(result).stopReason, "max-steps")
    }))

  it.effect("after an error fallback, the answering model's p95 decides the next step and names the result", () =>
    Effect.gen(function*() {
      const failing = makeRecordingModel({ fail: true })
      const fast = fakeModel((call) => call === 0 ? toolCall("c1") : answer("shipped"))
      const router = Router.make([
        { profile: presets.large, layer: failing.layer },
        { profile: presets.fast, layer: fast.layer }
      ])
      // 3 s fits large (p95 2,962); it fails, fast asks for the tool, and at 300 ms 2,700 ms are left:
      // enough for fast (1,176.25), not for large
      const result = yield* runUnderTestClock(
        deskAgent((input, toolkit) => Inference.run({ prompt: input, models: router, toolkit }), "3 seconds"),
        "hi"
      )
      assert.strictEqual(failing.calls.length, 1)
      assert.strictEqual(fast.calls(), 2)
      assert.strictEqual(outputOf(result).stopReason, "answered")
      assert.strictEqual(outputOf(result).model, "fast")
      assert.strictEqual(Report.find(result.report, "inference")?.model?.chosen, "fast")
    }))

  it.effect("after a fallback, a later provider error goes back to the router's choice before the rest", () =>
    Effect.gen(function*() {
      const large = fakeModel((call) => call === 0 ? "fail" : answer("from large"))
      const balanced = fakeModel((call) => call === 0 ? toolCall("c1") : "fail")
      const fast = fakeModel(() => answer("from fast"))
      const router = Router.make([
        { profile: presets.large, layer: large.layer },
        { profile: presets.balanced, layer: balanced.layer },
        { profile: presets.fast, layer: fast.layer }
      ])
      const result = yield* runUnderTestClock(
        deskAgent((input, toolkit) => Inference.run({ prompt: input, models: router, toolkit })),
        "hi"
      )
      // step 1: large fails, balanced asks for the tool; step 2: balanced fails, then large (the choice), not fast
      assert.deepStrictEqual([large.calls(), balanced.calls(), fast.calls()], [2, 2, 0])
      assert.strictEqual(outputOf(result).text, "from large")
      assert.strictEqual(outputOf(result).model, "large")
      const model = Report.find(result.report, "inference")?.model
      assert.strictEqual(model?.chosen, "large")
      assert.strictEqual(model?.reason, "fallback-after-error (balanced failed)")
    }))

  it.effect("a tool call is a first token: it ends the first-token wait", () =>
    Effect.gen(function*() {
      // the tool call at 100 ms, the stream's finish at 900 ms: past the 500 ms window, but the token came
      const model = fakeModel((call) =>
        call === 0 ? [{ sleepMs: 100 }, toolCall("c1")[0]!, { sleepMs: 800 }, toolCall("c1")[1]!] : answer("shipped")
      )
      const router = Router.make([{ profile: presets.fast, layer: model.layer }])
      const result = yield* runUnderTestClock(
        deskAgent((input, toolkit) =>
          Inference.run({
            prompt: input,
            models: router,
            toolkit,
            firstToken: { window: "500 millis", onTimeout: "fail" }
          })
        ),
        "hi"
      )
      assert.strictEqual(result.status, "complete")
      assert.strictEqual(outputOf(result).steps, 2)
      assert.strictEqual(Report.find(result.report, "inference")?.model?.ttftMs, 100)
    }))

  it.effect("the first-token window runs from the call's start, not the run's", () =>
    Effect.gen(function*() {
      const models = Router.simulated([presets.large, presets.balanced, presets.fast])
      const agent = Agent.make({
        name: "late-inference",
        budget: "10 seconds",
        pipeline: Pipeline.make<string>()
          .add(Stage.required("auth", () => Effect.sleep("200 millis")))
          .add(
            Stage.required("inference", ({ input }) =>
              Inference.run({
                prompt: input,
                models,
                stream: true,
                firstToken: { window: "500 millis", onTimeout: "fallback" }
              }))
          )
      })
      const result = yield* runUnderTestClock(agent, "hi")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.startedAtMs, 200)
      assert.strictEqual(inference.model?.chosen, "balanced")
      // the stage's first token: the 500 ms waited on large, then balanced's own first token
      assert.closeTo(inference.ttftMs!, 500 + inference.model!.ttftMs!, 1e-6)
    }))
})

describe("Cost and the simulated model (mutants)", () => {
  it.effect("hidden reasoning tokens are billed at the output price, not the input price", () =>
    Effect.gen(function*() {
      const thinker: ModelProfile.ModelProfile = {
        ...presets.reasoning,
        name: "thinker",
        price: { inputNanoUsdPerToken: 1_000, outputNanoUsdPerToken: 3_000 }
      }
      assert.strictEqual(
        Cost.nanoUsd({ inputTokens: 6, outputTokens: 112, reasoningTokens: 300 }, thinker.price),
        6 * 1_000 + 412 * 3_000
      )
      const agent = Agent.make({
        name: "thinking",
        budget: "10 seconds",
        pipeline: Pipeline.make<string>().add(
          Stage.required("inference", ({ input }) =>
            Inference.run({ prompt: input, models: thinker }).pipe(
              Effect.provide(SimulatedModel.layer({ profile: thinker }))
            ))
        )
      })
      const result = yield* runUnderTestClock(agent, "Why is my parcel late?")
      // 6 × 1,000 + (112 + 300) × 3,000 = 1,242,000 nano-USD
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 6,
        outputTokens: 112,
        reasoningTokens: 300,
        microUsd: 1_242
      })
    }))

  it("a tally counts each call once", () => {
    const tally = Cost.makeTally()
    Cost.add(tally, { inputTokens: 1, outputTokens: 1, reasoningTokens: 0 }, presets.fast.price)
    Cost.add(tally, { inputTokens: 1, outputTokens: 1, reasoningTokens: 0 }, presets.fast.price)
    assert.strictEqual(tally.calls, 2)
  })

  it.effect("the simulated model stops at OutputLimit, reasoning included, and finishes with length", () =>
    Effect.gen(function*() {
      const generate = (profile: ModelProfile.ModelProfile, limit: number) =>
        LanguageModel.generateText({ prompt: "Why is my parcel late?" }).pipe(
          Effect.provide(SimulatedModel.layer({ profile })),
          Effect.provideService(ModelProfile.OutputLimit, limit)
        )
      const fiber = yield* Effect.forkChild(
        Effect.all([generate(presets.reasoning, 100), generate(presets.fast, 50)])
      )
      yield* TestClock.adjust("30 seconds")
      const [reasoning, fast] = yield* Fiber.join(fiber)
      // 300 hidden tokens wanted, 100 allowed: all of them reasoning, no text
      assert.strictEqual(reasoning.finishReason, "length")
      assert.strictEqual(reasoning.usage.outputTokens.total, 100)
      assert.strictEqual(reasoning.usage.outputTokens.reasoning, 100)
      assert.strictEqual(reasoning.text, "")
      assert.strictEqual(fast.finishReason, "length")
      assert.strictEqual(fast.usage.outputTokens.total, 50)
    }))
})
