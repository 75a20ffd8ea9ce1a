/**
 * Property tests of the ledger, written once for every store (section 7 of
 * issue 4): 64 concurrent workers do seeded random reserve / commit / release
 * / extend / event (plus sweeps, idempotent replays and, in the mixed run,
 * funding) against one small budget on two scopes, recording every answer.
 * In the mixed run a reserve refused because of what the scope owes (see
 * `owed`) is now and then followed by a repay-debt of it plus a top-up, as an
 * operator would do: without it a worker holding nothing can only reserve, so
 * once a scope is over its limit or deep in debt, and the workers holding a
 * reservation have settled, the run only collects refusals. Then:
 *
 * - every balance observed (in every answer, and by an observer reading
 *   balances while the workers run) satisfies `remaining = allocated − spent
 *   − reserved − debt`, and `spent + reserved ≤ allocated`;
 * - the two scopes move together (every operation touches both);
 * - replaying the recorded answers, in the order they were recorded, onto a
 *   fresh model of the budget gives exactly the store's final state
 *   (balances and every reservation's status and charge), each funding answer
 *   being its request applied to the balance it reports before; under `REJECT`
 *   the answers are also replayed sequentially on a fresh tenant of the same
 *   store, which must end in the same balances.
 *
 * Run it with `LedgerProperty.suite(name, layer)`; time is the `TestClock`
 * of `it.effect` (moved by a clock fiber while the workers run).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, type Layer } from "effect"
import { TestClock } from "effect/testing"
import { Ledger } from "../src/index.ts"
import { freshTenant, identity } from "./LedgerStoreTest.ts"
import { prng } from "./random.ts"

/** Options of a property run. */
export interface Options {
  readonly workers?: number
  readonly operationsPerWorker?: number
  readonly seeds?: ReadonlyArray<number>
  readonly advance?: (duration: Duration.Input) => Effect.Effect<void>
}

type Record =
  | { readonly op: "reserve"; readonly answer: Ledger.ReserveAnswer; readonly policy: Ledger.OveragePolicy }
  | { readonly op: "commit"; readonly answer: Ledger.CommitAnswer; readonly actual: bigint }
  | { readonly op: "release"; readonly answer: Ledger.ReleaseAnswer }
  | { readonly op: "extend"; readonly answer: Ledger.ExtendAnswer }
  | { readonly op: "event"; readonly answer: Ledger.EventAnswer; readonly actual: bigint }
  | {
    readonly op: "fund"
    readonly answer: Ledger.FundAnswer
    readonly operation: "credit" | "repay-debt"
    readonly amount: bigint
  }
  | { readonly op: "sweep"; readonly answer: Ledger.SweepAnswer }
  | { readonly op: "failure"; readonly name: string; readonly reason: string }

type Scenario = "reject" | "mixed"

const action: Ledger.Action = { kind: "llm.completion", name: "property" }

/**
 * What the scope refusing a reserve owes, when only funding gets it out of
 * that state: over its limit (any funding clears the flag), debt it may not
 * carry, or a remaining below zero (only debt takes it there, as spent +
 * reserved <= allocated). Repaying this much clears the state as it was at the
 * refusal.
 */
const owed = (reason: Ledger.LedgerErrorReason): { readonly scope: string; readonly debt: bigint } | undefined => {
  switch (reason._tag) {
    case "OverdraftLimitExceeded":
    case "DebtOutstanding":
      return { scope: reason.scope, debt: reason.debt }
    case "BudgetExceeded":
      return reason.remaining < 0n ? { scope: reason.scope, debt: -reason.remaining } : undefined
    default:
      return undefined
  }
}

/** Every balance an answer carries: the identity, and nothing spent or held beyond the allocation. */
const observe = (balances: ReadonlyArray<Ledger.Balance>, scenario: Scenario, limits: ReadonlyMap<string, bigint>) => {
  identity({ balances })
  for (const b of balances) {
    assert.isAtMost(Number(b.spent + b.reserved - b.allocated), 0, `${b.scope}: spent + reserved <= allocated`)
    assert.isAtMost(Number(b.debt - (limits.get(b.scope) ?? 0n)), 0, `${b.scope}: debt <= overdraft limit`)
    if (scenario === "reject") {
      assert.strictEqual(b.debt, 0n)
      assert.isFalse(b.isOverLimit)
      assert.isAtLeast(Number(b.remaining), 0)
    }
  }
}

/** Runs one scenario with one seed against the `Ledger` in context. */
export const check = (
  scenario: Scenario,
  seed: number,
  options: Options = {}
): Effect.Effect<void, unknown, Ledger.Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const workers = options.workers ?? 64
    const operations = options.operationsPerWorker ?? 30
    const advance = options.advance ?? TestClock.adjust
    const tenant = freshTenant(`p${scenario}`)
    const top = `tenant:${tenant}`
    const app = `${top}/app:bot`
    const subject: Ledger.Subject = { tenant, app: "bot" }
    const appLimit = scenario === "mixed" ? 300n : 0n
    const limits = new Map([[top, 0n], [app, appLimit]])
    yield* ledger.createBudget({ tenant, scope: top, unit: "TOKENS", allocated: 2_000 })
    yield* ledger.createBudget({ tenant, scope: app, unit: "TOKENS", allocated: 800, overdraftLimit: appLimit })

    const records: Array<Record> = []
    const policies: ReadonlyArray<Ledger.OveragePolicy> = scenario === "reject"
      ? ["REJECT"]
      : ["REJECT", "ALLOW_IF_AVAILABLE", "ALLOW_WITH_OVERDRAFT"]
    const fail = (name: string) => (error: Ledger.LedgerError) =>
      Effect.sync(() => {
        records.push({ op: "failure", name, reason: error.reason._tag })
      })
    const progress = { running: true }

    const fund = (scope: string, operation: "credit" | "repay-debt", amount: bigint) =>
      ledger.fundBudget({ tenant, scope, unit: "TOKENS", operation, amount }).pipe(
        Effect.tap((answer) =>
          Effect.sync(() => {
            observe([answer.previous, ...answer.balances], scenario, limits)
            records.push({ op: "fund", answer, operation, amount })
          })
        ),
        Effect.catch(fail("fund"))
      )

    const worker = (index: number) =>
      Effect.gen(function*() {
        const random = prng(seed * 1_000 + index)
        const held: Array<{ readonly id: string; readonly estimate: number }> = []
        const replays: Array<Effect.Effect<void, unknown>> = []
        for (let step = 0; step < operations; step++) {
          const roll = random.next()
          if (roll < 0.35 || held.length === 0) {
            const estimate = random.int(0, 80)
            const policy = random.pick(policies)
            const key = random.next() < 0.3 ? `w${index}-s${step}` : undefined
            const request = {
              tenant,
              subject,
              action,
              estimate: { unit: "TOKENS" as const, amount: estimate },
              ttlMs: random.int(1_000, 4_000),
              graceMs: random.int(0, 1_000),
              overagePolicy: policy,
              ...(key === undefined ? {} : { idempotencyKey: key })
            }
            yield* ledger.reserve(request).pipe(
              Effect.tap((answer) =>
                Effect.sync(() => {
                  observe(answer.balances, scenario, limits)
                  records.push({ op: "reserve", answer, policy })
                  held.push({ id: answer.reservationId!, estimate })
                  if (key !== undefined) {
                    replays.push(Effect.map(ledger.reserve(request), (again) => assert.deepStrictEqual(again, answer)))
                  }
                })
              ),
              Effect.catch((error) =>
                Effect.andThen(fail("reserve")(error), () => {
                  // now and then the refused worker repays what the scope owes, plus a top-up
                  const owing = scenario === "mixed" ? owed(error.reason) : undefined
                  return owing !== undefined && random.next() < 0.05
                    ? fund(owing.scope, "repay-debt", owing.debt + BigInt(random.int(1, 150)))
                    : Effect.void
                })
              )
            )
          } else if (roll < 0.6) {
            const { estimate, id } = held.splice(random.int(0, held.length - 1), 1)[0]!
            const actual = BigInt(random.int(0, Math.ceil(estimate * 1.4)))
            const key = random.next() < 0.5 ? `w${index}-c${step}` : undefined
            const request = {
              tenant,
              reservationId: id,
              actual: { unit: "TOKENS" as const, amount: actual },
              ...(key === undefined ? {} : { idempotencyKey: key })
            }
            yield* ledger.commit(request).pipe(
              Effect.tap((answer) =>
                Effect.sync(() => {
                  observe(answer.balances, scenario, limits)
                  records.push({ op: "commit", answer, actual })
                  if (key !== undefined) {
                    replays.push(Effect.map(ledger.commit(request), (again) => assert.deepStrictEqual(again, answer)))
                  }
                })
              ),
              Effect.catch((error) =>
                Effect.andThen(
                  fail("commit")(error),
                  Effect.sync(() => {
                    // a rejected overage keeps the reservation active: settle it later
                    if (error.reason._tag !== "ReservationExpired") held.push({ id, estimate })
                  })
                )
              )
            )
          } else if (roll < 0.72) {
            const { id } = held.splice(random.int(0, held.length - 1), 1)[0]!
            yield* ledger.release({ tenant, reservationId: id }).pipe(
              Effect.tap((answer) =>
                Effect.sync(() => {
                  observe(answer.balances, scenario, limits)
                  records.push({ op: "release", answer })
                })
              ),
              Effect.catch(fail("release"))
            )
          } else if (roll < 0.8) {
            const { id } = random.pick(held)
            yield* ledger.extend({ tenant, reservationId: id, extendByMs: random.int(100, 2_000) }).pipe(
              Effect.tap((answer) =>
                Effect.sync(() => {
                  observe(answer.balances, scenario, limits)
                  records.push({ op: "extend", answer })
                })
              ),
              Effect.catch(fail("extend"))
            )
          } else if (roll < 0.9) {
            const actual = BigInt(random.int(0, 60))
            yield* ledger.event({
              tenant,
              subject,
              action,
              actual: { unit: "TOKENS", amount: actual },
              overagePolicy: random.pick(policies)
            }).pipe(
              Effect.tap((answer) =>
                Effect.sync(() => {
                  observe(answer.balances, scenario, limits)
                  records.push({ op: "event", answer, actual })
                })
              ),
              Effect.catch(fail("event"))
            )
          } else if (roll < 0.94) {
            yield* ledger.sweep({ tenant }).pipe(
              Effect.tap((answer) => Effect.sync(() => records.push({ op: "sweep", answer }))),
              Effect.catch(fail("sweep"))
            )
          } else if (roll < 0.97 && scenario === "mixed") {
            const operation = random.pick(["credit", "repay-debt"] as const)
            const scope = random.pick([top, app])
            yield* fund(scope, operation, BigInt(random.int(1, 150)))
          } else if (replays.length > 0) {
            yield* replays[random.int(0, replays.length - 1)]!
          }
        }
      })

    const clock = Effect.gen(function*() {
      while (progress.running) {
        yield* advance("150 millis")
        yield* Effect.yieldNow
      }
    })

    const observer = Effect.gen(function*() {
      while (progress.running) {
        const page = yield* ledger.balances({ tenant, subject })
        observe(page.balances, scenario, limits)
        yield* Effect.yieldNow
      }
    })

    yield* Effect.all(
      [
        Effect.forEach(Array.from({ length: workers }, (_, i) => i), worker, { concurrency: "unbounded" }).pipe(
          Effect.ensuring(Effect.sync(() => {
            progress.running = false
          }))
        ),
        clock,
        observer
      ],
      { concurrency: "unbounded", discard: true }
    )

    // ---------------------------------------------------------------------
    // The store's final state
    // ---------------------------------------------------------------------
    const final = identity(yield* ledger.balances({ tenant, subject }))
    observe(final.balances, scenario, limits)
    const finalOf = (scope: string) => final.balances.find((b) => b.scope === scope)!
    const reservations = new Map<string, Ledger.Reservation>()
    let cursor: string | undefined
    do {
      const page = yield* ledger.listReservations({ tenant, limit: 200, ...(cursor === undefined ? {} : { cursor }) })
      for (const r of page.reservations) reservations.set(r.reservationId, r)
      cursor = page.hasMore ? page.nextCursor : undefined
    } while (cursor !== undefined)

    // ---------------------------------------------------------------------
    // Replay of the recorded answers onto a fresh model
    // ---------------------------------------------------------------------
    const estimates = new Map<string, bigint>()
    const charged = new Map<string, bigint>()
    const released = new Set<string>()
    const events = new Map<string, bigint>()
    const allocated = new Map([[top, 2_000n], [app, 800n]])
    const repaid = new Map([[top, 0n], [app, 0n]])
    for (const record of records) {
      switch (record.op) {
        case "reserve":
          estimates.set(record.answer.reservationId!, record.answer.reserved!.amount)
          break
        case "commit": {
          const id = record.answer.reservationId
          const previous = charged.get(id)
          assert.isTrue(previous === undefined || previous === record.answer.charged.amount, `one charge for ${id}`)
          charged.set(id, record.answer.charged.amount)
          assert.isAtMost(Number(record.answer.charged.amount - record.actual), 0, "charged <= actual")
          break
        }
        case "release":
          released.add(record.answer.reservationId)
          break
        case "event":
          events.set(record.answer.eventId, record.answer.charged.amount)
          assert.isAtMost(Number(record.answer.charged.amount - record.actual), 0, "charged <= actual")
          break
        case "fund": {
          // the answer is the request applied to the balance it names as previous:
          // credit adds to allocated; repay-debt clears debt first, credits the rest;
          // spent and reserved are kept; over-limit only while debt > overdraft limit
          const { amount, answer, operation } = record
          const before = answer.previous
          const after = answer.balances[0]!
          const cleared = operation === "repay-debt" ? (amount < before.debt ? amount : before.debt) : 0n
          assert.strictEqual(answer.operation, operation)
          assert.deepStrictEqual(
            after,
            {
              ...before,
              allocated: before.allocated + amount - cleared,
              debt: before.debt - cleared,
              remaining: before.remaining + amount,
              isOverLimit: before.debt - cleared > before.overdraftLimit
            },
            `${operation} of ${amount} on ${before.scope}`
          )
          allocated.set(after.scope, allocated.get(after.scope)! + amount - cleared)
          repaid.set(after.scope, repaid.get(after.scope)! + cleared)
          break
        }
        default:
          break
      }
    }
    assert.strictEqual(reservations.size, estimates.size, "every reservation was answered, none twice")
    let stillReserved = 0n
    for (const [id, estimate] of estimates) {
      const reservation = reservations.get(id)
      assert.isDefined(reservation, `reservation ${id} is listed`)
      const status = reservation!.status
      if (charged.has(id)) {
        assert.strictEqual(status, "committed", id)
        assert.strictEqual(reservation!.committed?.amount, charged.get(id))
      } else if (released.has(id)) {
        assert.strictEqual(status, "released", id)
      } else {
        assert.include(["active", "expired"], status, id)
        if (status === "active") stillReserved += estimate
      }
    }
    const totalCharged = [...charged.values(), ...events.values()].reduce((a, b) => a + b, 0n)
    for (const scope of [top, app]) {
      const state = finalOf(scope)
      assert.strictEqual(state.allocated, allocated.get(scope), `${scope} allocated`)
      assert.strictEqual(state.reserved, stillReserved, `${scope} reserved`)
      assert.strictEqual(state.spent + state.debt + repaid.get(scope)!, totalCharged, `${scope} spent + debt`)
    }
    assert.strictEqual(finalOf(top).reserved, finalOf(app).reserved)

    // ---------------------------------------------------------------------
    // Under REJECT, the same answers replayed one by one on a fresh tenant
    // ---------------------------------------------------------------------
    if (scenario === "reject") {
      const fresh = freshTenant("preplay")
      const freshSubject = { tenant: fresh, app: "bot" }
      yield* ledger.createBudget({ tenant: fresh, scope: `tenant:${fresh}`, unit: "TOKENS", allocated: 2_000 })
      yield* ledger.createBudget({ tenant: fresh, scope: `tenant:${fresh}/app:bot`, unit: "TOKENS", allocated: 800 })
      for (const [id, estimate] of estimates) {
        if (reservations.get(id)!.status !== "active") continue
        yield* ledger.reserve({
          tenant: fresh,
          subject: freshSubject,
          action,
          estimate: { unit: "TOKENS", amount: estimate },
          overagePolicy: "REJECT",
          ttlMs: 86_400_000
        })
      }
      for (const amount of [...charged.values(), ...events.values()]) {
        yield* ledger.event({
          tenant: fresh,
          subject: freshSubject,
          action,
          actual: { unit: "TOKENS", amount },
          overagePolicy: "REJECT"
        })
      }
      const replayed = yield* ledger.balances({ tenant: fresh, subject: freshSubject })
      const strip = (b: Ledger.Balance) => ({ ...b, scope: b.scope.replace(fresh, tenant) })
      assert.deepStrictEqual(replayed.balances.map(strip), final.balances)
    }
    // the run did real work on a contended budget
    assert.isAtLeast(records.filter((r) => r.op === "reserve").length, workers / 2)
    assert.isAbove(records.filter((r) => r.op === "commit").length, 0)
    assert.isTrue(records.some((r) => r.op === "failure" && r.reason === "BudgetExceeded"), "the budget ran short")
  })

/** The property tests as vitest blocks: each scenario with each seed, on a fresh layer. */
export const suite = (name: string, layer: Layer.Layer<Ledger.Ledger, unknown>, options: Options = {}) =>
  describe(name, () => {
    for (const scenario of ["reject", "mixed"] as const) {
      for (const seed of options.seeds ?? [1, 2, 3]) {
        it.effect(`${scenario} policies, seed ${seed}: 64 concurrent workers agree with a replay of their answers`, () =>
          check(scenario, seed, options).pipe(
            Effect.provide(layer),
            Effect.provideService(Ledger.SweepInterval, Duration.seconds(1))
          ))
      }
    }
  })
