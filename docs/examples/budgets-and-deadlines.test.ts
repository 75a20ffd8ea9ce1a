// The code and the numbers of docs/concepts/budgets-and-deadlines.md: its
// code blocks are regions of this file (scripts/docs-check.mjs keeps them
// equal), and its timelines are pinned by the tests below.
import { assert, describe, it } from "@effect/vitest"
import { Agent, Budget, Deadline, Pipeline, Report, ReportSink, Simulation, Stage, TimeboxError } from "@timebox/core"
import { SupportAgent } from "@timebox/example-support-agent"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { readFileSync } from "node:fs"

const question = "Where is my order?"

const runSupport = (budget?: Budget.DurationText) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(
      Agent.run(SupportAgent.agent, question, budget === undefined ? undefined : { budget })
    )
    yield* TestClock.adjust("2 seconds")
    return yield* Fiber.join(fiber)
  })

// [path, windowMs, actualMs, startedAtMs, status] for every record, depth first
const timeline = (report: Report.RunReport) => {
  const rows: Array<readonly [string, number, number, number, string]> = []
  const visit = (records: ReadonlyArray<Report.StageRecord>, prefix: string) => {
    for (const record of records) {
      const path = prefix === "" ? record.name : `${prefix}/${record.name}`
      rows.push([path, record.windowMs, record.actualMs, record.startedAtMs, record.status])
      if (record.children !== undefined) visit(record.children, path)
    }
  }
  visit(report.stages, "")
  return rows
}

describe("the support agent's timelines (seed 1)", () => {
  it.effect("2 s: every window is the allocation; complete at 811.371 ms", () =>
    Effect.gen(function*() {
      const result = yield* runSupport()
      assert.strictEqual(result.status, "complete")
      assert.strictEqual(result.report.elapsedMs, 811.371)
      assert.deepStrictEqual(timeline(result.report), [
        ["auth", 10, 4, 0, "completed"],
        ["context", 150, 33, 4, "completed"],
        ["context/history", 60, 21, 4, "completed"],
        ["context/rag", 75, 33, 4, "completed"],
        ["context/profile", 45, 23, 4, "completed"],
        ["inference", 1400, 546.371, 37, "completed"],
        ["tools", 300, 222, 583.371, "completed"],
        ["tools/order-lookup", 250, 184, 583.371, "completed"],
        ["tools/kb-search", 280, 222, 583.371, "completed"],
        ["assembly", 20, 6, 805.371, "completed"]
      ])
      // the simulated model's call: first token at 320.629 ms (330 ± 8%), then 55 tokens
      const inference = Report.find(result.report, "inference")
      assert.strictEqual(inference?.ttftMs, 320.629)
      assert.strictEqual(inference?.ttltMs, 546.371)
      assert.strictEqual(inference?.steps, 1)
      assert.deepStrictEqual(inference?.model, {
        chosen: "support-small",
        reason: "most-capable-that-fits",
        candidates: [{ name: "support-small", p95Ms: 598, accuracy: 4.1, fits: true }],
        ttftMs: 320.629 // the model's own first token, from its call's start: here the stage's start too
      })
      // 59 input tokens × 750 + 55 output tokens × 800 = 88,250 nano-USD, reported as 89 micro-USD
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 59,
        outputTokens: 55,
        reasoningTokens: 0,
        microUsd: 89
      })
    }))

  it.effect("700 ms: inference gets 648 ms, the tools 86.629 ms and both calls are cut; partial at 676 ms", () =>
    Effect.gen(function*() {
      const result = yield* runSupport("700 millis")
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.report.elapsedMs, 676)
      assert.deepStrictEqual(timeline(result.report), [
        ["auth", 10, 4, 0, "completed"],
        ["context", 150, 33, 4, "completed"],
        ["context/history", 60, 21, 4, "completed"],
        ["context/rag", 75, 33, 4, "completed"],
        ["context/profile", 45, 23, 4, "completed"],
        ["inference", 648, 546.371, 37, "completed"],
        ["tools", 86.629, 86.629, 583.371, "degraded"],
        ["tools/order-lookup", 86.629, 86.629, 583.371, "timed-out"],
        ["tools/kb-search", 86.629, 86.629, 583.371, "timed-out"],
        ["assembly", 20, 6, 670, "completed"]
      ])
      // the JSON form of this run, as `timebox run support-agent --budget 700ms --json` prints it
      const json = Schema.encodeSync(Report.RunResultJson)(result)
      const documented = JSON.parse(readFileSync(new URL("run-result.json", import.meta.url), "utf8"))
      assert.deepStrictEqual(json, documented)
    }))

  it.effect("100 ms: auth's window is 100 − 215 < 0; failed at 0 ms, every stage listed", () =>
    Effect.gen(function*() {
      const result = yield* runSupport("100 millis")
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "budget-exhausted")
      assert.strictEqual(result.report.elapsedMs, 0)
      assert.deepStrictEqual(result.report.stages.map((stage) => [stage.name, stage.status, stage.reason]), [
        ["auth", "skipped", "budget-exhausted"],
        ["context", "skipped", "not-reached"],
        ["inference", "skipped", "not-reached"],
        ["tools", "skipped", "not-reached"],
        ["assembly", "skipped", "not-reached"]
      ])
    }))

  it.effect("a rag latency of 400 ms: RAG is cut at 75 ms, the context stage degrades, partial at 887.176 ms", () =>
    Effect.gen(function*() {
      const result = yield* runSupport().pipe(Simulation.withLatencies({ rag: 400 }))
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.report.elapsedMs, 887.176)
      assert.strictEqual(Report.find(result.report, "context")?.reason, "rag timed-out")
      assert.strictEqual(Report.find(result.report, "context")?.actualMs, 75)
      // without documents the prompt is shorter, so the model draws other timings and bills fewer tokens
      assert.strictEqual(Report.find(result.report, "inference")?.actualMs, 580.176)
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 42,
        outputTokens: 55,
        reasoningTokens: 0,
        microUsd: 76
      })
    }))
})

describe("deadlines", () => {
  // region: ambient
  // Any code under a stage reads the time it has left without parameters.
  const searchDepth = Effect.map(Deadline.remainingMillis, (ms) => (ms > 100 ? 20 : 5))

  const search = Stage.optional("search", () => searchDepth, { allocation: "250 millis", fallback: () => 0 })
  // endregion

  it.effect("the work sees its stage's window as its deadline", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const probe = Stage.optional("probe", () => Effect.map(Deadline.remainingMillis, (ms) => seen.push(ms)), {
        allocation: "250 millis",
        fallback: () => 0
      })
      const fiber = yield* Effect.forkChild(Stage.run(probe, undefined).pipe(Deadline.within("1 second")))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen, [250])
      assert.strictEqual(yield* Stage.run(search, undefined).pipe(Deadline.within("1 second")), 20)
      assert.strictEqual(yield* Stage.run(search, undefined).pipe(Deadline.within("80 millis")), 5)
    }))

  // region: within
  const nested = Effect.gen(function*() {
    const outside = yield* Deadline.remainingMillis // Infinity: no budget in force
    // a child deadline is never later than its parent's: 10 s inside 1 s is still 1 s
    const inside = yield* Deadline.remainingMillis.pipe(Deadline.within("10 seconds"), Deadline.within("1 second"))
    return [outside, inside]
  })
  // endregion

  it.effect("Deadline.within never extends the current deadline", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* nested, [Number.POSITIVE_INFINITY, 1_000])
    }))

  it.effect("at exactly zero remaining a stage is skipped, even with no minUseful", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "zero",
        budget: "100 millis",
        pipeline: Pipeline.make<void>()
          .add(Stage.optional("first", () => Effect.sleep("100 millis"), { fallback: () => {} }))
          .add(Stage.optional("second", () => Effect.succeed(1), { fallback: () => 0 }))
      })
      const fiber = yield* Effect.forkChild(Agent.run(agent, undefined))
      yield* TestClock.adjust("100 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(Report.find(result.report, "second")?.status, "skipped")
      assert.strictEqual(Report.find(result.report, "second")?.reason, "insufficient-budget")
      assert.strictEqual(Report.find(result.report, "second")?.windowMs, 0)
    }))
})

describe("hard deadlines", () => {
  // region: promise
  // A client that takes an AbortSignal (fetch, most SDKs) is cancelled at the stage's deadline.
  const callSearchApi = (query: string, signal: AbortSignal): Promise<ReadonlyArray<string>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve([`result for ${query}`]), 5_000)
      signal.addEventListener("abort", () => {
        clearTimeout(timer)
        reject(new Error("aborted"))
      })
    })

  const kbSearch = Stage.optional(
    "kb-search",
    ({ input }: { readonly input: string }) => Stage.promise((signal) => callSearchApi(input, signal)),
    { allocation: "280 millis", fallback: () => [] }
  )
  // endregion

  it.effect("a promise that honours its AbortSignal is cancelled, not abandoned", () =>
    Effect.gen(function*() {
      const agent = Agent.make({
        name: "promise",
        budget: "1 second",
        pipeline: Pipeline.make<string>().add(kbSearch).add(
          Stage.required("answer", ({ "kb-search": hits }) => Effect.succeed(hits.length))
        )
      })
      const fiber = yield* Effect.forkChild(Agent.run(agent, "refund"))
      yield* TestClock.adjust("280 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.output, 0)
      assert.strictEqual(Report.find(result.report, "kb-search")?.status, "timed-out")
      assert.isUndefined(Report.find(result.report, "kb-search")?.abandoned)
    }))

  it.effect("work that cannot be stopped in time is left behind: abandoned, and the run moves on", () =>
    Effect.gen(function*() {
      const slowCleanup = Effect.acquireUseRelease(
        Effect.void,
        () => Effect.sleep("400 millis"),
        () => Effect.sleep("50 millis") // a finalizer that takes time
      )
      const agent = Agent.make({
        name: "stubborn",
        budget: "1 second",
        pipeline: Pipeline.make<void>()
          .add(Stage.optional("uninterruptible", () => Effect.uninterruptible(Effect.sleep("400 millis")), {
            allocation: "100 millis",
            fallback: () => {}
          }))
          .add(Stage.optional("slow-cleanup", () => slowCleanup, { allocation: "100 millis", fallback: () => {} }))
      })
      const fiber = yield* Effect.forkChild(Agent.run(agent, undefined))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.report.elapsedMs, 200)
      for (const name of ["uninterruptible", "slow-cleanup"]) {
        assert.strictEqual(Report.find(result.report, name)?.status, "timed-out")
        assert.strictEqual(Report.find(result.report, name)?.actualMs, 100)
        assert.isTrue(Report.find(result.report, name)?.abandoned)
      }
    }))
})

describe("reports and errors", () => {
  // region: sink
  // Every run is published to the ReportSink, including runs interrupted from outside.
  const { sink, results } = ReportSink.makeMemory()
  const withSink = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provideService(self, ReportSink.ReportSink, sink)
  // endregion

  it.effect("an interrupted run is published with status interrupted", () =>
    Effect.gen(function*() {
      results.length = 0
      const fiber = yield* Effect.forkChild(withSink(Agent.run(SupportAgent.agent, question)))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(fiber)
      const published = results[0]
      assert.strictEqual(published?.status, "interrupted")
      assert.strictEqual(published?.report.elapsedMs, 100)
      assert.deepStrictEqual(published?.report.stages.map((stage) => [stage.name, stage.status, stage.reason]), [
        ["auth", "completed", undefined],
        ["context", "completed", undefined],
        ["inference", "failed", "interrupted"],
        ["tools", "skipped", "not-reached"],
        ["assembly", "skipped", "not-reached"]
      ])
    }))

  // region: invalid-config
  const tooGreedy = Agent.make({
    name: "greedy",
    budget: "1 second",
    pipeline: Pipeline.make<string>().add(
      Stage.required("inference", ({ input }) => Effect.succeed(input), { allocation: "1400 millis" })
    )
  })

  const explain = Agent.run(tooGreedy, "hi").pipe(
    Effect.map((result) => result.status),
    Effect.catchReason(
      "TimeboxError",
      "InvalidConfig",
      (reason) => Effect.succeed(`${reason.field}: ${reason.problem}`)
    )
  )
  // "stages.inference.allocation: 1400ms exceeds the total budget of 1000ms"
  // endregion

  it.effect("a bad configuration is a typed error naming the field and the value", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* explain, "stages.inference.allocation: 1400ms exceeds the total budget of 1000ms")
      const error = yield* Effect.flip(Agent.validate(tooGreedy))
      assert.strictEqual(
        error.message,
        "Agent.run: invalid stages.inference.allocation (\"1400 millis\"): 1400ms exceeds the total budget of 1000ms"
      )
      assert.isTrue(TimeboxError.isTimeboxError(error))
      const decoded = yield* Effect.flip(Budget.decode({ total: "2s", stages: { rag: { minUseful: "soon" } } }))
      assert.strictEqual(decoded.reason._tag === "InvalidConfig" && decoded.reason.field, "stages.rag.minUseful")
    }))

  it.effect("a run-time budget smaller than the agent's is time pressure, not an error", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Agent.run(SupportAgent.agent, question, { budget: "250 millis" }))
      yield* TestClock.adjust("250 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.report.budgetMs, 250)
      assert.strictEqual(Report.find(result.report, "inference")?.allocatedMs, 1400)
    }))
})
