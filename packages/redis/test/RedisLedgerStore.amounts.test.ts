// Amounts in batches: the hot scripts add and compare amounts below 10^15 as
// Lua numbers and switch to exact pairs above; operations started together
// run in one script call, so a budget can cross that line in the middle of a
// batch. Every answer's snapshot and the final balances must be exact, the
// same as the memory store's arithmetic on bigints.
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, layer } from "@effect/vitest"
import { Ledger } from "@timebox/core"
import { Duration, Effect, Layer } from "effect"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"

const prefix = `${inject("redisPrefix")}:amounts`
const action: Ledger.Action = { kind: "llm.completion", name: "test-model" }

const ledgerLayer = Ledger.layer.pipe(
  Layer.provide(RedisLedgerStore.layer({ prefix })),
  Layer.provide(NodeRedis.layer({ url: inject("redisUrl") })),
  Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
)

const fresh = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`

/** A budget on each of the subject's two scopes, `allocated` on both. */
const setUp = (ledger: Ledger.Service, tenant: string, allocated: bigint) =>
  Effect.forEach(
    [`tenant:${tenant}`, `tenant:${tenant}/app:a`],
    (scope) => ledger.createBudget({ tenant, scope, unit: "TOKENS", allocated }),
    { discard: true }
  )

const reservedOf = (answer: Ledger.ReserveAnswer): ReadonlyArray<bigint> =>
  (answer.balances ?? []).map((balance) => balance.reserved)

layer(ledgerLayer)("RedisLedgerStore amounts", (it) => {
  describe("across 10^15 within one batch", () => {
    it.effect("reserves and commits started together keep every snapshot and balance exact", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const tenant = fresh("cross")
        const subject = { tenant, app: "a" }
        yield* setUp(ledger, tenant, 2n ** 62n)
        const estimate = 400_000_000_000_000n // 4 × 10^14: the third crosses 10^15
        const reserved = yield* Effect.forEach(
          [1, 2, 3, 4],
          (i) =>
            ledger.reserve({
              tenant,
              subject,
              action,
              estimate: { unit: "TOKENS", amount: estimate },
              idempotencyKey: `r${i}`
            }),
          { concurrency: "unbounded" }
        )
        // one after the other in the batch: each answer shows the total held so far on both scopes
        const held = reserved.map((answer) => reservedOf(answer))
        const totals = held.map((pair) => pair[0]!).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        assert.deepStrictEqual(totals, [estimate, 2n * estimate, 3n * estimate, 4n * estimate])
        for (const pair of held) assert.strictEqual(pair[0], pair[1])

        // commits together: one under its estimate, one at it, two over it (charged in full: the budget is large)
        const actuals = [estimate - 1n, estimate, estimate + 7n, 2n ** 53n + 1n]
        const committed = yield* Effect.forEach(
          reserved,
          (answer, i) =>
            ledger.commit({
              tenant,
              reservationId: answer.reservationId!,
              actual: { unit: "TOKENS", amount: actuals[i]! },
              idempotencyKey: `c${i}`
            }),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(committed.map((answer) => answer.charged.amount), actuals)
        assert.deepStrictEqual(committed.map((answer) => answer.released?.amount ?? 0n), [1n, 0n, 0n, 0n])
        const spent = actuals.reduce((a, b) => a + b, 0n)
        const { balances } = yield* ledger.balances({ tenant, subject, unit: "TOKENS" })
        for (const balance of balances) {
          assert.strictEqual(balance.reserved, 0n)
          assert.strictEqual(balance.spent, spent)
          assert.strictEqual(balance.remaining, 2n ** 62n - spent)
        }
        // the last commit's snapshot is the final state
        const last = committed.find((answer) => answer.balances.every((balance) => balance.reserved === 0n))
        assert.isDefined(last)
        assert.deepStrictEqual(last!.balances.map((balance) => balance.spent), [spent, spent])
      }))

    it.effect("pairs above 2^53 in one batch: reserved and released to the unit", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const tenant = fresh("pairs")
        const subject = { tenant, app: "a" }
        yield* setUp(ledger, tenant, 9_223_372_036_854_775_807n)
        const estimate = 2n ** 53n + 1n
        const reserved = yield* Effect.forEach(
          [1, 2, 3],
          () => ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount: estimate } }),
          { concurrency: "unbounded" }
        )
        const totals = reserved.map((answer) => reservedOf(answer)[0]!).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        assert.deepStrictEqual(totals, [estimate, 2n * estimate, 3n * estimate])
        const released = yield* Effect.forEach(
          reserved,
          (answer) => ledger.release({ tenant, reservationId: answer.reservationId! }),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(released.map((answer) => answer.released.amount), [estimate, estimate, estimate])
        const { balances } = yield* ledger.balances({ tenant, subject, unit: "TOKENS" })
        for (const balance of balances) {
          assert.strictEqual(balance.reserved, 0n)
          assert.strictEqual(balance.spent, 0n)
        }
      }))
  })
})
