import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Agent, Inference, ModelProfile, Pipeline, Router, Stage } from "../src/index.ts"
import { runUnderTestClock } from "../src/testing/index.ts"

describe("ModelProfile", () => {
  it("decodes profiles from configuration and rejects bad ones", () => {
    const decode = Schema.decodeUnknownExit(ModelProfile.ModelProfileSchema)
    assert.strictEqual(decode({ ...ModelProfile.presets.fast, name: "mine" })._tag, "Success")
    assert.strictEqual(decode({ ...ModelProfile.presets.fast, tokensPerSecond: 0 })._tag, "Failure")
    assert.strictEqual(
      decode({ ...ModelProfile.presets.fast, price: { inputNanoUsdPerToken: 0.5, outputNanoUsdPerToken: 1 } })._tag,
      "Failure"
    )
  })

  it("observe moves the medians toward what was seen and raises the p95", () => {
    const slower = ModelProfile.observe(ModelProfile.presets.fast, [{ ttftMs: 800 }, { ttftMs: 800 }])
    assert.isAbove(slower.ttftMs, ModelProfile.presets.fast.ttftMs)
    assert.isAbove(slower.ttftP95Ms, ModelProfile.presets.fast.ttftP95Ms)
  })

  it.effect("a router learns from observed runs, and routes differently afterwards", () =>
    Effect.gen(function*() {
      let router = Router.simulated([ModelProfile.presets.balanced, ModelProfile.presets.fast])
      const agent = (models: Router.Router) =>
        Agent.make({
          name: "learning",
          budget: "10 seconds",
          pipeline: Pipeline.make<string>().add(
            Stage.required("inference", ({ input }) => Inference.run({ prompt: input, models, stream: true }), {
              allocation: "2200 millis"
            })
          )
        })
      const first = yield* runUnderTestClock(agent(router), "hi")
      assert.strictEqual(first.report.stages[0]?.model?.chosen, "balanced")
      // pretend balanced turned out much slower than its profile says
      const stage = first.report.stages[0]!
      assert.isAbove(stage.model?.ttftMs ?? 0, 0)
      const slow = { stages: [{ ...stage, model: { ...stage.model!, ttftMs: 2_000 } }] }
      for (let i = 0; i < 5; i++) router = Router.learn(router, slow)
      assert.isAbove(ModelProfile.p95Ms(router.candidates[0]!.profile), 2_200)
      const second = yield* runUnderTestClock(agent(router), "hi")
      assert.strictEqual(second.report.stages[0]?.model?.chosen, "fast")
    }))
})
