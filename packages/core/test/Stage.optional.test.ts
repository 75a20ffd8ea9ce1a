import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, Pipeline, Stage } from "../src/index.ts"
import { record, runFor } from "./utils.ts"

describe("optional stages", () => {
  it.effect("a window below minUseful: not started, skipped (insufficient-budget), fallback used", () =>
    Effect.gen(function*() {
      let started = false
      const outcomes: Array<Stage.Outcome> = []
      const agent = Agent.make({
        name: "skip",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.required("auth", () => Effect.sleep("80 millis")))
          .add(
            Stage.optional("rag", () => Effect.sync(() => (started = true)).pipe(Effect.as(["doc"])), {
              allocation: "50%",
              minUseful: "20 millis",
              fallback: (_, outcome) => {
                outcomes.push(outcome)
                return [] as Array<string>
              }
            })
          )
          .add(Stage.required("answer", ({ rag }) => Effect.succeed(rag.length)))
      })
      // 100 ms budget: after auth 20 ms remain, rag's window = min(50, 20) = 20 ≥ 20 → runs
      const ok = yield* runFor(agent, undefined, "1 second", { budget: "100 millis" })
      assert.strictEqual(record(ok, "rag").status, "completed")
      assert.isTrue(started)
      started = false
      // 95 ms budget: 15 ms remain < minUseful 20 → skipped, never started
      const result = yield* runFor(agent, undefined, "1 second", { budget: "95 millis" })
      assert.isFalse(started)
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, 0)
      const rag = record(result, "rag")
      assert.strictEqual(rag.status, "skipped")
      assert.strictEqual(rag.reason, "insufficient-budget")
      assert.strictEqual(rag.windowMs, 15)
      assert.strictEqual(rag.actualMs, 0)
      assert.deepStrictEqual(outcomes, [{ status: "skipped", reason: "insufficient-budget" }])
      assert.deepStrictEqual(result.report.skipped, [
        { stage: "rag", path: "rag", status: "skipped", reason: "insufficient-budget" }
      ])
    }))

  it.effect("a window of zero or less skips the stage even without minUseful", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "zero",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.optional("slow", () => Effect.sleep("200 millis"), { fallback: () => {} }))
          .add(Stage.optional("late", () => Effect.succeed(1), { fallback: () => 0 }))
      })
      const result = yield* runFor(agent, undefined, "1 second", { budget: "200 millis" })
      assert.strictEqual(record(result, "late").status, "skipped")
      assert.strictEqual(record(result, "late").windowMs, 0)
      assert.strictEqual(result.output, 0)
    }))

  it.effect("a timeout interrupts the stage's fiber (finalizers run), uses the fallback and the run goes on", () =>
    Effect.gen(function*() {
      let finalized = false
      let completed = false
      const agent = Agent.make({
        name: "timeout",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(
            Stage.optional(
              "rag",
              () =>
                Effect.sleep("300 millis").pipe(
                  Effect.tap(() => Effect.sync(() => (completed = true))),
                  Effect.as(["doc"]),
                  Effect.onInterrupt(() => Effect.sync(() => (finalized = true)))
                ),
              { allocation: "100 millis", fallback: () => ["fallback"] }
            )
          )
          .add(Stage.required("answer", ({ rag }) => Effect.as(Effect.sleep("10 millis"), rag.join())))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, "fallback")
      assert.isTrue(finalized)
      assert.isFalse(completed)
      const rag = record(result, "rag")
      assert.strictEqual(rag.status, "timed-out")
      assert.strictEqual(rag.reason, "deadline")
      assert.strictEqual(rag.actualMs, 100)
      assert.isUndefined(rag.abandoned)
      assert.strictEqual(record(result, "answer").startedAtMs, 100)
      assert.strictEqual(result.report.elapsedMs, 110)
    }))

  it.effect("a typed failure: failed with the error's message, fallback used", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "typed",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.optional("profile", () => Effect.fail(new Error("profile service 503")), { fallback: () => null }))
          .add(Stage.required("answer", ({ profile }) => Effect.succeed(profile === null ? "anonymous" : "known")))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, "anonymous")
      assert.strictEqual(record(result, "profile").status, "failed")
      assert.strictEqual(record(result, "profile").reason, "profile service 503")
      assert.deepStrictEqual(result.report.skipped, [
        { stage: "profile", path: "profile", status: "failed", reason: "profile service 503" }
      ])
    }))

  it.effect("a defect: failed with the defect's message, fallback used, nothing escapes", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "defect",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.optional("profile", () => Effect.die(new TypeError("x is undefined")), { fallback: () => 0 }))
          .add(Stage.required("answer", ({ profile }) => Effect.succeed(profile)))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(record(result, "profile").status, "failed")
      assert.strictEqual(record(result, "profile").reason, "x is undefined")
    }))

  it.effect("a stage function that throws before returning an Effect: failed with its message, fallback used", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "throws",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.optional("profile", (): Effect.Effect<number> => {
            throw new Error("sync boom")
          }, { fallback: () => 7 }))
          .add(Stage.required("answer", ({ profile }) => Effect.succeed(profile)))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, 7)
      assert.strictEqual(record(result, "profile").status, "failed")
      assert.strictEqual(record(result, "profile").reason, "sync boom")
    }))

  it.effect("a fallback that throws: the stage fails as a required one would, later stages not-reached", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "fallback-throws",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.optional("profile", () => Effect.fail(new Error("profile service 503")), {
            fallback: (): number => {
              throw new Error("fallback boom")
            }
          }))
          .add(Stage.required("answer", ({ profile }) => Effect.succeed(profile)))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status === "failed" && result.reason, "stage-failed")
      assert.strictEqual(record(result, "profile").status, "failed")
      assert.strictEqual(record(result, "profile").reason, "profile service 503; its fallback threw: fallback boom")
      assert.strictEqual(record(result, "answer").reason, "not-reached")
    }))
})
