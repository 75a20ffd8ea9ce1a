// The batched scripts' lazy prelude: what only failures and amounts of 10^15
// and more need is created the first time a call touches it, not on every
// call. Here every script call goes through a `Redis` service that counts,
// in Redis, each time a script's lazy part is created: operations that
// succeed (budgets funded with 2^62 included) must not create it, a failure
// must, at most once per call, and answer exactly as before.
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, layer } from "@effect/vitest"
import { Ledger } from "@timebox/core"
import { Duration, Effect, Exit, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"

const prefix = `${inject("redisPrefix")}:lazy`
const action: Ledger.Action = { kind: "llm.completion", name: "test-model" }
const loader = "setmetatable(LAZY, { __index = function(lazy, name)"

/** The node-redis `Redis` service, whose scripts count the creations of their lazy part in `<tenant prefix>lazy-loads`. */
const counting = Layer.effect(
  Redis.Redis,
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const evaluate: typeof redis.eval = (script) =>
      redis.eval(
        script.lua.includes(loader)
          ? { ...script, lua: script.lua.replace(loader, `${loader}\nredis.call("INCR", P .. "lazy-loads")`) }
          : script
      )
    return { ...redis, eval: evaluate }
  })
).pipe(Layer.provide(NodeRedis.layer({ url: inject("redisUrl") })))

const ledgerLayer = Ledger.layer.pipe(
  Layer.provide(RedisLedgerStore.layer({ prefix })),
  Layer.provideMerge(counting),
  Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
)

const fresh = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`

/** How many times a script call of `tenant` created its lazy part so far. */
const loads = (tenant: string) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    return Number((yield* redis.send<string | null>("GET", `${prefix}:v3:{tenant:${tenant}}:lazy-loads`)) ?? 0)
  })

describe("RedisLedgerStore, lazy prelude", () => {
  layer(ledgerLayer, { timeout: "30 seconds" })((it) => {
    for (const allocated of [1_000_000n, 2n ** 62n]) {
      it.effect(`operations that succeed never create it (allocated ${allocated})`, () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = fresh("hot")
          const subject = { tenant, app: "a" }
          for (const scope of [`tenant:${tenant}`, `tenant:${tenant}/app:a`]) {
            yield* ledger.createBudget({ tenant, scope, unit: "TOKENS", allocated })
          }
          const reserve = (key: string, amount: bigint) =>
            ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount }, idempotencyKey: key })
          // started together: one batch
          const [a, b, c] = yield* Effect.all([reserve("r1", 100n), reserve("r2", 200n), reserve("r3", 300n)], {
            concurrency: "unbounded"
          })
          yield* Effect.all([
            ledger.commit({ tenant, reservationId: a!.reservationId!, actual: { unit: "TOKENS", amount: 60n } }),
            ledger.commit({
              tenant,
              reservationId: b!.reservationId!,
              actual: { unit: "TOKENS", amount: 200n },
              idempotencyKey: "c2"
            })
          ], { concurrency: "unbounded" })
          yield* ledger.extend({ tenant, reservationId: c!.reservationId!, extendByMs: 1_000, idempotencyKey: "x3" })
          yield* ledger.decide({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 1n } })
          yield* ledger.release({ tenant, reservationId: c!.reservationId!, idempotencyKey: "l3" })
          // a replay answers from its record
          const again = yield* reserve("r1", 100n)
          assert.strictEqual(again.reservationId, a!.reservationId)
          assert.strictEqual(yield* loads(tenant), 0)
          const { balances } = yield* ledger.balances({ tenant, subject, unit: "TOKENS" })
          for (const balance of balances) {
            assert.strictEqual(balance.spent, 260n)
            assert.strictEqual(balance.reserved, 0n)
            assert.strictEqual(balance.remaining, allocated - 260n)
          }
        }))
    }

    it.effect("a failure creates it, once per call, and answers as ever", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const tenant = fresh("cold")
        const subject = { tenant, app: "a" }
        yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}/app:a`, unit: "TOKENS", allocated: 1_000n })
        const reserve = (amount: bigint, idempotencyKey: string) =>
          ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount }, idempotencyKey })
        const denied = yield* Effect.exit(reserve(1_200n, "big"))
        assert.isTrue(Exit.isFailure(denied))
        assert.include(String(Exit.isFailure(denied) ? denied.cause : ""), "requested 1200, 1000 remaining")
        assert.strictEqual(yield* loads(tenant), 1)
        // two failures and a success in one batch: one creation
        const batch = yield* Effect.all([
          Effect.exit(reserve(5_000n, "a")),
          Effect.exit(reserve(6_000n, "b")),
          Effect.exit(reserve(10n, "c"))
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual(batch.map(Exit.isSuccess), [false, false, true])
        assert.strictEqual(yield* loads(tenant), 2)
        // the key of a failed call holds no record: the same request is evaluated again
        assert.isTrue(Exit.isFailure(yield* Effect.exit(reserve(1_200n, "big"))))
        assert.strictEqual(yield* loads(tenant), 3)
      }))
  })
})
