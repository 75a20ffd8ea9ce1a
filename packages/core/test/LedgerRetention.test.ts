/**
 * Retention and expiry of the memory ledger (`internal/ledger/state.ts`
 * `prune`, `keys.ts`, `reservations.ts`, `settle.ts` `sweep`, `query.ts`),
 * driven through `Ledger.layerMemory` on the `TestClock`: where exactly a
 * key or a finished reservation is forgotten (at `Retention` after its first
 * use or its end, both sides of the boundary), the once-a-minute prune, an
 * expired reservation kept from its sweep, the neighbours of a pruned
 * reservation, sweep limits, the background sweeper (pages, failures,
 * defaults), and list cursors across a prune.
 *
 * Each test builds its own ledger (`{ local: true }`), so its reservations
 * are the only ones in the store. The background sweeper is off
 * (`SweepInterval = infinity`) except where it is the subject.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Logger } from "effect"
import { TestClock } from "effect/testing"
import { Ledger } from "../src/index.ts"

const tenant = "acme"
const subject: Ledger.Subject = { tenant }
const scope = `tenant:${tenant}`
const action: Ledger.Action = { kind: "llm.completion", name: "retention" }
const tokens = (amount: number) => ({ unit: "TOKENS" as const, amount })

const oneHour = Duration.hours(1)

interface Settings {
  readonly retention?: Duration.Duration
  readonly sweepInterval?: Duration.Duration
}

/** Runs `effect` on a fresh memory ledger; `Retention` is the default unless given. */
const onLedger = <A, E>(effect: Effect.Effect<A, E, Ledger.Ledger>, settings: Settings = {}): Effect.Effect<A, E> => {
  const provided = Effect.provideService(
    Effect.provide(effect, Ledger.layerMemory, { local: true }),
    Ledger.SweepInterval,
    settings.sweepInterval ?? Duration.infinity
  )
  return settings.retention === undefined
    ? provided
    : Effect.provideService(provided, Ledger.Retention, settings.retention)
}

/** The ledger with a 1,000,000-token budget on `tenant:acme`, and shorthands. */
const setup = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  yield* ledger.createBudget({ tenant, scope, unit: "TOKENS", allocated: 1_000_000 })
  const hold = (options: { readonly key?: string; readonly ttlMs?: number; readonly amount?: number } = {}) =>
    Effect.map(
      ledger.reserve({
        tenant,
        subject,
        action,
        estimate: tokens(options.amount ?? 10),
        ttlMs: options.ttlMs ?? 60_000,
        graceMs: 0,
        ...(options.key === undefined ? {} : { idempotencyKey: options.key })
      }),
      (answer) => answer.reservationId ?? ""
    )
  const balance = Effect.map(
    ledger.balances({ tenant, subject, unit: "TOKENS" }),
    (answer) => answer.balances.find((b) => b.scope === scope)!
  )
  const reserved = Effect.map(balance, (b) => b.reserved)
  const listed = (request: Partial<typeof Ledger.ListReservationsRequest.Encoded> = {}) =>
    Effect.map(ledger.listReservations({ tenant, ...request }), (page) => page.reservations.map((r) => r.reservationId))
  const event = (key: string) =>
    Effect.map(
      ledger.event({ tenant, subject, action, actual: tokens(1), idempotencyKey: key }),
      (answer) => answer.eventId
    )
  const sweep = (limit?: number) => ledger.sweep({ tenant, ...(limit === undefined ? {} : { limit }) })
  return { ledger, hold, balance, reserved, listed, event, sweep }
})

/** The reason a failed ledger call gives. */
const reasonOf = <A, R>(effect: Effect.Effect<A, Ledger.LedgerError, R>) =>
  Effect.map(Effect.flip(effect), (error) => error.reason._tag)

describe("Ledger retention (memory)", () => {
  describe("pruning", () => {
    it.effect("a key is forgotten exactly one Retention after its first use, not 1 ms before", () =>
      onLedger(
        Effect.gen(function*() {
          const { event, sweep } = yield* setup
          const first = yield* event("a")
          yield* TestClock.adjust("1 millis")
          const second = yield* event("b")
          yield* TestClock.adjust(Duration.subtract(oneHour, Duration.millis(1)))
          yield* sweep()
          // "a" was first used one hour ago: forgotten; "b" 1 ms less: kept
          assert.strictEqual(yield* event("b"), second)
          assert.notStrictEqual(yield* event("a"), first)
        }),
        { retention: oneHour }
      ))

    it.effect("a tenant is pruned at most once a minute, and again exactly a minute after the last prune", () =>
      onLedger(
        Effect.gen(function*() {
          const { balance, event, sweep } = yield* setup
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
          yield* sweep() // exactly a minute after the last prune: prunes
          assert.notStrictEqual(yield* event("b"), second)
          assert.strictEqual((yield* balance).spent, 4n)
        }),
        { retention: oneHour }
      ))

    it.effect("a finished reservation and its reserve key go together, exactly one Retention after it ended", () =>
      onLedger(
        Effect.gen(function*() {
          const { hold, ledger, listed, reserved, sweep } = yield* setup
          const early = yield* hold({ key: "early", ttlMs: 7_200_000 })
          const late = yield* hold({ key: "late", ttlMs: 7_200_000 })
          yield* TestClock.adjust("5 seconds")
          yield* ledger.commit({ tenant, reservationId: early, actual: tokens(10) })
          yield* TestClock.adjust("1 millis")
          yield* ledger.release({ tenant, reservationId: late })
          // one hour after `early` ended, 1 ms less than one hour after `late` did
          yield* TestClock.adjust(Duration.subtract(oneHour, Duration.millis(1)))
          yield* sweep()
          assert.deepStrictEqual(yield* listed(), [late])
          assert.strictEqual(
            yield* reasonOf(ledger.getReservation({ tenant, reservationId: early })),
            "NotFound"
          )
          assert.strictEqual((yield* ledger.getReservation({ tenant, reservationId: late })).status, "released")
          // `late`'s key still answers as first (a replay, or a mismatch for another request)
          assert.strictEqual(yield* hold({ key: "late", ttlMs: 7_200_000 }), late)
          assert.strictEqual(
            yield* reasonOf(hold({ key: "late", ttlMs: 7_200_000, amount: 11 })),
            "IdempotencyMismatch"
          )
          assert.strictEqual(yield* reserved, 0n)
          // `early`'s key is new again: a fresh hold
          const again = yield* hold({ key: "early", ttlMs: 7_200_000 })
          assert.notStrictEqual(again, early)
          assert.strictEqual(yield* reserved, 10n)
        }),
        { retention: oneHour }
      ))

    it.effect("a pruned reservation is not found; the ones made around it stay found, listed and settleable", () =>
      onLedger(
        Effect.gen(function*() {
          const { hold, ledger, listed, reserved, sweep } = yield* setup
          const before = yield* hold({ ttlMs: 10_800_000 })
          const done = yield* hold({ ttlMs: 10_800_000 })
          const after = yield* hold({ ttlMs: 10_800_000 })
          yield* ledger.commit({ tenant, reservationId: done, actual: tokens(10) })
          yield* TestClock.adjust(oneHour)
          yield* sweep()
          assert.strictEqual(yield* reasonOf(ledger.getReservation({ tenant, reservationId: done })), "NotFound")
          assert.strictEqual((yield* ledger.getReservation({ tenant, reservationId: before })).status, "active")
          assert.strictEqual((yield* ledger.getReservation({ tenant, reservationId: after })).status, "active")
          assert.deepStrictEqual(yield* listed(), [before, after])
          assert.deepStrictEqual(yield* listed({ status: "active" }), [before, after])
          assert.strictEqual(
            (yield* ledger.commit({ tenant, reservationId: after, actual: tokens(4) })).status,
            "committed"
          )
          assert.strictEqual((yield* ledger.release({ tenant, reservationId: before })).status, "released")
          assert.strictEqual(yield* reserved, 0n)
        }),
        { retention: oneHour }
      ))

    it.effect("commit and release keys live one Retention from the settlement, not from the reserve", () =>
      onLedger(
        Effect.gen(function*() {
          const { hold, ledger, sweep } = yield* setup
          const committed = yield* hold({ ttlMs: 7_200_000 })
          const released = yield* hold({ ttlMs: 7_200_000 })
          const commit = () =>
            ledger.commit({ tenant, reservationId: committed, actual: tokens(7), idempotencyKey: "c" })
          const release = () => ledger.release({ tenant, reservationId: released, idempotencyKey: "r" })
          yield* TestClock.adjust("50 minutes")
          const first = yield* commit()
          const firstRelease = yield* release()
          // an hour after the reserves, 11 minutes after the settlements: both keys replay
          yield* TestClock.adjust("11 minutes")
          yield* sweep()
          assert.deepStrictEqual(yield* commit(), first)
          assert.deepStrictEqual(yield* release(), firstRelease)
          // an hour after the settlements: the keys and the reservations are gone
          yield* TestClock.adjust("50 minutes")
          yield* sweep()
          assert.strictEqual(yield* reasonOf(commit()), "NotFound")
          assert.strictEqual(yield* reasonOf(release()), "NotFound")
        }),
        { retention: oneHour }
      ))

    it.effect("extend, fund and decide keys are forgotten one Retention after their first use", () =>
      onLedger(
        Effect.gen(function*() {
          const { balance, hold, ledger, sweep } = yield* setup
          const held = yield* hold({ ttlMs: 10_800_000 })
          const extend = () => ledger.extend({ tenant, reservationId: held, extendByMs: 1_000, idempotencyKey: "e" })
          const credit = () =>
            ledger.fundBudget({ tenant, scope, unit: "TOKENS", operation: "credit", amount: 100, idempotencyKey: "f" })
          const decide = (amount: number) =>
            ledger.decide({ tenant, subject, action, estimate: tokens(amount), idempotencyKey: "d" })
          assert.strictEqual((yield* extend()).extensions, 1)
          yield* credit()
          assert.strictEqual((yield* decide(10)).decision, "allow")
          yield* TestClock.adjust("59 minutes")
          yield* sweep()
          // within the hour: replays, and a different decide is a mismatch
          assert.strictEqual((yield* extend()).extensions, 1)
          assert.strictEqual((yield* credit()).balances[0]!.allocated, 1_000_100n)
          assert.strictEqual(yield* reasonOf(decide(20)), "IdempotencyMismatch")
          yield* TestClock.adjust("1 minute")
          yield* sweep()
          // the hour is up: each key is new again
          const again = yield* extend()
          assert.strictEqual(again.extensions, 2)
          assert.strictEqual(again.expiresAtMs, 10_802_000)
          yield* credit()
          assert.strictEqual((yield* balance).allocated, 1_000_200n)
          assert.strictEqual((yield* decide(20)).decision, "allow")
        }),
        { retention: oneHour }
      ))

    it.effect("by default a key is kept 24 hours: forgotten then, not 1 ms before", () =>
      onLedger(
        Effect.gen(function*() {
          const { event, ledger, sweep } = yield* setup
          assert.strictEqual(Duration.toMillis(ledger.retention), 86_400_000)
          const first = yield* event("a")
          yield* TestClock.adjust("1 millis")
          const second = yield* event("b")
          yield* TestClock.adjust(Duration.subtract(Duration.hours(24), Duration.millis(1)))
          yield* sweep()
          assert.strictEqual(yield* event("b"), second)
          assert.notStrictEqual(yield* event("a"), first)
        })
      ))
  })

  describe("expiry", () => {
    it.effect("a swept reservation and its key are kept one Retention from the sweep, not from expiresAt", () =>
      onLedger(
        Effect.gen(function*() {
          const { hold, ledger, listed, reserved, sweep } = yield* setup
          const held = yield* hold({ key: "x", ttlMs: 1_000 })
          yield* TestClock.adjust("30 minutes")
          assert.deepStrictEqual((yield* sweep()).expired, [held])
          assert.strictEqual(yield* reserved, 0n)
          // 70 minutes after expiresAt, 40 after the sweep: still there, expired
          yield* TestClock.adjust("40 minutes")
          assert.deepStrictEqual((yield* sweep()).expired, [])
          assert.strictEqual(
            yield* reasonOf(ledger.getReservation({ tenant, reservationId: held })),
            "ReservationExpired"
          )
          assert.deepStrictEqual(yield* listed({ status: "expired" }), [held])
          assert.strictEqual(yield* hold({ key: "x", ttlMs: 1_000 }), held)
          assert.strictEqual(
            yield* reasonOf(ledger.commit({ tenant, reservationId: held, actual: tokens(1) })),
            "ReservationExpired"
          )
          assert.strictEqual(yield* reserved, 0n)
          // an hour after the sweep: gone, and the key is new again
          yield* TestClock.adjust("20 minutes")
          yield* sweep()
          assert.strictEqual(yield* reasonOf(ledger.getReservation({ tenant, reservationId: held })), "NotFound")
          assert.deepStrictEqual(yield* listed(), [])
          assert.notStrictEqual(yield* hold({ key: "x", ttlMs: 1_000 }), held)
          assert.strictEqual(yield* reserved, 10n)
        }),
        { retention: oneHour }
      ))

    it.effect("a sweep expires at most `limit` reservations, in creation order when due together; the next sweep takes the rest", () =>
      onLedger(Effect.gen(function*() {
        const { hold, reserved, sweep } = yield* setup
        const first = yield* hold({ ttlMs: 1_000 })
        const second = yield* hold({ ttlMs: 1_000 })
        const third = yield* hold({ ttlMs: 1_000 })
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual((yield* sweep(2)).expired, [first, second])
        assert.strictEqual(yield* reserved, 10n)
        assert.deepStrictEqual((yield* sweep(2)).expired, [third])
        assert.strictEqual(yield* reserved, 0n)
      })))

    it.effect("the background sweeper expires everything due at each SweepInterval, more than one page of 1,000", () =>
      onLedger(
        Effect.gen(function*() {
          const { hold, listed, reserved } = yield* setup
          yield* Effect.forEach(Array.from({ length: 1_001 }), () => hold({ ttlMs: 1_000 }), { discard: true })
          assert.strictEqual(yield* reserved, 10_010n)
          yield* TestClock.adjust("2 seconds") // sweeps at 1 s (nothing due) and at 2 s
          assert.strictEqual(yield* reserved, 0n)
          assert.deepStrictEqual(yield* listed({ status: "active" }), [])
        }),
        { sweepInterval: Duration.seconds(1) }
      ))

    it.effect("the background sweeper keeps running after a failed sweep, and logs each failure", () =>
      Effect.gen(function*() {
        const logged: Array<string> = []
        const capture = Logger.layer([
          Logger.make(({ logLevel, message }) => {
            logged.push(`${logLevel}: ${Array.isArray(message) ? message[0] : String(message)}`)
          })
        ])
        yield* onLedger(
          Effect.gen(function*() {
            const { hold, reserved } = yield* setup
            // a negative retention fails every sweep, after it expired what was due
            yield* hold({ ttlMs: 1_000 })
            yield* TestClock.adjust("2 seconds")
            assert.strictEqual(yield* reserved, 0n)
            yield* hold({ ttlMs: 1_000 })
            yield* TestClock.adjust("2 seconds")
            assert.strictEqual(yield* reserved, 0n)
          }),
          { retention: Duration.millis(-1), sweepInterval: Duration.seconds(1) }
        ).pipe(Effect.provide(capture))
        assert.deepStrictEqual(logged, Array.from({ length: 4 }, () => "Warn: ledger sweep failed"))
      }))

    it.effect("by default the background sweeper runs every second", () =>
      Effect.gen(function*() {
        const { hold, reserved } = yield* setup
        yield* TestClock.adjust("1500 millis")
        yield* hold({ ttlMs: 1_000 }) // due after 2.5 s: the sweep at 3 s takes it
        yield* TestClock.adjust("1500 millis")
        assert.strictEqual(yield* reserved, 0n)
      }).pipe(Effect.provide(Ledger.layerMemory, { local: true })))
  })

  describe("listReservations", () => {
    it.effect("a cursor taken before a prune continues right after it; later pages neither skip nor repeat", () =>
      onLedger(
        Effect.gen(function*() {
          const { hold, ledger, listed, sweep } = yield* setup
          const ids: Array<string> = []
          for (let i = 0; i < 8; i++) ids.push(yield* hold({ ttlMs: 10_800_000 }))
          for (const id of ids.slice(0, 3)) yield* ledger.commit({ tenant, reservationId: id, actual: tokens(1) })
          const first = yield* ledger.listReservations({ tenant, limit: 2 })
          assert.deepStrictEqual(first.reservations.map((r) => r.reservationId), ids.slice(0, 2))
          assert.isTrue(first.hasMore)
          yield* TestClock.adjust(oneHour)
          yield* sweep() // the three committed ones go
          const next = yield* listed({ limit: 2, cursor: first.nextCursor! })
          assert.deepStrictEqual(next, ids.slice(3, 5))
          const seen: Array<string> = []
          let cursor: string | undefined
          do {
            const page = yield* ledger.listReservations({
              tenant,
              limit: 2,
              ...(cursor === undefined ? {} : { cursor })
            })
            seen.push(...page.reservations.map((r) => r.reservationId))
            cursor = page.nextCursor
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, ids.slice(3))
        }),
        { retention: oneHour }
      ))

    it.effect("hasMore is false when the last page is exactly full, with or without a filter; at most 200 a page", () =>
      onLedger(Effect.gen(function*() {
        const { hold, ledger } = yield* setup
        const ids: Array<string> = []
        for (let i = 0; i < 201; i++) ids.push(yield* hold())
        yield* ledger.commit({ tenant, reservationId: ids[3]!, actual: tokens(1) })
        const page = (request: Partial<typeof Ledger.ListReservationsRequest.Encoded>) =>
          ledger.listReservations({ tenant, ...request })
        const full = yield* page({ limit: 200 })
        assert.strictEqual(full.reservations.length, 200)
        assert.isTrue(full.hasMore)
        const last = yield* page({ limit: 200, cursor: full.nextCursor! })
        assert.deepStrictEqual(last.reservations.map((r) => r.reservationId), [ids[200]])
        assert.deepStrictEqual([last.hasMore, last.nextCursor], [false, undefined])
        // exactly full: the second page of 2 out of 4, and the only committed one out of 201
        const skipped = yield* page({ limit: 197 })
        const two = yield* page({ limit: 2, cursor: skipped.nextCursor! })
        assert.deepStrictEqual(two.reservations.map((r) => r.reservationId), ids.slice(197, 199))
        assert.isTrue(two.hasMore)
        const end = yield* page({ limit: 2, cursor: two.nextCursor! })
        assert.deepStrictEqual(end.reservations.map((r) => r.reservationId), ids.slice(199))
        assert.deepStrictEqual([end.hasMore, end.nextCursor], [false, undefined])
        const committed = yield* page({ limit: 1, status: "committed" })
        assert.deepStrictEqual(committed.reservations.map((r) => r.reservationId), [ids[3]])
        assert.deepStrictEqual([committed.hasMore, committed.nextCursor], [false, undefined])
        assert.strictEqual(yield* reasonOf(page({ limit: 201 })), "InvalidRequest")
      })))
  })
})
