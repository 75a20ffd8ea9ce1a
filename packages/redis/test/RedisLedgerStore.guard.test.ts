// The model guard on the Redis ledger: a loop of model calls charged to a
// budget on Redis makes exactly the calls the budget covers, and the next
// reservation is denied before the model is called. Real clock (store calls
// are real I/O), with a model that answers at once.
import { assert, describe, it } from "@effect/vitest"
import { Agent, Guard, Inference, Ledger, type ModelProfile, Pipeline, SimulatedModel, Stage } from "@timebox/core"
import { Duration, Effect, Fiber, Layer } from "effect"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"

const url = inject("redisUrl")
const prefix = inject("redisPrefix")

// 10 output tokens at 1,000,000 nano-USD, free input: exactly 1,000,000 µ¢ ($0.01) a call,
// and the worst case is the same. No latency: the simulation skips its timers.
const cent: ModelProfile.ModelProfile = {
  name: "cent",
  provider: "simulated",
  ttftMs: 0,
  ttftP95Ms: 0,
  tokensPerSecond: Number.POSITIVE_INFINITY,
  jitter: 0,
  reasoningMs: 0,
  reasoningTokens: 0,
  expectedOutputTokens: 10,
  maxOutputTokens: 10,
  price: { inputNanoUsdPerToken: 0, outputNanoUsdPerToken: 1_000_000 },
  accuracy: 1
}

/** An agent that calls `profile` until the guard denies a call. */
const loopOn = (profile: ModelProfile.ModelProfile) =>
  Agent.make({
    name: "loop",
    budget: "30 seconds",
    pipeline: Pipeline.make<string>().add(
      Stage.required("loop", ({ input }) =>
        Effect.gen(function*() {
          for (;;) yield* Inference.run({ prompt: input, models: profile })
        }).pipe(Effect.provide(SimulatedModel.layer({ profile }))))
    )
  })

const loop = loopOn(cent)

const LedgerRedis = Ledger.layer.pipe(
  Layer.provide(RedisLedgerStore.layerUrl({ url, prefix })),
  Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
)

const freshTenant = () => `guard-${globalThis.crypto.randomUUID().slice(0, 8)}`

describe("Guard on the Redis ledger", () => {
  it.live("a $1.00 budget on Redis: exactly 100 calls at $0.01, then budget-exceeded before the 101st", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const tenant = freshTenant()
      const subject = { tenant, app: "runaway", agent: "loop" }
      const scope = `tenant:${tenant}/app:runaway/agent:loop`
      yield* ledger.createBudget({ tenant, scope, unit: "USD_MICROCENTS", allocated: 100_000_000 })
      const result = yield* Agent.run(loop, "Keep going.").pipe(Guard.withGuard({ subject }))
      assert.strictEqual(result.status, "failed")
      const entries = result.report.ledger ?? []
      const committed = entries.filter((entry) => entry.decision === "committed")
      assert.strictEqual(committed.length, 100)
      assert.isTrue(committed.every((entry) => entry.amount === 1_000_000))
      assert.deepStrictEqual(
        [entries.at(-1)?.operation, entries.at(-1)?.decision, entries.at(-1)?.reason],
        ["reserve", "denied", "budget-exceeded"]
      )
      assert.strictEqual(entries.at(-1)?.detail, `Ledger.reserve: ${scope}: requested 1000000, 0 remaining`)
      const balance = (yield* ledger.balances({ tenant, subject })).balances.find((entry) => entry.scope === scope)!
      assert.deepStrictEqual(
        [balance.allocated, balance.spent, balance.reserved, balance.remaining],
        [100_000_000n, 100_000_000n, 0n, 0n]
      )
      const reservations = yield* ledger.listReservations({ tenant, status: "committed", limit: 200 })
      assert.strictEqual(reservations.reservations.length, 100)
      const open = yield* ledger.listReservations({ tenant, status: "active" })
      assert.strictEqual(open.reservations.length, 0)
    }).pipe(Effect.provide(LedgerRedis)))

  it.live("two guarded runs on one Redis budget at once never spend more than it holds", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const tenant = freshTenant()
      const subject = { tenant, agent: "loop" }
      const scope = `tenant:${tenant}/agent:loop`
      yield* ledger.createBudget({ tenant, scope, unit: "USD_MICROCENTS", allocated: 25_000_000 })
      const results = yield* Effect.all(
        [1, 2].map(() => Agent.run(loop, "Keep going.").pipe(Guard.withGuard({ subject }))),
        { concurrency: 2 }
      )
      const calls = results.map((result) =>
        (result.report.ledger ?? []).filter((entry) => entry.decision === "committed").length
      )
      assert.strictEqual(calls[0]! + calls[1]!, 25)
      assert.deepStrictEqual(results.map((result) => result.status), ["failed", "failed"])
      const balance = (yield* ledger.balances({ tenant, subject })).balances.find((entry) => entry.scope === scope)!
      assert.deepStrictEqual([balance.spent, balance.reserved], [25_000_000n, 0n])
    }).pipe(Effect.provide(LedgerRedis)))

  it.live(
    "a guarded run interrupted mid-call (Ctrl-C) releases the call's reservation before the ledger's layer closes",
    () =>
      Effect.gen(function*() {
        // each call takes 100 ms (real time): at 250 ms the third is under way
        const slow: ModelProfile.ModelProfile = { ...cent, name: "slow-cent", ttftMs: 100, ttftP95Ms: 100 }
        const slowLoop = loopOn(slow)
        const tenant = freshTenant()
        const subject = { tenant, app: "runaway", agent: "loop" }
        const scope = `tenant:${tenant}/app:runaway/agent:loop`
        // the program owns its ledger, as the CLI does: the layer closes when the program ends
        const program = Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          yield* ledger.createBudget({ tenant, scope, unit: "USD_MICROCENTS", allocated: 100_000_000 })
          return yield* Agent.run(slowLoop, "Keep going.").pipe(Guard.withGuard({ subject }))
        }).pipe(Effect.provide(LedgerRedis, { local: true }))
        const fiber = yield* Effect.forkChild(program)
        yield* Effect.sleep("250 millis")
        yield* Fiber.interrupt(fiber)
        // at once, from another client: nothing is held
        const ledger = yield* Ledger.Ledger
        const balance = (yield* ledger.balances({ tenant, subject })).balances.find((entry) => entry.scope === scope)!
        assert.strictEqual(balance.reserved, 0n)
        const committed = yield* ledger.listReservations({ tenant, status: "committed" })
        assert.isAtLeast(committed.reservations.length, 1, "the calls that finished were charged")
        assert.strictEqual(balance.spent, BigInt(committed.reservations.length) * 1_000_000n)
        const active = yield* ledger.listReservations({ tenant, status: "active" })
        assert.strictEqual(active.reservations.length, 0)
        const released = yield* ledger.listReservations({ tenant, status: "released" })
        assert.strictEqual(released.reservations.length, 1, "the call under way was released")
      }).pipe(Effect.provide(LedgerRedis)),
    { timeout: 20_000 }
  )
})
