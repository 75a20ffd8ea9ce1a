import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema, Stream } from "effect"
import { Tool, Toolkit } from "effect/ai"
import { TestClock } from "effect/testing"
import {
  Agent,
  Inference,
  ModelProfile,
  Pipeline,
  Report,
  Router,
  type RunEvent,
  SimulatedModel,
  Stage
} from "../src/index.ts"
import { makeRecordingModel, runUnderTestClock } from "../src/testing/index.ts"

const LookupOrder = Tool.make("LookupOrder", {
  description: "Find an order",
  parameters: Schema.Struct({ id: Schema.String }),
  success: Schema.String
})
const SearchKb = Tool.make("SearchKb", {
  description: "Search the knowledge base",
  parameters: Schema.Struct({ query: Schema.String }),
  success: Schema.String
})
const Support = Toolkit.make(LookupOrder, SearchKb)
const SupportHandlers = Support.toLayer({
  LookupOrder: ({ id }) => Effect.as(Effect.sleep("100 millis"), `order ${id}: shipped`),
  SearchKb: ({ query }) => Effect.as(Effect.sleep("800 millis"), `faq about ${query}`)
})

const script: ReadonlyArray<SimulatedModel.ScriptStep> = [
  { calls: [{ name: "LookupOrder", params: { id: "A-1" } }, { name: "SearchKb", params: { query: "delays" } }] }
]

const fast = ModelProfile.presets.fast

const inferenceAgent = (options: Omit<Inference.Options, "prompt" | "toolkit">, allocation = "5 seconds") =>
  Agent.make({
    name: "inference",
    budget: "10 seconds",
    pipeline: Pipeline.make<string>().add(
      Stage.required(
        "inference",
        ({ input }) =>
          Effect.flatMap(Support, (toolkit) => Inference.run({ ...options, prompt: input, toolkit })).pipe(
            Effect.provide(SupportHandlers)
          ),
        { allocation: allocation as "5 seconds" }
      )
    )
  })

describe("Inference", () => {
  it.effect("a tool loop: parallel calls with their own allocations; a cut call reaches the model as skipped: deadline", () =>
    Effect.gen(function*() {
      const model = SimulatedModel.layer({ profile: fast, script })
      const agent = inferenceAgent({
        models: fast,
        toolAllocations: { LookupOrder: "300 millis", SearchKb: "300 millis" }
      })
      const result = yield* runUnderTestClock(agent, "Where is A-1?").pipe(Effect.provide(model))
      assert.strictEqual(result.status, "partial")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.status, "degraded")
      assert.strictEqual(inference.steps, 2)
      assert.deepStrictEqual(inference.children?.map((child) => [child.name, child.status, child.windowMs]), [
        ["LookupOrder", "completed", 300],
        ["SearchKb", "timed-out", 300]
      ])
      if (result.status === "partial") {
        const output = result.output
        assert.strictEqual(output.stopReason, "answered")
        assert.deepStrictEqual(output.toolResults.map((r) => (r._tag === "Completed" ? r.value : r.note)), [
          "order A-1: shipped",
          "skipped: deadline"
        ])
      }
      // the cost of both model calls, from their usage, in integers
      assert.isAbove(result.report.cost.microUsd, 0)
      assert.isAbove(result.report.cost.inputTokens, 0)
      assert.isTrue(Number.isInteger(result.report.cost.microUsd))
    }))

  it.effect("the model sees the skipped note in the next step's prompt", () =>
    Effect.gen(function*() {
      let step = 0
      const fake = makeRecordingModel({
        respond: () =>
          step++ === 0
            ? [
              { type: "tool-call", id: "c1", name: "SearchKb", params: { query: "x" } },
              { type: "finish", reason: "tool-calls", usage: usage(10, 5) }
            ]
            : [{ type: "text-start", id: "t" }, { type: "text-delta", id: "t", delta: "done" }, {
              type: "text-end",
              id: "t"
            }, { type: "finish", reason: "stop", usage: usage(20, 1) }]
      })
      const agent = inferenceAgent({ models: fast, toolAllocations: { SearchKb: "50 millis" } })
      const result = yield* runUnderTestClock(agent, "q").pipe(Effect.provide(fake.layer))
      assert.strictEqual(fake.calls.length, 2)
      const second = JSON.stringify(fake.calls[1]!.prompt.content)
      assert.include(second, "skipped: deadline")
      assert.strictEqual(result.status, "partial")
      // usage 10+20 in, 5+1 out on the fast preset: 30 × 750 + 6 × 800 = 27,300 nano-USD → 28 µUSD
      assert.deepStrictEqual(result.report.cost, { inputTokens: 30, outputTokens: 6, reasoningTokens: 0, microUsd: 28 })
    }))

  it.effect("stops when one more step is unaffordable, and says so", () =>
    Effect.gen(function*() {
      const model = SimulatedModel.layer({ profile: fast, script })
      // 1.5 s: step 1 (≈ 0.4 s) + tools (0.3 s) leave < p95 (≈ 1.18 s) for another step
      const agent = inferenceAgent({
        models: fast,
        toolAllocations: { LookupOrder: "300 millis", SearchKb: "300 millis" }
      }, "1500 millis")
      const result = yield* runUnderTestClock(agent, "Where is A-1?").pipe(Effect.provide(model))
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.status, "degraded")
      assert.include(inference.reason, "step-unaffordable")
      assert.strictEqual(inference.steps, 1)
      if (result.status === "partial") assert.strictEqual(result.output.stopReason, "step-unaffordable")
    }))

  it.effect("maxSteps is a plain safety net", () =>
    Effect.gen(function*() {
      const looping = SimulatedModel.layer({
        profile: fast,
        script: Array.from({ length: 10 }, () => ({ calls: [{ name: "LookupOrder", params: { id: "A" } }] }))
      })
      const agent = inferenceAgent({ models: fast, maxSteps: 3 }, "9 seconds")
      const result = yield* runUnderTestClock(agent, "loop").pipe(Effect.provide(looping))
      assert.strictEqual(Report.find(result.report, "inference")?.steps, 3)
      if (result.status === "complete" || result.status === "partial") {
        assert.strictEqual(result.output.stopReason, "max-steps")
      }
    }))
})

describe("Router", () => {
  const router = Router.simulated([
    ModelProfile.presets.large,
    ModelProfile.presets.balanced,
    ModelProfile.presets.fast
  ])

  it("chooses the most capable model whose p95 fits the window", () => {
    assert.strictEqual(Router.choose(router, 3_000).chosen.profile.name, "large")
    assert.strictEqual(Router.choose(router, 2_500).chosen.profile.name, "balanced")
    assert.strictEqual(Router.choose(router, 1_500).chosen.profile.name, "fast")
    const none = Router.choose(router, 500)
    assert.strictEqual(none.chosen.profile.name, "fast")
    assert.strictEqual(none.report.reason, "none-fits-fastest")
    assert.deepStrictEqual(Router.choose(router, 2_500).report.candidates.map((c) => [c.name, c.fits]), [
      ["large", false],
      ["balanced", true],
      ["fast", true]
    ])
  })

  it.effect("routes at the moment the stage starts and reports the choice", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "routed",
        budget: "10 seconds",
        pipeline: Pipeline.make<string>().add(
          Stage.required("inference", ({ input }) => Inference.run({ prompt: input, models: router }), {
            allocation: "2500 millis"
          })
        )
      })
      const result = yield* runUnderTestClock(agent, "hi")
      const model = Report.find(result.report, "inference")?.model
      assert.strictEqual(model?.chosen, "balanced")
      assert.strictEqual(model?.reason, "most-capable-that-fits")
      assert.strictEqual(model?.candidates.length, 3)
      const tight = yield* runUnderTestClock(agent, "hi", { budget: "1500 millis" })
      assert.strictEqual(Report.find(tight.report, "inference")?.model?.chosen, "fast")
    }))

  it.effect("falls back to the next model on a provider error, within the same deadline", () =>
    Effect.gen(function*() {
      const failing = makeRecordingModel({ fail: true })
      const withFailing = Router.make([
        { profile: ModelProfile.presets.large, layer: failing.layer },
        { profile: fast, layer: SimulatedModel.layer({ profile: fast }) }
      ])
      const agent = Agent.make({
        name: "fallback",
        budget: "10 seconds",
        pipeline: Pipeline.make<string>().add(
          Stage.required("inference", ({ input }) => Inference.run({ prompt: input, models: withFailing }))
        )
      })
      const result = yield* runUnderTestClock(agent, "hi")
      assert.strictEqual(result.status, "complete")
      assert.strictEqual(failing.calls.length, 1)
      const model = Report.find(result.report, "inference")?.model
      assert.strictEqual(model?.chosen, "fast")
      assert.include(model?.reason, "fallback-after-error")
    }))

  it.effect("a first-token window: no token in time → the next faster model, and the report says so", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "first-token",
        budget: "10 seconds",
        pipeline: Pipeline.make<string>().add(
          Stage.required("inference", ({ input }) =>
            Inference.run({
              prompt: input,
              models: router,
              stream: true,
              firstToken: { window: "500 millis", onTimeout: "fallback" }
            }))
        )
      })
      // large's first token comes after ≈ 850 ms
      const result = yield* runUnderTestClock(agent, "hi")
      assert.strictEqual(result.status, "complete")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.model?.chosen, "balanced")
      assert.include(inference.model?.reason, "first-token-timeout after 500ms: large → balanced")
      assert.isAbove(inference.ttftMs!, 500)
      const failing = Agent.make({
        name: "first-token-fail",
        budget: "10 seconds",
        pipeline: Pipeline.make<string>().add(
          Stage.required(
            "inference",
            ({ input }) =>
              Inference.run({ prompt: input, models: fast, firstToken: { window: "100 millis", onTimeout: "fail" } })
          )
        )
      })
      const failed = yield* runUnderTestClock(failing, "hi").pipe(
        Effect.provide(SimulatedModel.layer({ profile: fast }))
      )
      assert.strictEqual(failed.status, "failed")
      assert.include(Report.find(failed.report, "inference")?.reason, "no first token within 100ms")
    }))
})

describe("Agent.stream", () => {
  it.effect("emits stage events, tokens as they arrive with TTFT/TTLT, and the result last", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "streamed",
        budget: "5 seconds",
        pipeline: Pipeline.make<string>()
          .add(Stage.required("auth", () => Effect.sleep("5 millis")))
          .add(
            Stage.required(
              "inference",
              ({ input }) =>
                Inference.run({ prompt: input, models: fast, stream: true }).pipe(
                  Effect.provide(SimulatedModel.layer({ profile: fast, outputTokens: 12 }))
                )
            )
          )
      })
      const events: Array<RunEvent.RunEvent> = []
      const fiber = yield* Effect.forkChild(
        Stream.runForEach(Agent.stream(agent, "hi"), (event) => Effect.sync(() => events.push(event)))
      )
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      const types = events.map((event) => event.type)
      assert.deepStrictEqual(types.slice(0, 3), ["stage-start", "stage-end", "stage-start"])
      assert.strictEqual(types.filter((type) => type === "text-delta").length, 12)
      assert.deepStrictEqual(types.slice(-2), ["stage-end", "run-end"])
      const end = events.at(-1)!
      const result = end.type === "run-end" ? (end.result as Report.RunResult<unknown>) : undefined
      const inference = result === undefined ? undefined : Report.find(result.report, "inference")
      assert.isAbove(inference?.ttftMs ?? 0, 250)
      assert.isAbove(inference?.ttltMs ?? 0, inference?.ttftMs ?? 0)
      const firstDelta = events.find((event) => event.type === "text-delta")
      assert.strictEqual(firstDelta?.type === "text-delta" ? firstDelta.path : "", "inference")
    }))
})

function usage(input: number, output: number) {
  return {
    inputTokens: { total: input, uncached: input, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: output, text: output, reasoning: 0 }
  }
}
