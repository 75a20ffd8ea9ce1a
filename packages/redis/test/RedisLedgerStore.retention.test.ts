/**
 * Retention and expiry of the Redis ledger (the `sweep` script, `prune_log`,
 * `extend`, the sweep of every tenant), the cases the conformance suite and
 * the differential test leave open: where exactly a key or a finished
 * reservation is forgotten (default `Retention` and its boundary), the
 * once-a-minute prune, a reserve key that outlives a prune of the log, the
 * indexes a pruned reservation leaves, more than one page of the log, the
 * grace in the sweeper's index after an extension, `limit` over a sweep of
 * every tenant, and the background sweeper's pages.
 *
 * No Redis TTL is involved: the store stamps everything with `now` from the
 * ledger's `Clock`, so `TestClock` (starting at 0 in each test) decides it.
 * Each test runs on a key prefix of its own (under this run's prefix), so a
 * sweep of every tenant sees only its tenants, and deletes it at the end.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, it } from "@effect/vitest"
import { Ledger } from "@timebox/core"
import { Duration, Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"
import { TestClock } from "effect/testing"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"
import { advanceSettled, counted } from "./clock.ts"

const run = Math.random().toString(36).slice(2, 8)
let tests = 0
const client = NodeRedis.layer({ url: inject("redisUrl") })
const action: Ledger.Action = { kind: "llm.completion", name: "retention" }
const tokens = (amount: number) => ({ unit: "TOKENS" as const, amount })
const oneHour = Duration.hours(1)

interface Settings {
  readonly retention?: Duration.Duration
  readonly sweepInterval?: Duration.Duration
}

/** Deletes every key under `prefix` (SCAN + UNLINK). */
const deleteKeys = (prefix: string) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.send<[string, Array<string>]>(
        "SCAN",
        cursor,
        "MATCH",
        `${prefix}:*`,
        "COUNT",
        "1000"
      )
      cursor = next
      if (keys.length > 0) yield* redis.send("UNLINK", ...keys)
    } while (cursor !== "0")
  }).pipe(Effect.provide(client), Effect.orDie)

/**
 * Runs `body` on a fresh Redis ledger under a prefix of its own (the Redis
 * client in context too, to look at the keys), then deletes that prefix.
 */
const onRedis = <A, E>(
  body: (prefix: string) => Effect.Effect<A, E, Ledger.Ledger | Redis.Redis>,
  settings: Settings = {}
): Effect.Effect<A, unknown> => {
  const prefix = `${inject("redisPrefix")}:retention:${run}:${++tests}`
  const ledger = Ledger.layer.pipe(
    Layer.provide(counted),
    Layer.provide(RedisLedgerStore.layer({ prefix })),
    Layer.provideMerge(client)
  )
  const provided = Effect.provideService(
    Effect.provide(body(prefix), ledger),
    Ledger.SweepInterval,
    settings.sweepInterval ?? Duration.infinity
  )
  const withRetention = settings.retention === undefined
    ? provided
    : Effect.provideService(provided, Ledger.Retention, settings.retention)
  return Effect.ensuring(withRetention, deleteKeys(prefix))
}

/** A tenant with a 1,000,000-token budget at `tenant:<tenant>`, and shorthands. */
const setup = (tenant: string) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const scope = `tenant:${tenant}`
    const subject: Ledger.Subject = { tenant }
    yield* ledger.createBudget({ tenant, scope, unit: "TOKENS", allocated: 1_000_000 })
    const hold = (options: { readonly key?: string; readonly ttlMs?: number; readonly graceMs?: number } = {}) =>
      Effect.map(
        ledger.reserve({
          tenant,
          subject,
          action,
          estimate: tokens(10),
          ttlMs: options.ttlMs ?? 60_000,
          graceMs: options.graceMs ?? 0,
          ...(options.key === undefined ? {} : { idempotencyKey: options.key })
        }),
        (answer) => answer.reservationId ?? ""
      )
    const balance = Effect.map(
      ledger.balances({ tenant, subject, unit: "TOKENS" }),
      (answer) => answer.balances.find((b) => b.scope === scope)!
    )
    const listed = (request: Partial<typeof Ledger.ListReservationsRequest.Encoded> = {}) =>
      Effect.map(
        ledger.listReservations({ tenant, ...request }),
        (page) => page.reservations.map((r) => r.reservationId)
      )
    const event = (key: string) =>
      Effect.map(
        ledger.event({ tenant, subject, action, actual: tokens(1), idempotencyKey: key }),
        (answer) => answer.eventId
      )
    const sweep = (limit?: number) => ledger.sweep({ tenant, ...(limit === undefined ? {} : { limit }) })
    const reason = <A>(effect: Effect.Effect<A, Ledger.LedgerError>) =>
      Effect.map(Effect.flip(effect), (error) => error.reason._tag)
    return { ledger, hold, balance, listed, event, sweep, reason }
  })

/** The name of a tenant's key `name` under `prefix`. */
const keyOf = (prefix: string, tenant: string, name: string) => `${prefix}:v3:{tenant:${tenant}}:${name}`

describe("RedisLedgerStore retention", () => {
  describe("pruning", () => {
    it.effect("by default a key is kept 24 hours: forgotten then, not 1 ms before", () =>
      onRedis(() =>
        Effect.gen(function*() {
          const { event, ledger, sweep } = yield* setup("acme")
          assert.strictEqual(Duration.toMillis(ledger.retention), 86_400_000)
          const first = yield* event("a")
          yield* TestClock.adjust("1 millis")
          const second = yield* event("b")
          yield* TestClock.adjust(Duration.subtract(Duration.hours(24), Duration.millis(1)))
          yield* sweep()
          // "a" was first used 24 hours ago: forgotten; "b" 1 ms less: kept
          assert.strictEqual(yield* event("b"), second)
          assert.notStrictEqual(yield* event("a"), first)
        })
      ))

    it.effect("a finished reservation goes exactly one Retention after it ended, with its reserve key and its index entry", () =>
      onRedis((prefix) =>
        Effect.gen(function*() {
          const { balance, hold, ledger, listed, reason, sweep } = yield* setup("acme")
          const redis = yield* Redis.Redis
          const early = yield* hold({ key: "early", ttlMs: 7_200_000 })
          const late = yield* hold({ key: "late", ttlMs: 7_200_000 })
          const active = yield* hold({ ttlMs: 7_200_000 })
          yield* TestClock.adjust("5 seconds")
          yield* ledger.commit({ tenant: "acme", reservationId: early, actual: tokens(10) })
          yield* TestClock.adjust("1 millis")
          yield* ledger.release({ tenant: "acme", reservationId: late })
          // one hour after `early` ended, 1 ms less than one hour after `late` did
          yield* TestClock.adjust(Duration.subtract(oneHour, Duration.millis(1)))
          yield* sweep()
          assert.strictEqual(yield* reason(ledger.getReservation({ tenant: "acme", reservationId: early })), "NotFound")
          assert.strictEqual((yield* ledger.getReservation({ tenant: "acme", reservationId: late })).status, "released")
          assert.deepStrictEqual(yield* listed(), [late, active])
          // nothing of `early` is left in Redis: no hash, no index entry, no log entry
          assert.strictEqual(yield* redis.send<number>("EXISTS", keyOf(prefix, "acme", `reservation:${early}`)), 0)
          assert.deepStrictEqual(
            yield* redis.send<ReadonlyArray<string>>("ZRANGE", keyOf(prefix, "acme", "reservations"), "0", "-1"),
            [late, active]
          )
          assert.deepStrictEqual(
            yield* redis.send<ReadonlyArray<string>>("LRANGE", keyOf(prefix, "acme", "ended"), "0", "-1"),
            [`5001 ${late}`]
          )
          // `late`'s key still replays; `early`'s is new again
          assert.strictEqual(yield* hold({ key: "late", ttlMs: 7_200_000 }), late)
          assert.notStrictEqual(yield* hold({ key: "early", ttlMs: 7_200_000 }), early)
          assert.strictEqual((yield* balance).reserved, 20n)
        }), { retention: oneHour }))

    it.effect("a tenant is pruned at most once a minute, and again exactly a minute after the last prune", () =>
      onRedis(() =>
        Effect.gen(function*() {
          const { balance, event, sweep } = yield* setup("acme")
          const first = yield* event("a")
          yield* TestClock.adjust("10 seconds")
          const second = yield* event("b")
          yield* TestClock.adjust(Duration.subtract(oneHour, Duration.seconds(10)))
          yield* sweep() // prunes: "a" goes, "b" (first used 10 s after it) stays
          assert.notStrictEqual(yield* event("a"), first)
          assert.strictEqual(yield* event("b"), second)
          yield* TestClock.adjust("30 seconds")
          yield* sweep() // 30 s after the last prune: none, though "b" is now past the retention
          assert.strictEqual(yield* event("b"), second)
          yield* TestClock.adjust("30 seconds")
          yield* sweep() // exactly a minute after the last prune (not after the last sweep): prunes
          assert.notStrictEqual(yield* event("b"), second)
          assert.strictEqual((yield* balance).spent, 4n)
        }), { retention: oneHour }))

    it.effect("a reserve key kept by a prune (its reservation still there) goes when the reservation is pruned", () =>
      onRedis(() =>
        Effect.gen(function*() {
          const { balance, hold, ledger, reason, sweep } = yield* setup("acme")
          const held = yield* hold({ key: "k", ttlMs: 7_200_000 })
          yield* TestClock.adjust("30 minutes")
          yield* ledger.commit({ tenant: "acme", reservationId: held, actual: tokens(10) })
          // an hour after the reserve: the key is past the retention, its reservation ended 30 minutes ago
          yield* TestClock.adjust("30 minutes")
          yield* sweep()
          assert.strictEqual(yield* hold({ key: "k", ttlMs: 7_200_000 }), held)
          // an hour after the commit: the reservation goes, and its key with it (no replay of a gone id)
          yield* TestClock.adjust("30 minutes")
          yield* sweep()
          assert.strictEqual(yield* reason(ledger.getReservation({ tenant: "acme", reservationId: held })), "NotFound")
          const again = yield* hold({ key: "k", ttlMs: 7_200_000 })
          assert.notStrictEqual(again, held)
          assert.strictEqual((yield* ledger.getReservation({ tenant: "acme", reservationId: again })).status, "active")
          assert.strictEqual((yield* balance).reserved, 10n)
        }), { retention: oneHour }))

    it.effect("one prune forgets more than a page (1,000) of keys", () =>
      onRedis((prefix) =>
        Effect.gen(function*() {
          const { balance, event, sweep } = yield* setup("acme")
          const redis = yield* Redis.Redis
          const keys = Array.from({ length: 1_001 }, (_, i) => `k-${i}`)
          const first = yield* Effect.forEach(keys, event, { concurrency: 16 })
          yield* TestClock.adjust(oneHour)
          yield* sweep()
          assert.strictEqual(yield* redis.send<number>("LLEN", keyOf(prefix, "acme", "idempotency")), 0)
          // every key is new again: 1,001 new events
          const again = yield* Effect.forEach(keys, event, { concurrency: 16 })
          assert.isTrue(again.every((id, i) => id !== first[i]))
          assert.strictEqual((yield* balance).spent, 2_002n)
        }), { retention: oneHour }))
  })

  describe("a large backlog", () => {
    it.effect("a prune takes at most 10,000 log entries a call and goes on at the next sweep, not a minute later", () =>
      onRedis((prefix) =>
        Effect.gen(function*() {
          const { event, sweep } = yield* setup("acme")
          const redis = yield* Redis.Redis
          const log = keyOf(prefix, "acme", "idempotency")
          yield* Effect.forEach(Array.from({ length: 10_050 }, (_, i) => `k-${i}`), event, {
            concurrency: 32,
            discard: true
          })
          yield* TestClock.adjust(oneHour)
          yield* sweep()
          assert.strictEqual(yield* redis.send<number>("LLEN", log), 50)
          yield* TestClock.adjust("1 second") // the next sweep, 1 s later, finishes it
          yield* sweep()
          assert.strictEqual(yield* redis.send<number>("LLEN", log), 0)
          // a complete prune marks the minute again; a later one still forgets what has aged
          yield* event("late")
          yield* TestClock.adjust(oneHour)
          yield* sweep()
          assert.strictEqual(yield* redis.send<number>("LLEN", log), 0)
        }), { retention: oneHour }))
  })

  describe("expiry", () => {
    it.effect("an extended reservation keeps its grace in the sweeper's index", () =>
      onRedis(() =>
        Effect.gen(function*() {
          const { balance, hold, ledger, sweep } = yield* setup("acme")
          const held = yield* hold({ ttlMs: 1_000, graceMs: 5_000 })
          const extended = yield* ledger.extend({ tenant: "acme", reservationId: held, extendByMs: 1_000 })
          assert.strictEqual(extended.expiresAtMs, 2_000)
          // past the new expiresAt, within its grace: not swept
          yield* TestClock.adjust("2500 millis")
          assert.deepStrictEqual((yield* sweep()).expired, [])
          yield* TestClock.adjust("4500 millis") // exactly expiresAt + grace
          assert.deepStrictEqual((yield* sweep()).expired, [])
          assert.strictEqual((yield* balance).reserved, 10n)
          yield* TestClock.adjust("1 millis")
          assert.deepStrictEqual((yield* sweep()).expired, [held])
          assert.strictEqual((yield* balance).reserved, 0n)
        })
      ))

    it.effect("a sweep of every tenant expires at most `limit` in all, and still prunes every tenant", () =>
      onRedis(() =>
        Effect.gen(function*() {
          const acme = yield* setup("acme")
          const beta = yield* setup("beta")
          const keyed = [yield* acme.event("e"), yield* beta.event("e")]
          const held = [yield* acme.hold({ ttlMs: 1_000 }), yield* beta.hold({ ttlMs: 1_000 })]
          yield* TestClock.adjust(oneHour)
          const first = (yield* acme.ledger.sweep({ limit: 1 })).expired
          assert.strictEqual(first.length, 1)
          // both tenants were pruned, whichever was visited first
          assert.notStrictEqual(yield* acme.event("e"), keyed[0])
          assert.notStrictEqual(yield* beta.event("e"), keyed[1])
          const second = (yield* acme.ledger.sweep({ limit: 1 })).expired
          assert.deepStrictEqual([...first, ...second].sort(), [...held].sort())
          assert.deepStrictEqual([(yield* acme.balance).reserved, (yield* beta.balance).reserved], [0n, 0n])
        }), { retention: oneHour }))

    it.effect("the background sweeper expires everything due at each SweepInterval, more than one page of 1,000", () =>
      onRedis(() =>
        Effect.gen(function*() {
          const acme = yield* setup("acme")
          const beta = yield* setup("beta")
          for (const tenant of [acme, beta]) {
            yield* Effect.forEach(Array.from({ length: 501 }), () => tenant.hold({ ttlMs: 1_000 }), {
              concurrency: 16,
              discard: true
            })
          }
          const reserved = Effect.map(
            Effect.all([acme.balance, beta.balance]),
            (balances) => balances.map((b) => b.reserved)
          )
          assert.deepStrictEqual(yield* reserved, [5_010n, 5_010n])
          yield* advanceSettled("1 second") // nothing due yet (due after expiresAt 1 s)
          yield* advanceSettled("1 second") // all 1,002 due: two pages
          // the sweeper's pages are store calls in real time: give them up to ~5 s of real time (a loaded
          // machine), never more time on the clock
          let left = yield* reserved
          for (let attempt = 0; attempt < 5_000 && (left[0] !== 0n || left[1] !== 0n); attempt++) {
            yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))
            left = yield* reserved
          }
          assert.deepStrictEqual(left, [0n, 0n])
          assert.deepStrictEqual(yield* acme.listed({ status: "active" }), [])
        }), { sweepInterval: Duration.seconds(1) }))
  })

  describe("listReservations", () => {
    it.effect("pages past the script's first 200 reservations: hasMore at 200, a filter finds the 201st", () =>
      onRedis(() =>
        Effect.gen(function*() {
          const { hold, ledger, listed } = yield* setup("acme")
          const ids: Array<string> = []
          for (let i = 0; i < 201; i++) ids.push(yield* hold())
          yield* ledger.commit({ tenant: "acme", reservationId: ids[200]!, actual: tokens(1) })
          const page = (request: Partial<typeof Ledger.ListReservationsRequest.Encoded>) =>
            ledger.listReservations({ tenant: "acme", ...request })
          const full = yield* page({ limit: 200 })
          assert.deepStrictEqual(full.reservations.map((r) => r.reservationId), ids.slice(0, 200))
          assert.isTrue(full.hasMore)
          const last = yield* page({ limit: 200, cursor: full.nextCursor! })
          assert.deepStrictEqual(last.reservations.map((r) => r.reservationId), [ids[200]])
          assert.deepStrictEqual([last.hasMore, last.nextCursor], [false, undefined])
          // the only committed one is the 201st: found, and nothing after it
          const committed = yield* page({ limit: 1, status: "committed" })
          assert.deepStrictEqual(committed.reservations.map((r) => r.reservationId), [ids[200]])
          assert.deepStrictEqual([committed.hasMore, committed.nextCursor], [false, undefined])
          assert.deepStrictEqual(yield* listed({ limit: 200, status: "active" }), ids.slice(0, 200))
        })
      ))
  })
})
