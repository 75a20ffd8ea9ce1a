import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, Pipeline, Report, ReportSink, Stage } from "../src/index.ts"
import { runFor } from "./utils.ts"

const agent = Agent.make({
  name: "sink",
  budget: "1 second",
  pipeline: Pipeline.make<string>()
    .add(Stage.required("auth", () => Effect.sleep("10 millis"), { allocation: "50 millis" }))
    .add(Stage.optional("rag", () => Effect.sleep("500 millis"), { allocation: "100 millis", fallback: () => {} }))
    .add(Stage.required("answer", ({ input }) => Effect.as(Effect.sleep("20 millis"), input.toUpperCase())))
})

describe("Agent.run and the ReportSink", () => {
  it.effect("every run's result is published to the ReportSink", () =>
    Effect.gen(function*() {
      const { sink, results } = ReportSink.makeMemory()
      const result = yield* runFor(agent, "hi", "1 second").pipe(Effect.provideService(ReportSink.ReportSink, sink))
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, "HI")
      assert.deepStrictEqual(results, [result])
    }))

  it.effect("a run interrupted from outside publishes an interrupted report", () =>
    Effect.gen(function*() {
      const { sink, results } = ReportSink.makeMemory()
      const fiber = yield* Effect.forkChild(
        Agent.run(agent, "hi").pipe(Effect.provideService(ReportSink.ReportSink, sink))
      )
      yield* TestClock.adjust("50 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(results.length, 1)
      const published = results[0]!
      assert.strictEqual(published.status, "interrupted")
      assert.strictEqual(published.status === "interrupted" && published.reason, "interrupted")
      assert.isNull(published.output)
      assert.strictEqual(published.report.elapsedMs, 50)
      assert.deepStrictEqual(published.report.stages.map((stage) => [stage.name, stage.status, stage.reason]), [
        ["auth", "completed", undefined],
        ["rag", "failed", "interrupted"],
        ["answer", "skipped", "not-reached"]
      ])
    }))

  it.effect("a failing sink never breaks a run", () =>
    Effect.gen(function*() {
      const broken: ReportSink.Service = { publish: () => Effect.die(new Error("sink down")) }
      const result = yield* runFor(agent, "hi", "1 second").pipe(Effect.provideService(ReportSink.ReportSink, broken))
      assert.strictEqual(result.output, "HI")
    }))

  it.effect("a run may get a smaller budget than the agent's: windows shrink, no config error", () =>
    Effect.gen(function*() {
      const result = yield* runFor(agent, "hi", "1 second", { budget: "40 millis" })
      assert.strictEqual(result.report.budgetMs, 40)
      // rag takes everything left (answer declared no minUseful to reserve), so answer cannot start
      assert.strictEqual(result.status, "failed")
      assert.deepStrictEqual(result.report.stages.map((stage) => [stage.name, stage.status, stage.windowMs]), [
        ["auth", "completed", 40],
        ["rag", "timed-out", 30],
        ["answer", "skipped", 0]
      ])
    }))

  it.effect("the result's JSON form is stable", () =>
    Effect.gen(function*() {
      const result = yield* runFor(agent, "hi", "1 second")
      const json = Schema.encodeSync(Report.RunResultJson)(result)
      assert.deepStrictEqual(json, {
        status: "partial",
        output: "HI",
        report: {
          agent: "sink",
          budgetMs: 1000,
          elapsedMs: 130,
          withinBudget: true,
          stages: [
            {
              name: "auth",
              status: "completed",
              allocatedMs: 50,
              windowMs: 50,
              actualMs: 10,
              startedAtMs: 0,
              overAllocation: false
            },
            {
              name: "rag",
              status: "timed-out",
              reason: "deadline",
              allocatedMs: 100,
              windowMs: 100,
              actualMs: 100,
              startedAtMs: 10,
              overAllocation: false
            },
            {
              name: "answer",
              status: "completed",
              allocatedMs: 890,
              windowMs: 890,
              actualMs: 20,
              startedAtMs: 110,
              overAllocation: false
            }
          ],
          skipped: [{ stage: "rag", path: "rag", status: "timed-out", reason: "deadline" }],
          cost: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, microUsd: 0 }
        }
      })
      // and it decodes back
      const decoded = Schema.decodeUnknownSync(Report.RunResultJson)(JSON.parse(JSON.stringify(json)))
      assert.strictEqual(decoded.status, "partial")
    }))

  it("isAgent recognises agents", () => {
    assert.isTrue(Agent.isAgent(agent))
    assert.isFalse(Agent.isAgent({ name: "x" }))
  })
})
