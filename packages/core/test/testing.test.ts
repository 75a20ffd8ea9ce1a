import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, Pipeline, Report, Stage } from "../src/index.ts"
import { runUnderTestClock } from "../src/testing/index.ts"

describe("@timebox/core/testing", () => {
  it.effect("runUnderTestClock runs an agent to the end under TestClock", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "t",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(
            Stage.optional("slow", () => Effect.sleep("10 seconds"), { allocation: "200 millis", fallback: () => {} })
          )
          .add(Stage.required("done", () => Effect.succeed("ok")))
      })
      const result = yield* runUnderTestClock(agent, undefined)
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(Report.find(result.report, "slow")?.status, "timed-out")
      assert.strictEqual(result.report.elapsedMs, 200)
      const tight = yield* runUnderTestClock(agent, undefined, { budget: "100 millis", advance: "100 millis" })
      assert.strictEqual(Report.find(tight.report, "slow")?.windowMs, 100)
    }))
})
