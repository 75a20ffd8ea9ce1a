// The code of docs/guides/testing-degradation.md. Every block of that guide is
// a region of this file (scripts/docs-check.mjs keeps them equal), and vitest
// runs it: `npx vitest run --project @timebox/docs`.
// region: setup
import { assert, describe, it } from "@effect/vitest"
import { Agent, Budget, Inference, Pipeline, Report, Simulation, Stage } from "@timebox/core"
import { makeRecordingModel, presets, runUnderTestClock } from "@timebox/core/testing"
import { SupportAgent } from "@timebox/example-support-agent"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"

const question = "Where is my order?"
// endregion

describe("testing degradation with TestClock", () => {
  // region: slow-rag
  it.effect("a slow RAG is dropped at its 75 ms window; the answer still comes", () =>
    Effect.gen(function*() {
      // 1. Fork the run: under TestClock time only moves when the test says so.
      const fiber = yield* Effect.forkChild(
        Agent.run(SupportAgent.agent, question).pipe(Simulation.withLatencies({ rag: 400 }))
      )
      // 2. Move the clock past the whole budget (2 s); every timer due fires in order.
      yield* TestClock.adjust("2 seconds")
      // 3. Join: the run has finished.
      const result = yield* Fiber.join(fiber)

      assert.strictEqual(result.status, "partial")
      const rag = Report.find(result.report, "context/rag")
      assert.strictEqual(rag?.status, "timed-out")
      assert.strictEqual(rag?.reason, "deadline")
      assert.strictEqual(rag?.windowMs, 75) // 50% of the context stage's 150 ms
      assert.strictEqual(rag?.actualMs, 75) // cut exactly at its deadline
      assert.strictEqual(Report.find(result.report, "context")?.status, "degraded")
      assert.deepStrictEqual(result.report.skipped, [
        { stage: "rag", path: "context/rag", status: "timed-out", reason: "deadline" }
      ])
      if (result.status === "partial") {
        assert.deepStrictEqual(result.output.sources, []) // the fallback: no documents
        assert.include(result.output.answer, "I checked our records")
      }
    }))
  // endregion

  // region: rag-boundary
  // Slack = 0 and forced latencies make every window exact.
  const squeezed = (budgetMs: number) =>
    Agent.run(SupportAgent.agent, question, { budget: budgetMs }).pipe(
      Simulation.withLatencies({ auth: 2, history: 10, rag: 15, profile: 5, inference: 200, assembly: 10 }),
      Effect.provideService(Budget.Slack, 0)
    )

  it.effect("RAG starts with exactly its minUseful (20 ms) and is skipped below it", () =>
    Effect.gen(function*() {
      // 252 ms: context window = 252 − 2 (auth) − 210 (reserve: inference 200 + assembly 10) = 40 ms
      const enough = yield* Effect.forkChild(squeezed(252))
      yield* TestClock.adjust("1 second")
      const at252 = yield* Fiber.join(enough)
      assert.strictEqual(Report.find(at252.report, "context")?.windowMs, 40)
      assert.strictEqual(Report.find(at252.report, "context/rag")?.windowMs, 20) // 50% of 40 = minUseful
      assert.strictEqual(Report.find(at252.report, "context/rag")?.status, "completed")

      // 251 ms: context window = 39 ms, RAG's share = 19.5 ms < 20 ms: never started
      const short = yield* Effect.forkChild(squeezed(251))
      yield* TestClock.adjust("1 second")
      const at251 = yield* Fiber.join(short)
      const rag = Report.find(at251.report, "context/rag")
      assert.strictEqual(rag?.status, "skipped")
      assert.strictEqual(rag?.reason, "insufficient-budget")
      assert.strictEqual(rag?.windowMs, 19.5)
      assert.strictEqual(rag?.actualMs, 0)
      // inference ends at 2 + 10 + 200 = 212 ms; tools need 50 ms, but 251 − 212 − 30 (their reserve) = 9 ms
      assert.strictEqual(Report.find(at251.report, "tools")?.status, "skipped")
      assert.strictEqual(at251.status, "partial")
      assert.strictEqual(at251.report.elapsedMs, 222)
    }))
  // endregion

  // region: slow-tool
  it.effect("a slow tool is cut at its own 280 ms; the other tool's result is kept", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Agent.run(SupportAgent.agent, question).pipe(
          Simulation.withLatencies({ "order-lookup": 120, "kb-search": 900 })
        )
      )
      yield* TestClock.adjust("2 seconds")
      const result = yield* Fiber.join(fiber)

      assert.strictEqual(Report.find(result.report, "tools/kb-search")?.status, "timed-out")
      assert.strictEqual(Report.find(result.report, "tools/kb-search")?.actualMs, 280)
      assert.strictEqual(Report.find(result.report, "tools/order-lookup")?.actualMs, 120)
      assert.strictEqual(Report.find(result.report, "tools")?.status, "degraded")
      if (result.status === "partial") {
        // the cut call reaches the assembly as an explicit note, never as silence
        assert.deepStrictEqual(result.output.toolNotes, ["order-lookup: ok", "kb-search: skipped: deadline"])
      }
    }))
  // endregion

  // region: seeds
  it.effect("700 ms ends partial for every seed, with the knowledge-base search cut or the tools skipped", () =>
    Effect.gen(function*() {
      for (let seed = 1; seed <= 20; seed++) {
        const fiber = yield* Effect.forkChild(
          Agent.run(SupportAgent.agent, question, { budget: "700 millis" }).pipe(Simulation.withSeed(seed))
        )
        yield* TestClock.adjust("700 millis")
        const result = yield* Fiber.join(fiber)

        assert.strictEqual(result.status, "partial", `seed ${seed}`)
        assert.isTrue(result.report.withinBudget, `seed ${seed}`)
        const tools = Report.find(result.report, "tools")
        const kb = Report.find(result.report, "tools/kb-search")
        assert.isTrue(tools?.status === "skipped" || kb?.status === "timed-out", `seed ${seed}`)
      }
    }))
  // endregion

  // region: model
  it.effect("a slow model misses its 1,400 ms window: the required inference fails the run", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(SupportAgent.agent, question).pipe(
        Simulation.withLatencies({ inference: 1_600 }) // the simulated model's latencyKey
      )
      assert.strictEqual(result.status, "failed")
      const inference = Report.find(result.report, "inference")
      assert.strictEqual(inference?.status, "timed-out")
      assert.strictEqual(inference?.actualMs, 1_400)
      assert.strictEqual(inference?.ttftMs, 640) // it was streaming when it was cut
      assert.isUndefined(inference?.model?.ttftMs) // its first step never finished: nothing to learn from
      assert.strictEqual(result.report.cost.microUsd, 0) // the cut call never reported its usage
    }))

  it.effect("a recording model: canned answers, and every request it was sent", () =>
    Effect.gen(function*() {
      const fake = makeRecordingModel({ text: "Your parcel ships tomorrow." })
      const agent = Agent.make({
        name: "drafts",
        budget: "1 second",
        pipeline: Pipeline.make<string>().add(
          Stage.required("inference", ({ input }) =>
            Inference.run({ prompt: input, models: presets.fast }).pipe(Effect.provide(fake.layer)))
        )
      })
      const result = yield* runUnderTestClock(agent, question)
      assert.strictEqual(result.status === "complete" && result.output.text, "Your parcel ships tomorrow.")
      assert.strictEqual(fake.calls.length, 1)
      assert.include(JSON.stringify(fake.calls[0]!.prompt.content), question)
      // 10 input and 5 output tokens on the fast preset's prices: 7,500 + 4,000 nano-USD
      assert.strictEqual(result.report.cost.microUsd, 12)
    }))
  // endregion

  // region: shorthand
  it.effect("runUnderTestClock: fork, adjust and join in one call", () =>
    Effect.gen(function*() {
      const result = yield* runUnderTestClock(SupportAgent.agent, question, { budget: "100 millis" })
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "budget-exhausted")
      assert.strictEqual(Report.find(result.report, "auth")?.reason, "budget-exhausted")
      assert.strictEqual(Report.find(result.report, "inference")?.reason, "not-reached")
    }))
  // endregion
})
