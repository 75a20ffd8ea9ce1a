/**
 * The memory store tells a replay from a different request without
 * fingerprints (`internal/ledger/idempotency.ts`, and the reservation a
 * reserve, commit or release key points at). Here, on seeded random pairs of
 * requests drawn from small pools (so that equal and nearly equal requests
 * are common), it must decide exactly as comparing fingerprints would: the
 * same key replays the first answer, unchanged, when the fingerprints are
 * equal, and fails with `IdempotencyMismatch` otherwise. The balances a
 * replay rebuilds from their off-heap snapshot equal the first answer's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { LedgerStore } from "../src/index.ts"
import * as Commands from "../src/internal/ledger/commands.ts"
import * as Idempotency from "../src/internal/ledger/idempotency.ts"
import type * as Model from "../src/internal/ledger/model.ts"
import * as Scope from "../src/internal/ledger/scope.ts"
import * as Snapshots from "../src/internal/ledger/snapshots.ts"
import { prng } from "./random.ts"

type Pick = ReturnType<typeof prng>["pick"]

const subjects: ReadonlyArray<Model.Subject> = [
  { tenant: "acme" },
  { tenant: "acme", app: "a" },
  { tenant: "acme", app: "a", dimensions: { x: "1", y: "2" } },
  { tenant: "acme", app: "a", dimensions: { y: "2", x: "1" } },
  { tenant: "acme", app: "a", dimensions: { x: "1" } }
]

const actions: ReadonlyArray<Model.Action> = [
  { kind: "llm", name: "m" },
  { kind: "llm", name: "n" },
  { kind: "llm", name: "m", tags: ["a", "b"] },
  { kind: "llm", name: "m", tags: ["b", "a"] }
]

const metadatas: ReadonlyArray<Model.Metadata | undefined> = [
  undefined,
  { run: "1" },
  { run: "1", step: "2" },
  { step: "2", run: "1" }
]

const tokens = (amount: bigint): Model.Amount => ({ unit: "TOKENS", amount })

/** A decoded reserve request with key `k`, drawn from the pools (a copy: the store may keep it). */
const reserveRequest = (pick: Pick, dryRun: boolean): Model.ReserveRequest => {
  const metadata = pick(metadatas)
  return {
    tenant: "acme",
    subject: structuredClone(pick(subjects)),
    action: structuredClone(pick(actions)),
    estimate: tokens(pick([5n, 6n])),
    ttlMs: pick([60_000, 1_000]),
    graceMs: pick([5_000, 0]),
    overagePolicy: pick(["ALLOW_IF_AVAILABLE", "REJECT"] as const),
    dryRun,
    idempotencyKey: "k",
    ...(metadata === undefined ? {} : { metadata: { ...metadata } })
  }
}

/**
 * A second request for the first's key: a copy of it (keys in another order
 * where it has several), or the first with one field taken from `other`.
 */
const nearly = <R extends object>(pick: Pick, first: R, other: R): R => {
  const copy = structuredClone(first) as Record<string, unknown>
  if (pick([true, false])) return reorder(copy) as R
  const key = pick(Object.keys(other))
  copy[key] = (other as Record<string, unknown>)[key]
  return copy as R
}

/** The same value with every object's keys in reverse order. */
const reorder = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(reorder)
    : typeof value === "object" && value !== null
    ? Object.fromEntries(
      Object.entries(value).map((_, i, all) => all[all.length - 1 - i]!).map(([key, item]) => [key, reorder(item)])
    )
    : value

const fresh = Effect.gen(function*() {
  const store = yield* LedgerStore.makeMemory
  for (const scope of ["tenant:acme", "tenant:acme/app:a"]) {
    yield* store.createBudget({
      tenant: "acme",
      scope,
      unit: "TOKENS",
      allocated: 1_000_000n,
      overdraftLimit: 0n,
      now: 0
    })
  }
  return store
})

const reserveCommand = (request: Model.ReserveRequest, now: number) =>
  Commands.reserve(request, Scope.deriveShared(request.subject), now)

const isMismatch = <A>(exit: Exit.Exit<A, unknown>): boolean =>
  Exit.isFailure(exit) && JSON.stringify(exit.cause).includes("IdempotencyMismatch")

describe("memory store idempotency", () => {
  it("sameRequest holds exactly when the fingerprints are equal", () => {
    const { pick } = prng(7)
    for (let i = 0; i < 2_000; i++) {
      const request = reserveRequest(pick, pick([true, false]))
      const a = reserveCommand(request, 1)
      const b = reserveCommand(nearly(pick, request, reserveRequest(pick, pick([true, false]))), 2)
      assert.strictEqual(Idempotency.sameRequest(a, b), a.fingerprint === b.fingerprint, a.fingerprint)
    }
  })

  it.effect("reserve (made or dry run): a second use of the key replays the first answer iff the fingerprints match", () =>
    Effect.gen(function*() {
      const { pick } = prng(11)
      let replays = 0
      for (let i = 0; i < 400; i++) {
        const store = yield* fresh
        const request = reserveRequest(pick, pick([true, false]))
        const first = reserveCommand(request, 1_000)
        const answer = yield* store.reserve(first)
        yield* store.reserve(reserveCommand({ ...reserveRequest(pick, false), idempotencyKey: "other" }, 1_500))
        const second = reserveCommand(nearly(pick, request, reserveRequest(pick, pick([true, false]))), 2_000)
        const again = yield* Effect.exit(store.reserve(second))
        replays += first.fingerprint === second.fingerprint ? 1 : 0
        if (first.fingerprint === second.fingerprint) {
          assert.isTrue(Exit.isSuccess(again))
          if (Exit.isSuccess(again)) assert.deepStrictEqual(again.value, answer)
        } else {
          assert.isTrue(isMismatch(again), `${first.fingerprint} vs ${second.fingerprint}`)
        }
      }
      assert.isAbove(replays, 50)
      assert.isBelow(replays, 350)
    }))

  it.effect("commit and release: a second use of the key replays the first answer iff the fingerprints match", () =>
    Effect.gen(function*() {
      const { pick } = prng(13)
      for (let i = 0; i < 400; i++) {
        const store = yield* fresh
        const held = (yield* store.reserve(
          reserveCommand({ ...reserveRequest(pick, false), ttlMs: 60_000, idempotencyKey: "r1" }, 0)
        ))
          .reservationId!
        const other = (yield* store.reserve(
          reserveCommand({ ...reserveRequest(pick, false), ttlMs: 60_000, idempotencyKey: "r2" }, 0)
        ))
          .reservationId!
        const commitRequest = (): Model.CommitRequest => {
          const metadata = pick(metadatas)
          return {
            tenant: "acme",
            reservationId: pick([held, other]),
            actual: tokens(pick([4n, 5n])),
            idempotencyKey: "c",
            ...(metadata === undefined ? {} : { metadata: { ...metadata } })
          }
        }
        const request = { ...commitRequest(), reservationId: held }
        const first = Commands.commit(request, 1_000)
        const committed = yield* store.commit(first)
        const second = Commands.commit(nearly(pick, request, commitRequest()), 2_000)
        const again = yield* Effect.exit(store.commit(second))
        if (first.fingerprint === second.fingerprint) {
          assert.isTrue(Exit.isSuccess(again))
          if (Exit.isSuccess(again)) assert.deepStrictEqual(again.value, committed)
        } else {
          assert.isTrue(isMismatch(again), `${first.fingerprint} vs ${second.fingerprint}`)
        }
        const releaseRequest = (): Model.ReleaseRequest => {
          const reason = pick([undefined, "done", "failed"])
          return {
            tenant: "acme",
            reservationId: other,
            idempotencyKey: "x",
            ...(reason === undefined ? {} : { reason })
          }
        }
        const firstRelease = Commands.release(releaseRequest(), 3_000)
        const released = yield* store.release(firstRelease)
        const secondRelease = Commands.release(nearly(pick, releaseRequest(), releaseRequest()), 4_000)
        const releasedAgain = yield* Effect.exit(store.release(secondRelease))
        if (firstRelease.fingerprint === secondRelease.fingerprint) {
          assert.isTrue(Exit.isSuccess(releasedAgain))
          if (Exit.isSuccess(releasedAgain)) assert.deepStrictEqual(releasedAgain.value, released)
        } else {
          assert.isTrue(isMismatch(releasedAgain))
        }
      }
    }))

  it.effect("event: a second use of the key replays the first answer iff the fingerprints match", () =>
    Effect.gen(function*() {
      const { pick } = prng(17)
      const eventRequest = (): Model.EventRequest => {
        const metadata = pick(metadatas)
        return {
          tenant: "acme",
          subject: structuredClone(pick(subjects)),
          action: structuredClone(pick(actions)),
          actual: tokens(pick([4n, 5n])),
          overagePolicy: pick(["ALLOW_IF_AVAILABLE", "REJECT", "ALLOW_WITH_OVERDRAFT"] as const),
          idempotencyKey: "v",
          ...(metadata === undefined ? {} : { metadata: { ...metadata } })
        }
      }
      const eventCommand = (request: Model.EventRequest, now: number) =>
        Commands.event(request, Scope.deriveShared(request.subject), now)
      let replays = 0
      for (let i = 0; i < 400; i++) {
        const store = yield* fresh
        const request = eventRequest()
        const first = eventCommand(request, 1_000)
        const applied = yield* store.event(first)
        // the balances move on after the first answer; a replay still answers as it did
        yield* store.event(eventCommand({ ...eventRequest(), idempotencyKey: "other" }, 1_500))
        const second = eventCommand(nearly(pick, request, eventRequest()), 2_000)
        const again = yield* Effect.exit(store.event(second))
        if (first.fingerprint === second.fingerprint) {
          replays++
          assert.isTrue(Exit.isSuccess(again))
          if (Exit.isSuccess(again)) assert.deepStrictEqual(again.value, applied)
        } else {
          assert.isTrue(isMismatch(again), `${first.fingerprint} vs ${second.fingerprint}`)
        }
      }
      assert.isAbove(replays, 50)
      assert.isBelow(replays, 350)
    }))

  it.effect("extend: a second use of the key replays the first answer iff the fingerprints match", () =>
    Effect.gen(function*() {
      const { pick } = prng(19)
      let replays = 0
      for (let i = 0; i < 400; i++) {
        const store = yield* fresh
        const hold = (key: string) =>
          store.reserve(reserveCommand({ ...reserveRequest(pick, false), ttlMs: 60_000, idempotencyKey: key }, 0))
        const held = (yield* hold("r1")).reservationId!
        const other = (yield* hold("r2")).reservationId!
        const extendRequest = (): Model.ExtendRequest => ({
          tenant: "acme",
          reservationId: pick([held, other]),
          extendByMs: pick([1_000, 2_000]),
          idempotencyKey: "e"
        })
        const request = { ...extendRequest(), reservationId: held }
        const first = Commands.extend(request, 1_000)
        const extended = yield* store.extend(first)
        // the reservation is extended again and the balances move on; a replay still answers as it did
        yield* store.extend(Commands.extend({ ...request, idempotencyKey: "again" }, 1_500))
        yield* hold("r3")
        const second = Commands.extend(nearly(pick, request, extendRequest()), 2_000)
        const again = yield* Effect.exit(store.extend(second))
        if (first.fingerprint === second.fingerprint) {
          replays++
          assert.isTrue(Exit.isSuccess(again))
          if (Exit.isSuccess(again)) assert.deepStrictEqual(again.value, extended)
        } else {
          assert.isTrue(isMismatch(again), `${first.fingerprint} vs ${second.fingerprint}`)
        }
      }
      assert.isAbove(replays, 50)
      assert.isBelow(replays, 350)
    }))

  it("snapshots: a row reads back as the balances written, later changes aside, and figures beyond 64 bits exactly", () => {
    const arena = Snapshots.make()
    const budget = (
      allocated: bigint,
      isOverLimit: boolean,
      status: Model.BudgetStatus,
      spent = 3n,
      reserved = 2n
    ) => ({
      scope: "tenant:acme",
      unit: "TOKENS" as const,
      status,
      allocated,
      spent,
      reserved,
      debt: 1n,
      overdraftLimit: 9n,
      isOverLimit,
      fixed: undefined as Snapshots.Fixed | undefined
    })
    type Budget = ReturnType<typeof budget>
    const balance = (b: Budget): Model.Balance => ({
      scope: b.scope,
      unit: b.unit,
      status: b.status,
      allocated: b.allocated,
      spent: b.spent,
      reserved: b.reserved,
      debt: b.debt,
      overdraftLimit: b.overdraftLimit,
      remaining: b.allocated - b.spent - b.reserved - b.debt,
      isOverLimit: b.isOverLimit
    })
    // allocated, debt and the overdraft limit are kept as they are, in range or not
    const inRange = [budget(2n ** 63n - 1n, true, "frozen"), budget(2n ** 64n, false, "closed")]
    const expected = inRange.map(balance)
    const row = Snapshots.save(arena, inRange)
    assert.deepStrictEqual(Snapshots.read(arena.chunk, row, inRange), expected)
    // a second row while nothing rare changed shares the first one's fixed figures
    const shared = inRange[0]!.fixed
    const again = Snapshots.save(arena, inRange)
    assert.strictEqual(inRange[0]!.fixed, shared)
    // each figure changed after the rows were written: the rows still read as written
    const changes: ReadonlyArray<(b: Budget) => Budget> = [
      (b) => ({ ...b, allocated: b.allocated - 1n }),
      (b) => ({ ...b, spent: b.spent + 1n }),
      (b) => ({ ...b, reserved: b.reserved + 1n }),
      (b) => ({ ...b, debt: b.debt + 1n }),
      (b) => ({ ...b, overdraftLimit: b.overdraftLimit + 1n }),
      (b) => ({ ...b, status: b.status === "active" ? "frozen" : "active" }),
      (b) => ({ ...b, isOverLimit: !b.isOverLimit })
    ]
    for (const change of changes) {
      const changed = inRange.map(change)
      const at = Snapshots.save(arena, changed)
      assert.deepStrictEqual(Snapshots.read(arena.chunk, at, changed), changed.map(balance))
      assert.deepStrictEqual(Snapshots.read(arena.chunk, row, inRange), expected)
      assert.deepStrictEqual(Snapshots.read(arena.chunk, again, inRange), expected)
    }
    // spent or reserved beyond 64 bits: the row keeps the balances as objects
    for (const beyond of [[budget(10n, false, "active", 2n ** 64n)], [budget(10n, false, "active", 3n, 2n ** 64n)]]) {
      const at = Snapshots.save(arena, beyond)
      assert.deepStrictEqual(Snapshots.read(arena.chunk, at, beyond), beyond.map(balance))
    }
  })
})
