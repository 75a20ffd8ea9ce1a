import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, Budget, Deadline, Pipeline, Stage } from "../src/index.ts"
import { record, runFor } from "./utils.ts"

const history = Stage.required("history", (latency: number) => Effect.as(Effect.sleep(latency), ["hi"]), {
  allocation: "40%"
})
const rag = Stage.optional("rag", (latency: number) => Effect.as(Effect.sleep(latency), ["doc"]), {
  allocation: "50%",
  minUseful: "20 millis",
  fallback: () => [] as Array<string>
})

const contextAgent = (latencies: { readonly history: number; readonly rag: number }) =>
  Agent.make({
    name: "nested",
    budget: "1 second",
    pipeline: Pipeline.make<void>()
      .add(
        Stage.optional(
          "context",
          () =>
            Effect.all(
              { history: Stage.run(history, latencies.history), rag: Stage.run(rag, latencies.rag) },
              { concurrency: "unbounded" }
            ),
          { allocation: "150 millis", fallback: () => ({ history: [] as Array<string>, rag: [] as Array<string> }) }
        )
      )
      .add(Stage.required("answer", ({ context }) => Effect.succeed(context.history.length + context.rag.length)))
  })

describe("nested budgets", () => {
  it.effect("a stage splits its window among children by fraction; children appear under it", () =>
    Effect.gen(function*() {
      const result = yield* runFor(contextAgent({ history: 30, rag: 50 }), undefined, "1 second")
      assert.strictEqual(result.status, "complete")
      assert.strictEqual(result.output, 2)
      const context = record(result, "context")
      assert.strictEqual(context.status, "completed")
      assert.deepStrictEqual(context.children?.map((child) => [child.name, child.windowMs, child.actualMs]), [
        ["history", 60, 30],
        ["rag", 75, 50]
      ])
      assert.strictEqual(context.actualMs, 50)
    }))

  it.effect("a slow optional child is cut at its own deadline; its parent completes degraded", () =>
    Effect.gen(function*() {
      const result = yield* runFor(contextAgent({ history: 30, rag: 400 }), undefined, "1 second")
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, 1)
      const context = record(result, "context")
      assert.strictEqual(context.status, "degraded")
      assert.strictEqual(context.reason, "rag timed-out")
      assert.strictEqual(context.actualMs, 75)
      assert.strictEqual(record(result, "context/rag").status, "timed-out")
      assert.strictEqual(record(result, "context/rag").reason, "deadline")
      assert.strictEqual(record(result, "context/history").status, "completed")
      // only the child is in the skipped list; the degraded parent is not
      assert.deepStrictEqual(result.report.skipped, [
        { stage: "rag", path: "context/rag", status: "timed-out", reason: "deadline" }
      ])
    }))

  it.effect("a required child that times out fails its optional parent, whose fallback stands in", () =>
    Effect.gen(function*() {
      const result = yield* runFor(contextAgent({ history: 100, rag: 10 }), undefined, "1 second")
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, 0)
      assert.strictEqual(record(result, "context").status, "failed")
      assert.strictEqual(record(result, "context").reason, "budget-exhausted")
      assert.strictEqual(record(result, "context/history").status, "timed-out")
    }))

  it.effect("a child deadline is never later than its parent's", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const greedy = Stage.optional("greedy", () => Effect.map(Deadline.remainingMillis, (ms) => seen.push(ms)), {
        allocation: "500 millis",
        fallback: () => 0
      })
      const agent = Agent.make({
        name: "greedy",
        budget: "1 second",
        pipeline: Pipeline.make<void>().add(
          Stage.required("parent", () => Stage.run(greedy, undefined), { allocation: "100 millis" })
        )
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.deepStrictEqual(seen, [100])
      assert.strictEqual(record(result, "parent/greedy").allocatedMs, 500)
      assert.strictEqual(record(result, "parent/greedy").windowMs, 100)
    }))

  it.effect("a nested pipeline runs as children, reserving for its own later required stages", () =>
    Effect.gen(function*() {
      const inner = Pipeline.make<number>()
        .add(Stage.optional("search", ({ input }) => Effect.as(Effect.sleep(input), 1), { fallback: () => 0 }))
        .add(Stage.required("rank", ({ search }) => Effect.succeed(search * 10), { minUseful: "30 millis" }))
      const agent = Agent.make({
        name: "inner",
        budget: "1 second",
        pipeline: Pipeline.make<number>().add(
          Stage.optional("tools", ({ input }) => Pipeline.run(inner, input), {
            allocation: "100 millis",
            fallback: () => -1
          })
        )
      })
      const result = yield* runFor(agent, 500, "1 second").pipe(Effect.provideService(Budget.Slack, 0))
      // search's window = 100 − 30 reserved for rank = 70; it is cut; rank still runs
      assert.strictEqual(record(result, "tools/search").windowMs, 70)
      assert.strictEqual(record(result, "tools/search").status, "timed-out")
      assert.strictEqual(record(result, "tools/rank").status, "completed")
      assert.strictEqual(record(result, "tools").status, "degraded")
      assert.strictEqual(result.output, 0)
    }))

  it.effect("a share's float residue never flags a stage as over its allocation", () =>
    Effect.gen(function*() {
      const share = Stage.optional("share", () => Effect.never, { allocation: "40%", fallback: () => 0 })
      const agent = Agent.make({
        name: "residue",
        budget: "1 second",
        pipeline: Pipeline.make<void>().add(
          Stage.required("parent", () => Stage.run(share, undefined), { allocation: "14 millis" })
        )
      })
      const result = yield* runFor(agent, undefined, "1 second")
      const child = record(result, "parent/share")
      assert.strictEqual(child.allocatedMs, 5.6)
      assert.strictEqual(child.actualMs, 5.6)
      assert.isFalse(child.overAllocation)
    }))

  it.effect("a nested stage with a bad policy fails with the configuration error, before it starts", () =>
    Effect.gen(function*() {
      let started = false
      const bad = Stage.optional("bad", () => Effect.sync(() => (started = true)), {
        allocation: "20 millis",
        minUseful: "50 millis",
        fallback: () => false
      })
      const agent = Agent.make({
        name: "nested-config",
        budget: "1 second",
        pipeline: Pipeline.make<void>().add(Stage.required("parent", () => Stage.run(bad, undefined)))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.isFalse(started)
      assert.strictEqual(record(result, "parent/bad").status, "failed")
      assert.strictEqual(
        record(result, "parent/bad").reason,
        "Stage.run: invalid stages.bad.minUseful (\"50 millis\"): 50ms exceeds the stage's allocation of 20ms"
      )
      const required = Stage.required("strict", () => Effect.void, { allocation: "soon" as Budget.Allocation })
      const failing = Agent.make({
        name: "nested-required",
        budget: "1 second",
        pipeline: Pipeline.make<void>().add(Stage.required("parent", () => Stage.run(required, undefined)))
      })
      const failed = yield* runFor(failing, undefined, "1 second")
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(failed.status === "failed" && failed.reason, "stage-failed")
      assert.include(record(failed, "parent/strict").reason, "not a duration or percentage")
    }))

  it("Budget.split divides a window by fraction and duration", () => {
    assert.deepStrictEqual(Budget.split(150, { history: "40%", rag: "50%", profile: "30ms" }), {
      history: 60,
      rag: 75,
      profile: 30
    })
    assert.deepStrictEqual(Budget.split(20, { big: "1 second" }), { big: 20 })
  })
})
