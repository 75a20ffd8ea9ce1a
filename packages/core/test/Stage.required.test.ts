import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, Pipeline, Report, Stage } from "../src/index.ts"
import { record, runFor } from "./utils.ts"

const pipeline = (authLatency: Duration.Input) =>
  Pipeline.make<void>()
    .add(Stage.required("auth", () => Effect.sleep(authLatency), { allocation: "10 millis", minUseful: "2 millis" }))
    .add(Stage.optional("context", () => Effect.sleep("20 millis"), { allocation: "50 millis", fallback: () => {} }))
    .add(Stage.required("inference", () => Effect.sleep("100 millis"), { minUseful: "100 millis" }))
    .add(
      Stage.required("assembly", () => Effect.succeed("answer"), { allocation: "20 millis", minUseful: "10 millis" })
    )

describe("required stages", () => {
  it.effect("cannot start: not-reached stages are listed as skipped", () =>
    Effect.gen(function*() {
      const agent = Agent.make({ name: "tight", budget: "1 second", pipeline: pipeline(5) })
      // 100 ms: auth's window = min(10, 100 − (100 + 10 + 5)) < 0 → the run cannot succeed
      const result = yield* runFor(agent, undefined, "1 second", { budget: "100 millis" })
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "budget-exhausted")
      assert.deepStrictEqual(result.report.stages.map((stage) => [stage.name, stage.status, stage.reason]), [
        ["auth", "skipped", "budget-exhausted"],
        ["context", "skipped", "not-reached"],
        ["inference", "skipped", "not-reached"],
        ["assembly", "skipped", "not-reached"]
      ])
      assert.deepStrictEqual(result.report.skipped.map((entry) => entry.stage), [
        "auth",
        "context",
        "inference",
        "assembly"
      ])
      assert.strictEqual(result.report.elapsedMs, 0)
    }))

  it.effect("times out: the run fails (budget-exhausted), later stages not-reached", () =>
    Effect.gen(function*() {
      const agent = Agent.make({ name: "slow-auth", budget: "1 second", pipeline: pipeline(50) })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "budget-exhausted")
      const auth = record(result, "auth")
      assert.strictEqual(auth.status, "timed-out")
      assert.strictEqual(auth.reason, "budget-exhausted")
      assert.strictEqual(auth.actualMs, 10)
      assert.strictEqual(record(result, "inference").reason, "not-reached")
      assert.strictEqual(record(result, "inference").startedAtMs, 10)
      assert.strictEqual(result.report.elapsedMs, 10)
    }))

  it.effect("a typed failure fails the run (stage-failed) with the error's message", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "auth-error",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.required("auth", () => Effect.fail({ _tag: "Unauthorized" as const })))
          .add(Stage.required("answer", () => Effect.succeed(1)))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "stage-failed")
      assert.strictEqual(record(result, "auth").status, "failed")
      assert.strictEqual(record(result, "auth").reason, "Unauthorized")
      assert.strictEqual(record(result, "answer").reason, "not-reached")
    }))

  it.effect("a defect fails the run and never escapes Agent.run", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "boom",
        budget: "1 second",
        pipeline: Pipeline.make<void>().add(Stage.required("auth", () => Effect.die(new Error("boom"))))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(record(result, "auth").reason, "boom")
      // the report still encodes to the stable JSON form
      const json = Schema.encodeSync(Report.RunResultJson)(result) as {
        readonly status: string
        readonly report: { readonly stages: ReadonlyArray<{ readonly reason?: string }> }
      }
      assert.strictEqual(json.status, "failed")
      assert.strictEqual(json.report.stages[0]?.reason, "boom")
    }))

  it.effect("a stage function that throws before returning an Effect fails the stage with its message", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "throws",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.required("auth", (): Effect.Effect<string> => {
            throw new Error("sync boom")
          }))
          .add(Stage.required("answer", ({ auth }) => Effect.succeed(auth)))
      })
      const result = yield* runFor(agent, undefined, "1 second")
      assert.strictEqual(result.status === "failed" && result.reason, "stage-failed")
      assert.strictEqual(record(result, "auth").status, "failed")
      assert.strictEqual(record(result, "auth").reason, "sync boom")
      assert.strictEqual(record(result, "answer").reason, "not-reached")
    }))

  it.effect("Stage.run of a required stage fails with a TimeboxError outside an agent", () =>
    Effect.gen(function*() {
      const stage = Stage.required("auth", () => Effect.sleep("1 second"), { allocation: "10 millis" })
      const fiber = yield* Effect.forkChild(Effect.flip(Stage.run(stage, undefined)))
      yield* TestClock.adjust("10 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TimeboxError")
      assert.strictEqual(error.reason._tag, "BudgetExhausted")
      assert.strictEqual(error.message, "Stage.run: required stage auth ran past its 10ms window")
    }))
})
