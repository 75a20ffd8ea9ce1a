// Amounts in batches: the hot scripts add and compare amounts below 10^15 as
// Lua numbers (a budget read with every amount below 10^15 takes the fast
// path, `small`) and switch to exact pairs above; operations started
// together run in one script call (counted here: a call carries half of the
// operations under way, so each group of operations is started alongside as
// many of another tenant), so a budget can cross that line in the middle of a
// batch. Every answer's snapshot and the final
// balances must be exact, the same as the memory store's arithmetic on bigints.
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, layer } from "@effect/vitest"
import { Ledger } from "@timebox/core"
import { Duration, Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"

const prefix = `${inject("redisPrefix")}:amounts`
const action: Ledger.Action = { kind: "llm.completion", name: "test-model" }

/** Script calls made through the store's `Redis` service: the tenant key prefix (`KEYS[1]`) of each. */
const scriptCalls: Array<string> = []

/** The node-redis `Redis` service, counting its script calls. */
const counting = Layer.effect(
  Redis.Redis,
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const evaluate: typeof redis.eval = (script) => {
      const call = redis.eval(script)
      return (...params) =>
        Effect.suspend(() => {
          scriptCalls.push(String(params[0]))
          return call(...params)
        })
    }
    return { ...redis, eval: evaluate }
  })
).pipe(Layer.provide(NodeRedis.layer({ url: inject("redisUrl") })))

/** A tenant with no budgets, whose decides (denied, writing nothing) run alongside the operations under test. */
const ballastTenant = "amounts-ballast"

/**
 * `effects` started together, alongside as many decides of `ballastTenant`,
 * so that the batcher puts all of `effects` in one call; their answers, and
 * how many script calls `tenant` got.
 */
const together = <A>(
  ledger: Ledger.Service,
  tenant: string,
  effects: ReadonlyArray<Effect.Effect<A, Ledger.LedgerError>>
) =>
  Effect.gen(function*() {
    const decide = ledger.decide({
      tenant: ballastTenant,
      subject: { tenant: ballastTenant },
      action,
      estimate: { unit: "TOKENS", amount: 1 }
    })
    // once first: the store records a tenant it has not seen before it sends its first operation
    yield* decide
    const before = scriptCalls.length
    const ballast = effects.map(() => decide)
    const all = yield* Effect.all([...effects, ...ballast], { concurrency: "unbounded" })
    const calls = scriptCalls.slice(before).filter((key) => key.includes(`{tenant:${tenant}}`)).length
    return { value: all.slice(0, effects.length) as Array<A>, calls }
  })

const ledgerLayer = Ledger.layer.pipe(
  Layer.provide(RedisLedgerStore.layer({ prefix })),
  Layer.provide(counting),
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

const ascending = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0)

layer(ledgerLayer)("RedisLedgerStore amounts", (it) => {
  describe("across 10^15 within one batch", () => {
    it.effect("on large budgets: reserves and commits started together keep every snapshot and balance exact", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const tenant = fresh("cross")
        const subject = { tenant, app: "a" }
        yield* setUp(ledger, tenant, 2n ** 62n)
        const estimate = 400_000_000_000_000n // 4 × 10^14: the third crosses 10^15 (allocated is a pair: no fast path)
        const { calls: reserveCalls, value: reserved } = yield* together(
          ledger,
          tenant,
          [1, 2, 3, 4].map((i) =>
            ledger.reserve({
              tenant,
              subject,
              action,
              estimate: { unit: "TOKENS", amount: estimate },
              idempotencyKey: `r${i}`
            })
          )
        )
        assert.strictEqual(reserveCalls, 1, "the four reserves in one batch")
        // one after the other in the batch: each answer shows the total held so far on both scopes
        const held = reserved.map((answer) => reservedOf(answer))
        const totals = held.map((pair) => pair[0]!).sort(ascending)
        assert.deepStrictEqual(totals, [estimate, 2n * estimate, 3n * estimate, 4n * estimate])
        for (const pair of held) assert.strictEqual(pair[0], pair[1])

        // commits together: one under its estimate, one at it, two over it (charged in full: the budget is large)
        const actuals = [estimate - 1n, estimate, estimate + 7n, 2n ** 53n + 1n]
        const { calls: commitCalls, value: committed } = yield* together(
          ledger,
          tenant,
          reserved.map((answer, i) =>
            ledger.commit({
              tenant,
              reservationId: answer.reservationId!,
              actual: { unit: "TOKENS", amount: actuals[i]! },
              idempotencyKey: `c${i}`
            })
          )
        )
        assert.strictEqual(commitCalls, 1, "the four commits in one batch")
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
        const totals = reserved.map((answer) => reservedOf(answer)[0]!).sort(ascending)
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

    it.effect("on small budgets (the fast path): batches below 10^15, then spent crossing it, exactly", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const tenant = fresh("fast")
        const subject = { tenant, app: "a" }
        const scopes = [`tenant:${tenant}`, `tenant:${tenant}/app:a`]
        const fund = (operation: "credit" | "reset", amount: bigint) =>
          Effect.forEach(scopes, (scope) => ledger.fundBudget({ tenant, scope, unit: "TOKENS", operation, amount }), {
            discard: true
          })
        const reserve = (amount: bigint) =>
          ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount } })
        const commit = (reservationId: string, amount: bigint) =>
          ledger.commit({ tenant, reservationId, actual: { unit: "TOKENS", amount } })
        const spentOf = (answers: ReadonlyArray<{ readonly balances: ReadonlyArray<Ledger.Balance> }>) =>
          answers.map((answer) => answer.balances[0]!.spent).sort(ascending)

        // allocated 10^15 − 1: every amount of the budgets stays below 10^15, so each batch reads them as numbers
        yield* setUp(ledger, tenant, 999_999_999_999_999n)
        const held = yield* together(ledger, tenant, [reserve(400_000_000_000_000n), reserve(400_000_000_000_001n)])
        assert.strictEqual(held.calls, 1, "the two reserves in one batch")
        assert.deepStrictEqual(
          held.value.map((answer) => reservedOf(answer)[1]!).sort(ascending),
          [400_000_000_000_000n, 800_000_000_000_001n]
        )
        const settled = yield* together(ledger, tenant, [
          commit(held.value[0]!.reservationId!, 399_999_999_999_995n),
          commit(held.value[1]!.reservationId!, 400_000_000_000_001n)
        ])
        assert.strictEqual(settled.calls, 1, "the two commits in one batch")
        const before = 399_999_999_999_995n + 400_000_000_000_001n
        assert.deepStrictEqual(spentOf(settled.value), [399_999_999_999_995n, before].sort(ascending))
        assert.deepStrictEqual(settled.value.map((answer) => answer.released?.amount ?? 0n), [5n, 0n])

        // then more room (allocated becomes a pair: reserved without the fast path), then allocated back to 1, so
        // the commits' batch reads spent and reserved (both below 10^15) as numbers and spent crosses 10^15 in it
        yield* fund("credit", 1_000_000_000_000_000n)
        const [c, d] = yield* Effect.all([reserve(600_000_000_000_000n), reserve(90_000_000_000_000n)], {
          concurrency: "unbounded"
        })
        yield* fund("reset", 1n)
        const crossing = yield* together(ledger, tenant, [
          commit(c!.reservationId!, 600_000_000_000_000n),
          commit(d!.reservationId!, 89_999_999_999_997n)
        ])
        assert.strictEqual(crossing.calls, 1, "the two commits in one batch")
        const spent = before + 600_000_000_000_000n + 89_999_999_999_997n
        assert.deepStrictEqual(spentOf(crossing.value), [before + 600_000_000_000_000n, spent])
        assert.deepStrictEqual(crossing.value.map((answer) => answer.released?.amount ?? 0n), [0n, 3n])
        const { balances } = yield* ledger.balances({ tenant, subject, unit: "TOKENS" })
        for (const balance of balances) {
          assert.strictEqual(balance.spent, spent)
          assert.strictEqual(balance.reserved, 0n)
          assert.strictEqual(balance.remaining, 1n - spent)
        }
      }))
  })
})
