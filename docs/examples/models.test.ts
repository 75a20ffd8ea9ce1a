// The code and the figures of docs/concepts/models-and-inference.md: its code
// blocks are regions of this file (scripts/docs-check.mjs keeps them equal),
// and every figure the page quotes is pinned by a test below, under TestClock
// with seed 1.
import { assert, describe, it } from "@effect/vitest"
import {
  Agent,
  type Budget,
  Cost,
  Inference,
  ModelProfile,
  OpenAiCompatible,
  Pipeline,
  Report,
  Router,
  type RunEvent,
  SimulatedModel,
  Simulation,
  Stage
} from "@timebox/core"
import { makeRecordingModel, presets, runUnderTestClock } from "@timebox/core/testing"
import { SupportAgent } from "@timebox/example-support-agent"
import { Clock, ConfigProvider, Effect, Fiber, Layer, Option, Redacted, Schema, Stream } from "effect"
import { AiError, LanguageModel, type Response, Tool, Toolkit } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { TestClock } from "effect/testing"

const question = "Where is my order?"

// An agent whose only stage is an inference, for the tests below.
const inferenceOnly = <E>(
  name: string,
  run: (input: string) => Effect.Effect<Inference.Result, E>,
  allocation?: Budget.Allocation
) =>
  Agent.make({
    name,
    budget: "10 seconds",
    pipeline: Pipeline.make<string>().add(
      Stage.required("inference", ({ input }) => run(input), allocation === undefined ? {} : { allocation })
    )
  })

// Runs `effect` on a fork, moves the TestClock by 30 s, and returns its value and when it ended.
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.forkChild(
      Effect.flatMap(effect, (value) => Effect.map(Clock.currentTimeMillis, (end) => ({ value, ms: end - start })))
    )
    yield* TestClock.adjust("30 seconds")
    return yield* Fiber.join(fiber)
  })

const round3 = (ms: number) => Math.round(ms * 1000) / 1000

describe("the simulated model", () => {
  // region: profile
  // What a model costs in time and money. Times in ms, prices in integer nano-USD per token.
  const supportSmall: ModelProfile.ModelProfile = {
    ...ModelProfile.presets.fast,
    name: "support-small",
    ttftMs: 330, // median time to the first visible token
    ttftP95Ms: 360,
    tokensPerSecond: 250,
    jitter: 0.08, // every duration ± 8%
    expectedOutputTokens: 55,
    maxOutputTokens: 256
  }

  const expected = ModelProfile.expectedMs(supportSmall) // 330 + 55 / 250 × 1000 = 550
  const p95 = ModelProfile.p95Ms(supportSmall) // 360 + 220 × 1.08 = 597.6
  // endregion

  it("the support agent's profile: 550 ms expected, 597.6 ms at p95", () => {
    assert.deepStrictEqual(supportSmall, SupportAgent.model)
    assert.strictEqual(expected, 550)
    assert.closeTo(p95, 597.6, 1e-9)
    // the fastest and slowest calls: the first token, then 54 intervals of 4 ms, all ± 8%
    assert.closeTo((supportSmall.ttftMs + 54 * 4) * (1 - supportSmall.jitter), 502.32, 1e-9)
    assert.closeTo((supportSmall.ttftMs + 54 * 4) * (1 + supportSmall.jitter), 589.68, 1e-9)
  })

  it("the presets: expected and p95 latency, prices, accuracy", () => {
    const grid = Object.values(presets).map((profile) => [
      profile.name,
      Math.round(ModelProfile.expectedMs(profile)),
      Math.round(ModelProfile.p95Ms(profile)),
      profile.price.inputNanoUsdPerToken,
      profile.price.outputNanoUsdPerToken,
      profile.reasoningTokens,
      profile.accuracy
    ])
    assert.deepStrictEqual(grid, [
      ["fast", 988, 1176, 750, 800, 0, 4.1],
      ["balanced", 1804, 2149, 3_000, 3_000, 0, 4.4],
      ["large", 2497, 2962, 15_000, 15_000, 0, 4.6],
      ["reasoning", 3004, 3469, 3_000, 3_000, 300, 4.7],
      ["reasoning-high", 7804, 10415, 3_000, 3_000, 1_500, 4.8]
    ])
  })

  // region: generate
  // An effect/ai LanguageModel: generateText and streamText work as with any provider.
  const answer = LanguageModel.generateText({ prompt: question }).pipe(
    Effect.provide(SimulatedModel.layer({ profile: ModelProfile.presets.fast }))
  )
  // endregion

  it.effect("deterministic for a seed and a prompt: the same text, timing and usage", () =>
    Effect.gen(function*() {
      const first = yield* timed(answer)
      const again = yield* timed(answer)
      const seed2 = yield* timed(Simulation.withSeed(answer, 2))
      const otherPrompt = yield* timed(
        LanguageModel.generateText({ prompt: "Can I get a refund?" }).pipe(
          Effect.provide(SimulatedModel.layer({ profile: ModelProfile.presets.fast }))
        )
      )
      assert.strictEqual(round3(first.ms), 1040.303)
      assert.strictEqual(again.value.text, first.value.text)
      assert.strictEqual(round3(again.ms), round3(first.ms))
      assert.isTrue(first.value.text.startsWith("I looked into this for you. "))
      assert.strictEqual(first.value.text.split(" ").length, 110) // the fast preset's expected output
      assert.strictEqual(first.value.usage.inputTokens.total, 5) // ⌈18 characters / 4⌉
      assert.strictEqual(first.value.usage.outputTokens.total, 110)
      assert.strictEqual(round3(seed2.ms), 1022.497)
      assert.notStrictEqual(seed2.value.text, first.value.text)
      assert.notStrictEqual(otherPrompt.ms, first.ms)
    }))

  // region: latency-key
  // latencyKey names the Simulation override that forces a call's whole duration.
  const forced = LanguageModel.generateText({ prompt: question }).pipe(
    Effect.provide(SimulatedModel.layer({ profile: ModelProfile.presets.fast, latencyKey: "inference" })),
    Simulation.withLatencies({ inference: 1_600 })
  )
  // endregion

  it.effect("a forced latency sets the whole call; the support agent's key is inference", () =>
    Effect.gen(function*() {
      assert.closeTo((yield* timed(forced)).ms, 1_600, 1e-9)
      const result = yield* runUnderTestClock(SupportAgent.agent, question).pipe(
        Simulation.withLatencies({ inference: 1_000 })
      )
      const inference = Report.find(result.report, "inference")
      assert.strictEqual(inference?.actualMs, 1_000)
      // 40% (400 ms) before the first token, then 600 ms over the 54 tokens after it
      assert.strictEqual(inference?.ttftMs, 400)
      assert.strictEqual(inference?.ttltMs, 1_000)
    }))

  it.effect("a reasoning model spends hidden time and bills hidden tokens as output", () =>
    Effect.gen(function*() {
      const agent = inferenceOnly(
        "reasoning",
        (input) => Inference.run({ prompt: input, models: Router.simulated([presets.reasoning]), stream: true })
      )
      const result = yield* runUnderTestClock(agent, "Why is my parcel late?")
      const inference = Report.find(result.report, "inference")
      assert.strictEqual(inference?.ttftMs, 1797.888) // 1,200 ms reasoning + 560 ms first token, each ± 10%
      assert.strictEqual(inference?.ttltMs, 3015.752)
      // 6 × 3,000 + (112 + 300) × 3,000 = 1,254,000 nano-USD
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 6,
        outputTokens: 112,
        reasoningTokens: 300,
        microUsd: 1254
      })
    }))
})

describe("routing by the remaining window", () => {
  // region: router
  const router = Router.simulated([
    ModelProfile.presets.large,
    ModelProfile.presets.balanced,
    ModelProfile.presets.fast
  ])

  const choices = [3_000, 2_500, 1_500, 500].map((windowMs) => Router.choose(router, windowMs).report)
  // large (its p95, 2,962 ms, fits 3 s), balanced (2,149 ms fits 2.5 s), fast (1,176 ms fits 1.5 s),
  // and fast again for 500 ms, where nothing fits: reason "none-fits-fastest"
  // endregion

  it("the most capable model whose p95 fits; else the fastest", () => {
    assert.deepStrictEqual(choices.map((choice) => [choice.chosen, choice.reason]), [
      ["large", "most-capable-that-fits"],
      ["balanced", "most-capable-that-fits"],
      ["fast", "most-capable-that-fits"],
      ["fast", "none-fits-fastest"]
    ])
    const chosen = (windowMs: number) => {
      const choice = Router.choose(router, windowMs)
      return [choice.report.chosen, choice.report.reason, choice.fallbacks.map((candidate) => candidate.profile.name)]
    }
    assert.deepStrictEqual(chosen(3_000), ["large", "most-capable-that-fits", ["balanced", "fast"]])
    assert.deepStrictEqual(chosen(2_500), ["balanced", "most-capable-that-fits", ["fast", "large"]])
    assert.deepStrictEqual(chosen(1_500), ["fast", "most-capable-that-fits", ["balanced", "large"]])
    assert.deepStrictEqual(chosen(500), ["fast", "none-fits-fastest", ["balanced", "large"]])
    assert.deepStrictEqual(Router.choose(router, 2_500).report.candidates, [
      { name: "large", p95Ms: 2962, accuracy: 4.6, fits: false },
      { name: "balanced", p95Ms: 2149, accuracy: 4.4, fits: true },
      { name: "fast", p95Ms: 1176, accuracy: 4.1, fits: true }
    ])
  })

  // region: routed-agent
  // The router chooses when Inference.run starts, from the time left in the stage's window.
  const drafting = Agent.make({
    name: "drafting",
    budget: "10 seconds",
    pipeline: Pipeline.make<string>().add(
      Stage.required("inference", ({ input }) => Inference.run({ prompt: input, models: router }), {
        allocation: "2500 millis"
      })
    )
  })
  // endregion

  it.effect("2.5 s routes to balanced; a 1.5 s run routes to fast; the report says why", () =>
    Effect.gen(function*() {
      const roomy = yield* runUnderTestClock(drafting, question)
      const model = Report.find(roomy.report, "inference")?.model
      assert.strictEqual(model?.chosen, "balanced")
      assert.strictEqual(model?.reason, "most-capable-that-fits")
      const tight = yield* runUnderTestClock(drafting, question, { budget: "1500 millis" })
      assert.strictEqual(Report.find(tight.report, "inference")?.windowMs, 1_500)
      assert.strictEqual(Report.find(tight.report, "inference")?.model?.chosen, "fast")
    }))

  // region: fallback
  // A provider error (here a rate limit on every call) moves on to the next candidate, in the same window.
  const flaky = makeRecordingModel({ fail: true })
  const withFallback = Router.make([
    { profile: ModelProfile.presets.large, layer: flaky.layer },
    { profile: ModelProfile.presets.fast, layer: SimulatedModel.layer({ profile: ModelProfile.presets.fast }) }
  ])
  // endregion

  it.effect("a provider error falls back through the ExecutionPlan; the report names both", () =>
    Effect.gen(function*() {
      const agent = inferenceOnly("fallback", (input) => Inference.run({ prompt: input, models: withFallback }))
      const result = yield* runUnderTestClock(agent, question)
      assert.strictEqual(result.status, "complete")
      assert.strictEqual(flaky.calls.length, 1)
      const inference = Report.find(result.report, "inference")
      assert.strictEqual(inference?.model?.chosen, "fast")
      assert.strictEqual(inference?.model?.reason, "fallback-after-error (large failed)")
      assert.strictEqual(inference?.actualMs, 1040.303)
      assert.strictEqual(inference?.model?.ttftMs, 322.036) // fast's own first token, from its call's start
      // the failed call reported no usage: only fast's call is billed
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 5,
        outputTokens: 110,
        reasoningTokens: 0,
        microUsd: 92
      })
    }))

  // region: observe
  // After real calls, move a candidate's profile toward what was observed.
  const observed = Router.updateProfile(router, "fast", (profile) => ModelProfile.observe(profile, [{ ttftMs: 900 }]))

  // Or from a finished run: each routed stage's model.ttftMs (the first call's own first token), by model.
  const afterRun = (report: Report.RunReport) => Router.learn(SupportAgent.router, report)
  // endregion

  it("observe: medians move by alpha = 0.2, the p95 moves up toward a slower observation", () => {
    const fast = observed.candidates.find((candidate) => candidate.profile.name === "fast")!.profile
    assert.strictEqual(fast.ttftMs, 420) // 300 + 0.2 × (900 − 300)
    assert.strictEqual(fast.ttftP95Ms, 516) // 420 + 0.2 × (900 − 420)
    assert.strictEqual(ModelProfile.p95Ms(fast), 1272.25)
    // 1,250 ms fitted fast before; now no model fits, and fast is still the fallback of last resort
    assert.strictEqual(Router.choose(router, 1_250).report.reason, "most-capable-that-fits")
    assert.strictEqual(Router.choose(observed, 1_250).report.reason, "none-fits-fastest")
  })

  it.effect("Router.learn: the support agent's first token (320.629 ms) moves support-small's median", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(SupportAgent.agent, question)
      // the call starts with the stage, so the model's own figure equals the stage's
      assert.strictEqual(Report.find(result.report, "inference")?.model?.ttftMs, 320.629)
      const learned = afterRun(result.report).candidates[0]!.profile
      assert.closeTo(learned.ttftMs, 330 + 0.2 * (320.629 - 330), 1e-9) // 328.126
      assert.strictEqual(learned.ttftP95Ms, 360) // a faster observation leaves the p95 alone
    }))

  it.effect("a call cut before it finished records no model.ttftMs: Router.learn leaves the profile alone", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(SupportAgent.agent, question).pipe(
        Simulation.withLatencies({ inference: 1_600 })
      )
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.status, "timed-out")
      assert.strictEqual(inference.ttftMs, 640) // it streamed...
      assert.isUndefined(inference.model?.ttftMs) // ...but its first step never finished
      assert.deepStrictEqual(afterRun(result.report), SupportAgent.router)
    }))

  it.effect("without stream: true, model.ttftMs is still recorded, and Router.learn reads it", () =>
    Effect.gen(function*() {
      const quiet = inferenceOnly("quiet", (input) => Inference.run({ prompt: input, models: router }))
      const result = yield* runUnderTestClock(quiet, question, { budget: "1500 millis" })
      const inference = Report.find(result.report, "inference")!
      assert.isUndefined(inference.ttftMs)
      assert.strictEqual(inference.model?.chosen, "fast")
      assert.strictEqual(inference.model?.ttftMs, 322.036)
      const fast = Router.learn(router, result.report).candidates.find((c) => c.profile.name === "fast")!.profile
      assert.closeTo(fast.ttftMs, 300 + 0.2 * (322.036 - 300), 1e-9) // 304.407
    }))
})

describe("the budgeted tool loop", () => {
  // region: tools
  const LookupOrder = Tool.make("LookupOrder", {
    description: "Find an order by id",
    parameters: Schema.Struct({ id: Schema.String }),
    success: Schema.String
  })
  const SearchKb = Tool.make("SearchKb", {
    description: "Search the knowledge base",
    parameters: Schema.Struct({ query: Schema.String }),
    success: Schema.String
  })
  const Desk = Toolkit.make(LookupOrder, SearchKb)
  const DeskHandlers = Desk.toLayer({
    LookupOrder: ({ id }) => Effect.as(Effect.sleep("120 millis"), `order ${id}: shipped`),
    SearchKb: ({ query }) => Effect.as(Effect.sleep("900 millis"), `faq about ${query}`) // too slow
  })

  // The simulated model follows a script: at its first step it calls both tools in one response.
  const deskModels = Router.simulated([ModelProfile.presets.fast], {
    script: [{
      calls: [{ name: "LookupOrder", params: { id: "A-1666" } }, { name: "SearchKb", params: { query: "late parcel" } }]
    }]
  })

  const desk = (allocation: Budget.Allocation) =>
    Agent.make({
      name: "desk",
      budget: "10 seconds",
      pipeline: Pipeline.make<string>().add(
        Stage.required(
          "inference",
          ({ input }) =>
            Effect.gen(function*() {
              const toolkit = yield* Desk
              return yield* Inference.run({
                prompt: input,
                models: deskModels,
                toolkit,
                toolAllocations: { LookupOrder: "300 millis", SearchKb: "300 millis" },
                maxSteps: 4,
                stream: true
              })
            }).pipe(Effect.provide(DeskHandlers)),
          { allocation }
        )
      )
    })
  // endregion

  it.effect("5 s: both calls in parallel, SearchKb cut at 300 ms, a second step answers", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(desk("5 seconds"), "Where is order A-1666?")
      assert.strictEqual(result.status, "partial")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.status, "degraded")
      assert.strictEqual(inference.reason, "SearchKb timed-out")
      assert.strictEqual(inference.steps, 2)
      assert.strictEqual(inference.actualMs, 1574.573)
      assert.deepStrictEqual(
        inference.children?.map((call) => [call.name, call.status, call.windowMs, call.actualMs, call.startedAtMs]),
        [
          ["LookupOrder", "completed", 300, 120, 322.79],
          ["SearchKb", "timed-out", 300, 300, 322.79]
        ]
      )
      if (result.status === "partial") {
        assert.strictEqual(result.output.stopReason, "answered")
        assert.deepStrictEqual(
          result.output.toolResults.map((call) => call._tag === "Completed" ? call.value : call.note),
          ["order A-1666: shipped", "skipped: deadline"]
        )
      }
      // both steps: 22 input tokens; 40 for the two calls + 110 of text out
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 22,
        outputTokens: 150,
        reasoningTokens: 0,
        microUsd: 137
      })
    }))

  it.effect("Router.learn reads model.ttftMs, from the first call's start: not the stage's 938.411 ms after the tools", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(desk("5 seconds"), "Where is order A-1666?")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.ttftMs, 938.411) // the stage's first visible token, in step 2
      assert.strictEqual(inference.model?.ttftMs, 322.79) // step 1's first part (its tool calls), from its call's start
      const fast = Router.learn(deskModels, result.report).candidates[0]!.profile
      assert.closeTo(fast.ttftMs, 300 + 0.2 * (322.79 - 300), 1e-9) // 304.558
    }))

  // The same tool loop over a router whose first candidate fails or is slow to start.
  const deskOver = (models: Router.Router, firstToken?: Inference.FirstToken) =>
    inferenceOnly("desk", (input) =>
      Effect.gen(function*() {
        const toolkit = yield* Desk
        return yield* Inference.run({
          prompt: input,
          models,
          toolkit,
          toolAllocations: { LookupOrder: "300 millis", SearchKb: "300 millis" },
          maxSteps: 4,
          stream: true,
          ...(firstToken === undefined ? {} : { firstToken })
        })
      }).pipe(Effect.provide(DeskHandlers)))
  const script = [{
    calls: [{ name: "LookupOrder", params: { id: "A-1666" } }, { name: "SearchKb", params: { query: "late parcel" } }]
  }]

  it.effect("after an error fallback, later steps start from the model that answered: large is called once", () =>
    Effect.gen(function*() {
      const flaky = makeRecordingModel({ fail: true })
      const models = Router.make([
        { profile: presets.large, layer: flaky.layer },
        { profile: presets.fast, layer: SimulatedModel.layer({ profile: presets.fast, script }) }
      ])
      const result = yield* runUnderTestClock(deskOver(models), "Where is order A-1666?")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.steps, 2)
      assert.strictEqual(flaky.calls.length, 1) // step 2 went straight to fast
      assert.strictEqual(inference.model?.reason, "fallback-after-error (large failed)")
      assert.strictEqual(inference.actualMs, 1574.573) // the same timeline as deskModels' run
      assert.strictEqual(result.report.cost.microUsd, 137)
    }))

  it.effect("after a first-token fallback, later steps stay on the faster model, at its price", () =>
    Effect.gen(function*() {
      const models = Router.simulated([presets.large, presets.balanced, presets.fast], { script })
      const result = yield* runUnderTestClock(
        deskOver(models, { window: "500 millis", onTimeout: "fallback" }),
        "Where is order A-1666?"
      )
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.model?.chosen, "balanced")
      assert.strictEqual(inference.model?.ttftMs, 507.008) // balanced's tool calls, from its call's start
      assert.strictEqual(inference.steps, 2)
      assert.strictEqual(Report.find(result.report, "inference/LookupOrder")?.startedAtMs, 1007.008)
      assert.strictEqual(inference.ttftMs, 1909.811) // step 2's first token, balanced's
      assert.strictEqual(inference.actualMs, 3069.305)
      // both calls billed at balanced's 3,000 nano-USD per token: (22 + 40 + 112) × 3,000
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 22,
        outputTokens: 152,
        reasoningTokens: 0,
        microUsd: 522
      })
    }))

  it.effect("a fallback in a later step renames model.chosen, and ttftMs is the answering model's own", () =>
    Effect.gen(function*() {
      const usage = {
        inputTokens: { total: 10, uncached: 10, cacheRead: 0, cacheWrite: 0 },
        outputTokens: { total: 5, text: 5, reasoning: 0 }
      }
      // large asks for a tool after 50 ms at step 1, then fails with a rate limit at step 2
      const large = Layer.effect(
        LanguageModel.LanguageModel,
        LanguageModel.make({
          generateText: () => Effect.die("streamed only"),
          streamText: (request) =>
            request.prompt.content.some((message) => message.role === "tool")
              ? Stream.fail(
                AiError.make({ module: "Test", method: "streamText", reason: new AiError.RateLimitError({}) })
              )
              : Stream.fromEffect(Effect.as(Effect.sleep("50 millis"), {
                type: "tool-call",
                id: "c1",
                name: "LookupOrder",
                params: { id: "A-1666" }
              } as Response.StreamPartEncoded)).pipe(
                Stream.concat(
                  Stream.make({ type: "finish", reason: "tool-calls", usage } as Response.StreamPartEncoded)
                )
              )
        })
      )
      const models = Router.make([
        { profile: presets.large, layer: large },
        { profile: presets.fast, layer: SimulatedModel.layer({ profile: presets.fast }) }
      ])
      const result = yield* runUnderTestClock(deskOver(models), question)
      const model = Report.find(result.report, "inference")?.model
      assert.strictEqual(model?.chosen, "fast")
      assert.strictEqual(model?.reason, "fallback-after-error (large failed)")
      // fast's own first token on its call (300 ms ± 10%), not large's 50 ms from step 1
      assert.isAbove(model?.ttftMs ?? 0, 270)
      assert.isBelow(model?.ttftMs ?? 0, 331)
      const learned = Router.learn(models, result.report).candidates.map((c) => [c.profile.name, c.profile.ttftMs])
      assert.strictEqual(learned[0]![1], 850) // large is left alone
      assert.isAbove(learned[1]![1] as number, 290) // fast stays near its 300 ms
    }))

  it.effect("1.5 s: after the tools 877.21 ms are left, under fast's p95 of 1,176.25: step-unaffordable", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(desk("1500 millis"), "Where is order A-1666?")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.status, "degraded")
      assert.strictEqual(inference.reason, "step-unaffordable, SearchKb timed-out")
      assert.strictEqual(inference.steps, 1)
      assert.strictEqual(inference.actualMs, 622.79)
      if (result.status === "partial") {
        assert.strictEqual(result.output.stopReason, "step-unaffordable")
        assert.strictEqual(result.output.text, "") // the only step asked for tools
        assert.strictEqual(result.output.toolResults.length, 2)
      }
    }))

  it.effect("the model's next prompt carries the cut call's result as a failed tool result", () =>
    Effect.gen(function*() {
      const usage = {
        inputTokens: { total: 10, uncached: 10, cacheRead: 0, cacheWrite: 0 },
        outputTokens: { total: 5, text: 5, reasoning: 0 }
      }
      const fake = makeRecordingModel({
        respond: (request) =>
          request.prompt.content.some((message) => message.role === "tool")
            ? [
              { type: "text-start", id: "t" },
              { type: "text-delta", id: "t", delta: "done" },
              { type: "text-end", id: "t" },
              { type: "finish", reason: "stop", usage }
            ]
            : [
              { type: "tool-call", id: "c1", name: "SearchKb", params: { query: "late parcel" } },
              { type: "finish", reason: "tool-calls", usage }
            ]
      })
      const agent = inferenceOnly("recorded", (input) =>
        Effect.gen(function*() {
          const toolkit = yield* Desk
          return yield* Inference.run({
            prompt: input,
            models: presets.fast,
            toolkit,
            toolAllocations: { SearchKb: "300 millis" }
          }).pipe(Effect.provide(fake.layer))
        }).pipe(Effect.provide(DeskHandlers)))
      const result = yield* runUnderTestClock(agent, question)
      assert.isUndefined(Report.find(result.report, "inference")?.model) // a single profile: no routing
      assert.strictEqual(fake.calls.length, 2)
      const toolMessage = fake.calls[1]!.prompt.content.find((message) => message.role === "tool")
      const part = toolMessage?.role === "tool" ? toolMessage.content[0] : undefined
      assert.strictEqual(part?.type === "tool-result" ? part.result : undefined, "skipped: deadline")
      assert.strictEqual(part?.type === "tool-result" ? part.isFailure : undefined, true)
    }))

  it.effect("maxSteps is a plain safety net", () =>
    Effect.gen(function*() {
      const looping = Router.simulated([presets.fast], {
        script: Array.from({ length: 10 }, () => ({ calls: [{ name: "LookupOrder", params: { id: "A-1" } }] }))
      })
      const agent = inferenceOnly("looping", (input) =>
        Effect.gen(function*() {
          const toolkit = yield* Desk
          return yield* Inference.run({ prompt: input, models: looping, toolkit, maxSteps: 3 })
        }).pipe(Effect.provide(DeskHandlers)))
      const result = yield* runUnderTestClock(agent, question)
      assert.strictEqual(Report.find(result.report, "inference")?.steps, 3)
      assert.strictEqual(result.status === "complete" && result.output.stopReason, "max-steps")
    }))

  it.effect("Agent.stream: the model's tool calls and their results as events", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Stream.runCollect(Agent.stream(desk("5 seconds"), "Where is order A-1666?"))
      )
      yield* TestClock.adjust("30 seconds")
      const events = yield* Fiber.join(fiber)
      assert.deepStrictEqual(events.flatMap((event) => event.type === "tool-call" ? [event.name] : []), [
        "LookupOrder",
        "SearchKb"
      ])
      assert.deepStrictEqual(
        events.flatMap((event) => event.type === "tool-result" ? [[event.name, event.status, event.result]] : []),
        [["LookupOrder", "completed", "order A-1666: shipped"], ["SearchKb", "timed-out", "skipped: deadline"]]
      )
      const end = events.at(-1)
      const result = end?.type === "run-end" ? (end.result as Report.RunResult<unknown>) : undefined
      // the first visible token comes in the second step, after the tools
      assert.strictEqual(result === undefined ? undefined : Report.find(result.report, "inference")?.ttftMs, 938.411)
    }))
})

describe("streaming", () => {
  // region: stream
  // Every event of a run, in order; the last one is run-end, with the RunResult.
  const events = Stream.runCollect(Agent.stream(SupportAgent.agent, question))

  const line = (event: RunEvent.RunEvent): string => {
    switch (event.type) {
      case "stage-start":
        return `> ${event.path} (${event.windowMs} ms)`
      case "stage-end":
        return `< ${event.path} ${event.status} after ${event.actualMs} ms`
      case "text-delta":
        return event.delta
      case "tool-call":
        return `-> ${event.name}`
      case "tool-result":
        return `<- ${event.name}: ${event.status}`
      case "run-end":
        return "done"
    }
  }
  // endregion

  it.effect("the support agent streamed: 10 stage starts and ends, 55 tokens, then run-end", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(events)
      yield* TestClock.adjust("3 seconds")
      const all = yield* Fiber.join(fiber)
      const counts: Record<string, number> = {}
      for (const event of all) counts[event.type] = (counts[event.type] ?? 0) + 1
      assert.deepStrictEqual(counts, { "stage-start": 10, "stage-end": 10, "text-delta": 55, "run-end": 1 })
      assert.strictEqual(line(all[0]!), "> auth (10 ms)")
      // a stage's stage-start comes before its children's
      assert.deepStrictEqual(all.flatMap((event) => event.type === "stage-start" ? [event.path] : []), [
        "auth",
        "context",
        "context/history",
        "context/rag",
        "context/profile",
        "inference",
        "tools",
        "tools/order-lookup",
        "tools/kb-search",
        "assembly"
      ])
      const deltas = all.flatMap((event) => event.type === "text-delta" ? [event] : [])
      assert.strictEqual(round3(deltas[0]!.atMs), 357.629) // 37 ms (inference's start) + 320.629 ms
      assert.strictEqual(round3(deltas.at(-1)!.atMs), 583.371)
      const end = all.at(-1)!
      assert.strictEqual(line(end), "done")
      const result = end.type === "run-end" ? (end.result as Report.RunResult<SupportAgent.Answer>) : undefined
      assert.strictEqual(result?.status, "complete")
      assert.include(result?.output?.answer, deltas.map((event) => event.delta).join(""))
      assert.strictEqual(result === undefined ? undefined : Report.find(result.report, "inference")?.ttftMs, 320.629)
    }))

  // region: first-token
  // Wait at most 500 ms for the first token, then move to the next faster model, in the same window.
  const guarded = (input: string) =>
    Inference.run({
      prompt: input,
      models: Router.simulated([ModelProfile.presets.large, ModelProfile.presets.balanced, ModelProfile.presets.fast]),
      stream: true,
      firstToken: { window: "500 millis", onTimeout: "fallback" }
    })
  // endregion

  it.effect("no first token from large in 500 ms: balanced answers; only its call is billed", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(inferenceOnly("guarded", guarded), question)
      assert.strictEqual(result.status, "complete")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.model?.chosen, "balanced")
      assert.strictEqual(inference.model?.reason, "first-token-timeout after 500ms: large → balanced")
      assert.strictEqual(inference.ttftMs, 1043.254) // 500 ms waited on large, then balanced's first token
      assert.strictEqual(inference.model?.ttftMs, 543.254) // balanced's own, from its call's start
      assert.strictEqual(inference.ttltMs, 2278.316)
      // Router.learn observes balanced only: 560 + 0.2 × (543.254 − 560); large has no observation
      const learned = Router.learn(Router.simulated([presets.large, presets.balanced, presets.fast]), result.report)
      assert.deepStrictEqual(
        learned.candidates.map((candidate) => [candidate.profile.name, candidate.profile.ttftMs]),
        [
          ["large", 850],
          ["balanced", 560 + 0.2 * (543.254 - 560)],
          ["fast", 300]
        ]
      )
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 5,
        outputTokens: 112,
        reasoningTokens: 0,
        microUsd: 351
      })
    }))

  it.effect("onTimeout: fail ends the stage at the first-token window", () =>
    Effect.gen(function*() {
      const strict = inferenceOnly("strict", (input) =>
        Inference.run({
          prompt: input,
          models: Router.simulated([presets.large, presets.balanced, presets.fast]),
          firstToken: { window: "300 millis", onTimeout: "fail" }
        }))
      const result = yield* runUnderTestClock(strict, question)
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "stage-failed")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.actualMs, 300)
      assert.strictEqual(
        inference.reason,
        "Inference.run: required stage inference failed: no first token within 300ms"
      )
      assert.strictEqual(inference.model?.reason, "first-token-timeout after 300ms")
      // a single profile has no faster candidate: "fallback" fails as well
      const alone = inferenceOnly("alone", (input) =>
        Inference.run({
          prompt: input,
          models: presets.fast,
          firstToken: { window: "100 millis", onTimeout: "fallback" }
        }).pipe(Effect.provide(SimulatedModel.layer({ profile: presets.fast }))))
      const failed = yield* runUnderTestClock(alone, question)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(Report.find(failed.report, "inference")?.actualMs, 100)
    }))

  it.effect("a stage skipped without starting emits only stage-end; stages never reached emit nothing", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Stream.runCollect(Agent.stream(SupportAgent.agent, question, { budget: "100 millis" }))
      )
      yield* TestClock.adjust("1 second")
      const all = yield* Fiber.join(fiber)
      assert.deepStrictEqual(all.map((event) => event.type === "run-end" ? "run-end" : line(event)), [
        "< auth skipped after 0 ms",
        "run-end"
      ])
    }))

  it.effect("without stream: true, no ttftMs or ttltMs in the record", () =>
    Effect.gen(function*() {
      const quiet = inferenceOnly("quiet", (input) =>
        Inference.run({ prompt: input, models: Router.simulated([presets.fast]) }))
      const inference = Report.find((yield* runUnderTestClock(quiet, question)).report, "inference")!
      assert.isUndefined(inference.ttftMs)
      assert.isUndefined(inference.ttltMs)
      assert.strictEqual(inference.steps, 1)
      assert.strictEqual(inference.model?.ttftMs, 322.036) // the model's own figure is recorded either way
    }))
})

describe("cost", () => {
  // region: cost
  // Prices are integer nano-USD per token: $0.00075 per 1K input tokens is 750.
  const usage: Cost.Usage = { inputTokens: 59, outputTokens: 55, reasoningTokens: 0 }
  const nano = Cost.nanoUsd(usage, ModelProfile.presets.fast.price) // 59 × 750 + 55 × 800 = 88,250
  const micro = Cost.toMicroUsd(nano) // 89: rounded up, never down
  // endregion

  it.effect("the support agent's run costs 89 micro-USD", () =>
    Effect.gen(function*() {
      assert.strictEqual(nano, 88_250)
      assert.strictEqual(micro, 89)
      const result = yield* runUnderTestClock(SupportAgent.agent, question)
      assert.deepStrictEqual(result.report.cost, { ...usage, microUsd: micro })
    }))

  it.effect("a call cut by its deadline reports no usage", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(SupportAgent.agent, question).pipe(
        Simulation.withLatencies({ inference: 1_600 })
      )
      assert.strictEqual(Report.find(result.report, "inference")?.status, "timed-out")
      assert.deepStrictEqual(result.report.cost, { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, microUsd: 0 })
    }))
})

describe("a real provider", () => {
  // region: openai
  // Any OpenAI-compatible chat-completions endpoint, over effect/http's fetch client.
  const gpt = OpenAiCompatible.layer({ model: "gpt-4o-mini", apiKey: Redacted.make("sk-…") }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )

  // Or chosen by the environment: TIMEBOX_MODEL=openai:<model>, OPENAI_API_KEY, OPENAI_BASE_URL.
  const simulated = Router.simulated([SupportAgent.model])
  const models = Router.fromEnvironment(simulated, SupportAgent.model)
  // endregion

  const withEnv = (env: Record<string, string>) =>
    Effect.provide(models, ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

  it.effect("TIMEBOX_MODEL selects the real model, with the given profile's figures under its name", () =>
    Effect.gen(function*() {
      assert.isTrue(Layer.isLayer(gpt))
      assert.strictEqual(yield* withEnv({}), simulated)
      assert.strictEqual(yield* withEnv({ TIMEBOX_MODEL: "anthropic:claude" }), simulated)
      const real = yield* withEnv({ TIMEBOX_MODEL: "openai:gpt-4o-mini", OPENAI_API_KEY: "sk-test" })
      assert.strictEqual(real.candidates.length, 1)
      const profile = real.candidates[0]!.profile
      assert.strictEqual(profile.name, "gpt-4o-mini")
      assert.strictEqual(profile.provider, OpenAiCompatible.providerName)
      assert.strictEqual(ModelProfile.p95Ms(profile), ModelProfile.p95Ms(SupportAgent.model))
      assert.deepStrictEqual(
        OpenAiCompatible.parseSelection("openai:ft:gpt-4o-mini:acme::abc"),
        Option.some("ft:gpt-4o-mini:acme::abc")
      )
    }))
})
