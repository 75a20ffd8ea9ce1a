// The key layout: every key of a tenant hashes to one Redis Cluster slot (so a
// script never crosses slots), nothing is written outside the store's prefix,
// and no key carries a Redis TTL (expiry is `expiresAt` from the ledger's clock).
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, layer } from "@effect/vitest"
import { Ledger } from "@timebox/core"
import { Duration, Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import { TestClock } from "effect/testing"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"

const prefix = `${inject("redisPrefix")}:keys`
const action: Ledger.Action = { kind: "llm.completion", name: "test-model" }

/** CRC16/XMODEM, the hash of Redis Cluster. */
const crc16 = (bytes: Uint8Array): number => {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

/** The cluster slot of a key: the hash of its hash tag `{…}` when it has a non-empty one. */
const slot = (key: string): number => {
  const open = key.indexOf("{")
  const close = open < 0 ? -1 : key.indexOf("}", open + 1)
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key
  return crc16(new TextEncoder().encode(hashed)) % 16384
}

const scan = (pattern: string) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const keys: Array<string> = []
    let cursor = "0"
    do {
      const [next, batch] = yield* redis.send<[string, Array<string>]>(
        "SCAN",
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        "1000"
      )
      cursor = next
      keys.push(...batch)
    } while (cursor !== "0")
    return keys
  })

const client = NodeRedis.layer({ url: inject("redisUrl") })
const ledgerLayer = Ledger.layer.pipe(
  Layer.provide(RedisLedgerStore.layer({ prefix })),
  Layer.provideMerge(client),
  Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
)

layer(ledgerLayer)("RedisLedgerStore keys", (it) => {
  describe("layout", () => {
    it.effect("slot() agrees with Redis Cluster's documented examples", () =>
      Effect.sync(() => {
        assert.strictEqual(crc16(new TextEncoder().encode("123456789")), 0x31c3)
        assert.strictEqual(slot("foo"), 12182)
        assert.strictEqual(slot("{user1000}.following"), slot("{user1000}.followers"))
      }))

    it.effect("a tenant's keys share one slot and one hash tag, carry no TTL, and stay under the prefix", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const redis = yield* Redis.Redis
        const tenant = `keys-${Math.random().toString(36).slice(2, 8)}`
        const subject = { tenant, app: "support", agent: "bot" }
        yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 10_000 })
        yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}/app:support`, unit: "TOKENS", allocated: 5_000 })
        yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "CREDITS", allocated: 50 })
        const held = yield* ledger.reserve({
          tenant,
          subject,
          action,
          estimate: { unit: "TOKENS", amount: 300 },
          idempotencyKey: "r-1"
        })
        yield* ledger.commit({
          tenant,
          reservationId: held.reservationId!,
          actual: { unit: "TOKENS", amount: 200 },
          idempotencyKey: "c-1"
        })
        const expiring = yield* ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 5 } })
        yield* ledger.event({ tenant, subject, action, actual: { unit: "CREDITS", amount: 3 }, idempotencyKey: "e-1" })
        yield* ledger.decide({
          tenant,
          subject,
          action,
          estimate: { unit: "TOKENS", amount: 1 },
          idempotencyKey: "d-1"
        })
        yield* TestClock.adjust("2 minutes")
        const swept = yield* ledger.sweep({ tenant })
        assert.deepStrictEqual(swept.expired, [expiring.reservationId!])
        yield* ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 7 } })

        const keys = yield* scan(`${prefix}:v3:{tenant:${tenant}}:*`)
        const tag = `{tenant:${tenant}}`
        assert.isAtLeast(keys.length, 10)
        for (const key of keys) {
          assert.isTrue(key.startsWith(`${prefix}:v3:${tag}:`), key)
          assert.strictEqual(slot(key), slot(tag), key)
          assert.strictEqual(yield* redis.send<number>("PTTL", key), -1, `${key} has no TTL`)
        }
        const kinds = new Set(keys.map((key) => key.slice(`${prefix}:v3:${tag}:`.length).split(":")[0]))
        for (
          const kind of ["budget", "budgets", "reservation", "reservations", "expiries", "ended", "idem", "idempotency"]
        ) {
          assert.isTrue(kinds.has(kind), `a ${kind} key`)
        }
        assert.include(keys, `${prefix}:v3:${tag}:budget:tenant:${tenant}/app:support:TOKENS`)
        assert.include(keys, `${prefix}:v3:${tag}:reservation:${held.reservationId}`)
        assert.include(keys, `${prefix}:v3:${tag}:idem:commit:c-1`)
        // a reservation's hash: what never changes in one field (terms), then what settling changes
        const fields = yield* redis.send<ReadonlyArray<string>>(
          "HKEYS",
          `${prefix}:v3:${tag}:reservation:${expiring.reservationId}`
        )
        assert.deepStrictEqual([...fields].sort(), ["expiresAtMs", "extensions", "status", "terms"])
        // a committed one adds when it was finalized and what it charged (and its idempotency key)
        const settled = yield* redis.send<ReadonlyArray<string>>(
          "HKEYS",
          `${prefix}:v3:${tag}:reservation:${held.reservationId}`
        )
        assert.deepStrictEqual([...settled].sort(), [
          "committed",
          "expiresAtMs",
          "extensions",
          "finalizedAtMs",
          "idempotencyKey",
          "status",
          "terms"
        ])
        assert.deepStrictEqual(
          (yield* redis.send<string>("HGET", `${prefix}:v3:${tag}:reservation:${expiring.reservationId}`, "terms"))
            .split("\t").slice(0, 2),
          ["TOKENS", "5"]
        )

        for (const key of yield* scan(`${prefix}:*`)) {
          assert.isTrue(key === `${prefix}:v3:tenants` || key.startsWith(`${prefix}:v3:{tenant:`), key)
        }
        assert.isTrue((yield* redis.send<ReadonlyArray<string>>("SMEMBERS", `${prefix}:v3:tenants`)).includes(tenant))
      }))

    it.effect("a budget key gone from Redis (evicted, deleted): a settlement fails whole with budget not-found", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const redis = yield* Redis.Redis
        const tenant = `gone-${Math.random().toString(36).slice(2, 8)}`
        const subject = { tenant, app: "support" }
        const top = `tenant:${tenant}`
        const app = `tenant:${tenant}/app:support`
        yield* ledger.createBudget({ tenant, scope: top, unit: "TOKENS", allocated: 1_000 })
        yield* ledger.createBudget({ tenant, scope: app, unit: "TOKENS", allocated: 500 })
        const held = yield* ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 100 } })
        const reservationId = held.reservationId!
        yield* redis.send("DEL", `${prefix}:v3:{tenant:${tenant}}:budget:${app}:TOKENS`)
        const failed: ReadonlyArray<Effect.Effect<unknown, Ledger.LedgerError>> = [
          ledger.commit({ tenant, reservationId, actual: { unit: "TOKENS", amount: 80 } }),
          ledger.release({ tenant, reservationId }),
          ledger.extend({ tenant, reservationId, extendByMs: 1_000 })
        ]
        for (const settlement of failed) {
          const error = yield* Effect.flip(settlement)
          assert.strictEqual(error.reason._tag, "NotFound")
          assert.strictEqual(error.reason.message, `no TOKENS budget at ${app}`)
        }
        // nothing written: still active, unextended, and the budget left holds the estimate, nothing spent
        const reservation = yield* ledger.getReservation({ tenant, reservationId })
        assert.strictEqual(reservation.status, "active")
        assert.strictEqual(reservation.expiresAtMs, held.expiresAtMs)
        const { balances } = yield* ledger.balances({ tenant, subject: { tenant }, unit: "TOKENS" })
        assert.deepStrictEqual(balances.map((b) => [b.scope, b.reserved, b.spent]), [[top, 100n, 0n]])
      }))

    it.effect("in batches: one key twice is one reservation, and ids never repeat across batches and budget creation", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const redis = yield* Redis.Redis
        const tenant = `batch-${Math.random().toString(36).slice(2, 8)}`
        const subject = { tenant, app: "support" }
        const reserve = (key?: string) =>
          ledger.reserve({
            tenant,
            subject,
            action,
            estimate: { unit: "TOKENS", amount: 1 },
            ...(key === undefined ? {} : { idempotencyKey: key })
          })
        yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 1_000_000 })
        const ids: Array<string> = []
        for (let round = 0; round < 5; round++) {
          // started together: reserves and events go in batches (a key used twice among them), budgets are created
          const [reserved, events] = yield* Effect.all([
            Effect.forEach(
              [`k${round}`, `k${round}`, `m${round}`, undefined, undefined, `m${round}`],
              reserve,
              { concurrency: "unbounded" }
            ),
            Effect.forEach(
              [0, 1, 2],
              () => ledger.event({ tenant, subject, action, actual: { unit: "TOKENS", amount: 1 } }),
              { concurrency: "unbounded" }
            ),
            ledger.createBudget({
              tenant,
              scope: `tenant:${tenant}/app:a${round}`,
              unit: "TOKENS",
              allocated: 10
            })
          ], { concurrency: "unbounded" })
          assert.strictEqual(reserved[0]!.reservationId, reserved[1]!.reservationId, "the same key twice")
          assert.strictEqual(reserved[2]!.reservationId, reserved[5]!.reservationId)
          ids.push(...new Set(reserved.map((answer) => answer.reservationId!)), ...events.map((event) => event.eventId))
          // a replay in a later batch answers the first answer
          assert.deepStrictEqual(yield* reserve(`k${round}`), reserved[0])
        }
        const numbers = ids.map((id) => Number(id.split("_").at(-1)))
        assert.strictEqual(new Set(numbers).size, numbers.length, `ids repeat: ${ids.join(" ")}`)
        const counter = Number(yield* redis.send<string>("GET", `${prefix}:v3:{tenant:${tenant}}:sequence`))
        // every number handed out once: 6 budgets, and per round 4 reservations and 3 events
        assert.strictEqual(counter, 6 + 5 * 7)
        assert.isAtMost(Math.max(...numbers), counter)
        const { balances } = yield* ledger.balances({ tenant, subject: { tenant }, unit: "TOKENS" })
        assert.strictEqual(balances[0]!.reserved, 20n, "four reservations a round, not six")
        assert.strictEqual(balances[0]!.spent, 15n)
      }))

    it.effect("amounts are stored as exact decimal strings", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const redis = yield* Redis.Redis
        const tenant = `exact-${Math.random().toString(36).slice(2, 8)}`
        yield* ledger.createBudget({
          tenant,
          scope: `tenant:${tenant}`,
          unit: "TOKENS",
          allocated: "9223372036854775807"
        })
        yield* ledger.reserve({
          tenant,
          subject: { tenant },
          action,
          estimate: { unit: "TOKENS", amount: "9007199254740993" }
        })
        // a budget is one string: status, allocated, spent, reserved, debt, overdraftLimit, isOverLimit, order
        const stored = yield* redis.send<string>(
          "GET",
          `${prefix}:v3:{tenant:${tenant}}:budget:tenant:${tenant}:TOKENS`
        )
        const [status, allocated, spent, reserved, debt, limit, over, order] = stored.split("\t")
        assert.deepStrictEqual(
          { status, allocated, spent, reserved, debt, limit, over },
          {
            status: "active",
            allocated: "9223372036854775807",
            spent: "0",
            reserved: "9007199254740993",
            debt: "0",
            limit: "0",
            over: "0"
          }
        )
        assert.match(order!, /^[1-9]\d*$/)
      }))

    it.effect("the sweeper's index holds only active reservations, however many were settled in batches", () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const redis = yield* Redis.Redis
        const tenant = `index-${Math.random().toString(36).slice(2, 8)}`
        const subject = { tenant }
        yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 1_000_000 })
        const reserve = ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 10 } })
        // 40 lifecycles, 20 at a time, so commits and releases travel in batches
        yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          (i) =>
            Effect.flatMap(reserve, ({ reservationId }): Effect.Effect<unknown, Ledger.LedgerError> =>
              i % 2 === 0
                ? ledger.commit({ tenant, reservationId: reservationId!, actual: { unit: "TOKENS", amount: 5 } })
                : ledger.release({ tenant, reservationId: reservationId! })),
          { concurrency: 20, discard: true }
        )
        const held = yield* reserve
        const base = `${prefix}:v3:{tenant:${tenant}}:`
        assert.deepStrictEqual(yield* redis.send<ReadonlyArray<string>>("ZRANGE", `${base}expiries`, "0", "-1"), [
          held.reservationId!
        ])
        assert.strictEqual(yield* redis.send<number>("ZCARD", `${base}reservations`), 41)
        assert.strictEqual(yield* redis.send<number>("LLEN", `${base}ended`), 40)
      }))
  })
})
