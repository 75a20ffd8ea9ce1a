import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, Budget, Deadline, Pipeline, Stage } from "../src/index.ts"
import { record, runFor } from "./utils.ts"

// window = min(allocation, remaining − reserve); reserve = Σ minUseful of later required stages (+ Slack)
const windowAgent = Agent.make({
  name: "window",
  budget: "1 second",
  pipeline: Pipeline.make<void>()
    .add(Stage.optional("fetch", () => Deadline.remainingMillis, { allocation: "100 millis", fallback: () => -1 }))
    .add(Stage.optional("extra", () => Effect.succeed(0), { allocation: "100 millis", fallback: () => -1 }))
    .add(Stage.required("infer", () => Effect.sleep("10 millis"), { minUseful: "50 millis" }))
    .add(Stage.required("assemble", () => Effect.succeed("done"), { allocation: "30 millis", minUseful: "30 millis" }))
})

describe("Stage window", () => {
  it.effect("is the allocation when the budget is ample", () =>
    Effect.gen(function*() {
      const result = yield* runFor(windowAgent, undefined, "1 second")
      const fetch = record(result, "fetch")
      assert.strictEqual(fetch.allocatedMs, 100)
      assert.strictEqual(fetch.windowMs, 100)
      // the stage's own deadline is its window: the work sees 100 ms left
      assert.deepStrictEqual(result.status, "complete")
    }))

  it.effect("is remaining − reserve when that is smaller, reserving the minUseful of later required stages", () =>
    Effect.gen(function*() {
      const result = yield* runFor(windowAgent, undefined, "1 second", { budget: "150 millis" }).pipe(
        Effect.provideService(Budget.Slack, 0)
      )
      // reserve = infer 50 + assemble 30 = 80 → window = min(100, 150 − 80) = 70
      const fetch = record(result, "fetch")
      assert.strictEqual(fetch.allocatedMs, 100)
      assert.strictEqual(fetch.windowMs, 70)
      assert.strictEqual(fetch.status, "completed")
      // infer keeps back assemble's 30: 150 − 30 = 120
      assert.strictEqual(record(result, "infer").windowMs, 120)
      // the last stage keeps nothing back: min(30, 150 − 10) = 30
      assert.strictEqual(record(result, "assemble").windowMs, 30)
    }))

  it.effect("adds the scheduling slack to a non-zero reserve", () =>
    Effect.gen(function*() {
      const result = yield* runFor(windowAgent, undefined, "1 second", { budget: "150 millis" })
      assert.strictEqual(record(result, "fetch").windowMs, 150 - 80 - 5)
      assert.strictEqual(record(result, "assemble").windowMs, 30)
    }))

  it.effect("an explicit reserve overrides the pipeline's", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "reserve",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(
            Stage.optional("a", () => Effect.void, {
              allocation: "900 millis",
              reserve: "600 millis",
              fallback: () => {}
            })
          )
          .add(Stage.required("b", () => Effect.void, { minUseful: "10 millis" }))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(record(result, "a").windowMs, 400)
    }))

  it.effect("the work sees its own window as the current deadline", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const agent = Agent.make({
        name: "ambient",
        budget: "1 second",
        pipeline: Pipeline.make<void>().add(
          Stage.required("a", () => Effect.map(Deadline.remainingMillis, (ms) => seen.push(ms)), {
            allocation: "250 millis"
          })
        )
      })
      yield* runFor(agent, undefined, "1 second")
      assert.deepStrictEqual(seen, [250])
    }))

  it.effect("Stage.run works outside an agent, bounded by the current deadline", () =>
    Effect.gen(function*() {
      const stage = Stage.optional("alone", () => Deadline.remainingMillis, {
        allocation: "1 second",
        fallback: () => -1
      })
      const left = yield* Stage.run(stage, undefined).pipe(Deadline.within("300 millis"))
      assert.strictEqual(left, 300)
    }))
})
