import { assert, describe, it } from "@effect/vitest"
import { Agent, type Budget, Report, Simulation } from "@timebox/core"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { SupportAgent } from "../src/index.ts"

const question = "Where is my order?"

// Runs the support agent under TestClock: fork, move the clock past any deadline, join.
const run = (
  options: {
    readonly budget?: Budget.DurationText
    readonly seed?: number
    readonly latencies?: Record<string, number>
  }
) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(
      Agent.run(SupportAgent.agent, question, options.budget === undefined ? undefined : { budget: options.budget })
        .pipe(
          Simulation.withSeed(options.seed ?? 1),
          Simulation.withLatencies(options.latencies ?? {})
        )
    )
    yield* TestClock.adjust("3 seconds")
    return yield* Fiber.join(fiber)
  })

const statuses = (result: Report.RunResult<unknown>) =>
  result.report.stages.map((stage) => [stage.name, stage.status] as const)

describe("support agent", () => {
  it.effect("completes within its 2 s budget for every seed", () =>
    Effect.gen(function*() {
      for (let seed = 1; seed <= 50; seed++) {
        const result = yield* run({ seed })
        assert.strictEqual(result.status, "complete", `seed ${seed}`)
        assert.isTrue(result.report.withinBudget)
        assert.isBelow(result.report.elapsedMs, 1_000)
      }
    }))

  it.effect("700 ms: partial for every seed, the knowledge-base search cut, the answer still comes", () =>
    Effect.gen(function*() {
      for (let seed = 1; seed <= 50; seed++) {
        const result = yield* run({ seed, budget: "700 millis" })
        assert.strictEqual(result.status, "partial", `seed ${seed}`)
        assert.isAtMost(result.report.elapsedMs, 700)
        const kb = Report.find(result.report, "tools/kb-search")
        const tools = Report.find(result.report, "tools")
        assert.isTrue(
          tools?.status === "skipped" || kb?.status === "timed-out",
          `seed ${seed}: tools ${tools?.status}, kb-search ${kb?.status}`
        )
        assert.isAbove(result.report.skipped.length, 0)
        if (result.status === "partial") assert.include(result.output.answer, "Sorry about the wait")
      }
    }))

  it.effect("100 ms: failed with a full report", () =>
    Effect.gen(function*() {
      const result = yield* run({ budget: "100 millis" })
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "budget-exhausted")
      assert.deepStrictEqual(statuses(result), [
        ["auth", "skipped"],
        ["context", "skipped"],
        ["inference", "skipped"],
        ["tools", "skipped"],
        ["assembly", "skipped"]
      ])
      assert.strictEqual(Report.find(result.report, "auth")?.reason, "budget-exhausted")
    }))

  it.effect("slow RAG is dropped at its 75 ms window; the context stage degrades and the answer comes", () =>
    Effect.gen(function*() {
      const result = yield* run({ latencies: { rag: 400 } })
      assert.strictEqual(result.status, "partial")
      const rag = Report.find(result.report, "context/rag")
      assert.strictEqual(rag?.status, "timed-out")
      assert.strictEqual(rag?.windowMs, 75)
      assert.strictEqual(rag?.actualMs, 75)
      assert.strictEqual(Report.find(result.report, "context")?.status, "degraded")
      assert.strictEqual(Report.find(result.report, "context/history")?.windowMs, 60)
      assert.deepStrictEqual(result.report.skipped, [
        { stage: "rag", path: "context/rag", status: "timed-out", reason: "deadline" }
      ])
      if (result.status === "partial") {
        assert.deepStrictEqual(result.output.sources, [])
        assert.include(result.output.answer, "I checked our records")
      }
    }))

  it.effect("RAG with less than 20 ms left is skipped without starting", () =>
    Effect.gen(function*() {
      // history and profile are fast, but the context window is squeezed: 150 ms allocation, 15 ms left for RAG's share
      const result = yield* run({ budget: "250 millis", latencies: { auth: 2 } })
      // 250 − 2 − (200 inference + 10 assembly + 5 slack) = 33 ms of context window; RAG's 50% = 16.5 ms < 20 ms
      const rag = Report.find(result.report, "context/rag")
      assert.strictEqual(rag?.status, "skipped")
      assert.strictEqual(rag?.reason, "insufficient-budget")
      assert.strictEqual(rag?.actualMs, 0)
    }))

  it.effect("a slow tool is cut at its own deadline without delaying the other", () =>
    Effect.gen(function*() {
      const result = yield* run({ latencies: { "order-lookup": 120, "kb-search": 900 } })
      assert.strictEqual(result.status, "partial")
      const kb = Report.find(result.report, "tools/kb-search")
      assert.strictEqual(kb?.status, "timed-out")
      assert.strictEqual(kb?.actualMs, 280)
      assert.strictEqual(Report.find(result.report, "tools/order-lookup")?.status, "completed")
      assert.strictEqual(Report.find(result.report, "tools/order-lookup")?.actualMs, 120)
      assert.strictEqual(Report.find(result.report, "tools")?.status, "degraded")
      if (result.status === "partial") {
        assert.deepStrictEqual(result.output.toolNotes, ["order-lookup: ok", "kb-search: skipped: deadline"])
        assert.include(result.output.answer, "shipped, arriving tomorrow")
      }
    }))

  it.effect("auth too slow: the run fails with a full report", () =>
    Effect.gen(function*() {
      const result = yield* run({ latencies: { auth: 50 } })
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "budget-exhausted")
      assert.isNull(result.output)
      assert.deepStrictEqual(statuses(result), [
        ["auth", "timed-out"],
        ["context", "skipped"],
        ["inference", "skipped"],
        ["tools", "skipped"],
        ["assembly", "skipped"]
      ])
      assert.strictEqual(Report.find(result.report, "auth")?.actualMs, 10)
      assert.strictEqual(Report.find(result.report, "inference")?.reason, "not-reached")
      assert.strictEqual(result.report.elapsedMs, 10)
    }))

  it.effect("a slow model that misses its window fails the run", () =>
    Effect.gen(function*() {
      const result = yield* run({ latencies: { inference: 1_600 } })
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(Report.find(result.report, "inference")?.status, "timed-out")
      assert.strictEqual(Report.find(result.report, "inference")?.windowMs, 1_400)
    }))

  it.effect("latencies are deterministic per seed", () =>
    Effect.gen(function*() {
      const a = yield* run({ seed: 7 })
      const b = yield* run({ seed: 7 })
      const c = yield* run({ seed: 8 })
      assert.deepStrictEqual(a.report, b.report)
      assert.notDeepEqual(a.report.elapsedMs, c.report.elapsedMs)
    }))
})
