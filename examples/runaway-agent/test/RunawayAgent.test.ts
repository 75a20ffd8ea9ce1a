import { assert, describe, it } from "@effect/vitest"
import { Guard, Ledger, LedgerStore, ModelProfile, Report } from "@timebox/core"
import { runUnderTestClock } from "@timebox/core/testing"
import { Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { RunawayAgent } from "../src/index.ts"

const LedgerTest = Ledger.layer.pipe(
  Layer.provide(LedgerStore.layerMemory),
  Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
)

const underTestClock = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust("10 minutes")
    return yield* Fiber.join(fiber)
  })

const scope = "tenant:demo/app:runaway/agent:runaway-agent"

describe("RunawayAgent", () => {
  it("every call costs exactly $0.01, and its worst case is the same: the 100th call is never blocked", () => {
    const usage = { inputTokens: 3, outputTokens: RunawayAgent.profile.maxOutputTokens, reasoningTokens: 0 }
    assert.strictEqual(Guard.price(usage, RunawayAgent.profile.price, "USD_MICROCENTS"), RunawayAgent.callPrice)
    assert.strictEqual(RunawayAgent.callPrice, 1_000_000n)
    assert.strictEqual(RunawayAgent.guardBudget, 100_000_000n)
    // The profile plans 25 ms a call (p95 35 ms); the simulation delivers the first token at
    // 15 ms and the other nine 1 ms apart, so a call takes 24 ms.
    assert.strictEqual(ModelProfile.expectedMs(RunawayAgent.profile), 25)
    assert.strictEqual(ModelProfile.p95Ms(RunawayAgent.profile), 35)
  })

  it.effect("unguarded, it calls the model until its time runs out, and spends what it spends", () =>
    Effect.gen(function*() {
      const summary = yield* underTestClock(RunawayAgent.runUnguarded("30 seconds"))
      // 24 ms a call; the loop stops when less than 35 ms is left: 1,249 calls in 29,976 ms.
      assert.deepStrictEqual(summary, {
        calls: 1_249,
        spentUsdMicrocents: 1_249_000_000,
        durationMs: 29_976,
        stopReason: "deadline"
      })
    }))

  it.effect("guarded by $1.00, it makes exactly 100 calls, spends exactly $1.00 and stops with budget-exceeded", () =>
    Effect.gen(function*() {
      const summary = yield* underTestClock(RunawayAgent.runGuarded())
      assert.deepStrictEqual(summary, {
        calls: 100,
        spentUsdMicrocents: 100_000_000,
        durationMs: 2_400,
        stopReason: "budget-exceeded"
      })
      const ledger = yield* Ledger.Ledger
      const balances = yield* ledger.balances({ tenant: "demo", subject: RunawayAgent.subject("demo") })
      const budget = balances.balances.find((balance) => balance.scope === scope)!
      assert.deepStrictEqual(
        [budget.allocated, budget.spent, budget.reserved, budget.remaining],
        [100_000_000n, 100_000_000n, 0n, 0n]
      )
    }).pipe(Effect.provide(LedgerTest)))

  it.effect("the guarded run's report: 100 reserve/commit pairs, then the denial that stopped it", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({
        tenant: "demo",
        scope,
        unit: "USD_MICROCENTS",
        allocated: RunawayAgent.guardBudget
      })
      const result = yield* runUnderTestClock(RunawayAgent.agent, RunawayAgent.input, { budget: "60 seconds" }).pipe(
        Guard.withGuard({ subject: RunawayAgent.subject("demo") })
      )
      assert.strictEqual(result.status, "failed")
      const entries = result.report.ledger ?? []
      assert.strictEqual(entries.length, 201)
      assert.deepStrictEqual(
        entries.slice(0, 2).map((entry) => [entry.operation, entry.decision, entry.amount, entry.atMs]),
        [["reserve", "allowed", 1_000_000, 0], ["commit", "committed", 1_000_000, 24]]
      )
      assert.deepStrictEqual(entries.at(-1), {
        operation: "reserve",
        decision: "denied",
        stage: "loop",
        model: "runaway-model",
        amount: 1_000_000,
        unit: "USD_MICROCENTS",
        reason: "budget-exceeded",
        detail: `Ledger.reserve: ${scope}: requested 1000000, 0 remaining`,
        atMs: 2_400
      })
      const loop = Report.find(result.report, "loop")!
      assert.strictEqual(loop.status, "failed")
      assert.strictEqual(loop.reason, `Ledger.reserve: ${scope}: requested 1000000, 0 remaining`)
      assert.strictEqual(result.report.cost.microUsd, 1_000_000) // $1.00 in micro-USD
      assert.strictEqual(RunawayAgent.stopReason(result), "budget-exceeded")
    }).pipe(Effect.provide(LedgerTest)))

  it.effect("both halves at once: the guarded one stops at $1.00 while the unguarded one runs on", () =>
    Effect.gen(function*() {
      const comparison = yield* underTestClock(RunawayAgent.compare({ unguardedFor: "5 seconds" }))
      assert.deepStrictEqual(comparison.unguarded, {
        calls: 207,
        spentUsdMicrocents: 207_000_000,
        durationMs: 4_968,
        stopReason: "deadline"
      })
      assert.deepStrictEqual(comparison.guarded, {
        calls: 100,
        spentUsdMicrocents: 100_000_000,
        durationMs: 2_400,
        stopReason: "budget-exceeded"
      })
    }).pipe(Effect.provide(LedgerTest)))

  it.effect("a ledger that cannot answer stops the guarded half at once (fail closed)", () =>
    Effect.gen(function*() {
      const real = yield* Ledger.Ledger
      const down = Ledger.Ledger.of({
        ...real,
        reserve: () =>
          Effect.fail(
            new Ledger.LedgerError({
              method: "Ledger.reserve",
              reason: new Ledger.StoreUnavailable({ store: "test", detail: "connection refused" })
            })
          )
      })
      const summary = yield* underTestClock(RunawayAgent.runGuarded()).pipe(
        Effect.provideService(Ledger.Ledger, down)
      )
      assert.deepStrictEqual(summary, {
        calls: 0,
        spentUsdMicrocents: 0,
        durationMs: 0,
        stopReason: "store-unavailable"
      })
    }).pipe(Effect.provide(LedgerTest)))
})
