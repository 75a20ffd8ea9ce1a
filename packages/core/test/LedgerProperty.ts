/**
 * Property tests of the ledger, written once for every store (section 7 of
 * issue 4): 64 concurrent workers do seeded random reserve / commit / release
 * / extend / event (plus sweeps, operator funding and same-key retries)
 * against one small budget on two scopes, recording every answer, while time
 * passes: each step starts 0–600 ms of test time after the last, so
 * reservations (1–4 s, plus 0–1 s of grace) run out, are swept and are
 * refused as expired.
 *
 * The budget is shaped to reach its edges (see `shape`): the tenant's
 * allocation is a little above the app's, and funding moves one past the
 * other, so either scope can be the one that refuses; in the mixed run the
 * app's overdraft limit is small enough to be reached. Funding is what an
 * operator would do: under `REJECT`, a reserve refused for lack of budget is
 * now and then followed by a credit of the scope that ran short; in the mixed
 * run, a reserve refused because of what the scope owes (see `owed`) is now
 * and then followed by a repay-debt of it plus a top-up, and workers credit or
 * repay either scope at random: without it a worker holding nothing can only
 * reserve, so once a scope is over its limit or deep in debt, and the workers
 * holding a reservation have settled, the run only collects refusals. Then:
 *
 * - every balance observed (in every answer, and by an observer reading
 *   balances while the workers run) satisfies `remaining = allocated − spent
 *   − reserved − debt`, `spent + reserved ≤ allocated` and `debt ≤ overdraft
 *   limit`;
 * - every answer is what its policy allows, seen from the answer alone (see
 *   `overage`): a reserve leaves every scope able to hold it, a commit within
 *   its estimate charges `actual`, an overage is charged and capped as its
 *   policy says and marks over-limit the scopes that could not cover it, an
 *   extend moves `expiresAt` by `extendByMs`, a refusal has a reason its
 *   operation and policy can give, and an expiry comes only after `expiresAt
 *   + grace` (the clock is read around every call);
 * - a keyed request sent again (now and then at once, as after a lost answer,
 *   or at a later step) answers its first answer, unchanged;
 * - replaying the recorded answers, in the order they were recorded, onto a
 *   fresh model of the budget gives exactly the store's final state: each
 *   scope's allocated, reserved, spent and debt (what each overage left
 *   unfunded is known from its answer), its over-limit flag as far as the
 *   answers tell it, and every reservation's status, charge, expiry and
 *   extensions; each funding answer is its request applied to the balance it
 *   reports before; under `REJECT` the answers are also replayed sequentially
 *   on a fresh tenant of the same store, which must end in the same balances;
 * - the runs reached what they are shaped for (both scopes refused,
 *   reservations expired; in the mixed run, debt, the overdraft limit and
 *   capped charges): each run alone when `check` is called by itself, the
 *   runs of a scenario between them in `suite` (on Redis, calls interleave
 *   differently from run to run, so a seed does not fix which scope refuses
 *   first: one run in about ten of a seed missed the tenant's refusal).
 *
 * Run it with `LedgerProperty.suite(name, layer)`; time is the `TestClock`
 * of `it.effect` (moved by a clock fiber while the workers run, with
 * `options.advance`). The seeds are 1, 2 and 3, or those of `LEDGER_SEEDS`
 * (comma-separated integers) when set.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, type Layer, Result } from "effect"
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
  /**
   * Where a run records the edges it reached, by scenario, for the suite to
   * check across its runs; without it, `check` asserts that this run reached
   * every one.
   */
  readonly edges?: ReadonlyMap<Scenario, Map<string, boolean>>
}

/** The clock just before and just after a call: the store's `now` lies between. */
interface Window {
  readonly since: number
  readonly until: number
}

type Operation = "reserve" | "commit" | "release" | "extend" | "event" | "fund" | "sweep"

/** A refused call, with what its checks need of the request. */
interface Failure {
  readonly op: "failure"
  readonly name: Operation
  readonly reason: Ledger.LedgerErrorReason
  readonly at: Window
  /** The reservation settled or extended. */
  readonly reservationId?: string | undefined
  /** The estimate of a reserve, the actual of a commit or an event. */
  readonly amount?: bigint | undefined
  /** The overage policy of an event. */
  readonly policy?: Ledger.OveragePolicy | undefined
}

type Record =
  | {
    readonly op: "reserve"
    readonly answer: Ledger.ReserveAnswer
    readonly policy: Ledger.OveragePolicy
    readonly estimate: bigint
    readonly ttlMs: number
    readonly graceMs: number
    readonly at: Window
  }
  | { readonly op: "commit"; readonly answer: Ledger.CommitAnswer; readonly actual: bigint; readonly at: Window }
  | { readonly op: "release"; readonly answer: Ledger.ReleaseAnswer; readonly at: Window }
  | { readonly op: "extend"; readonly answer: Ledger.ExtendAnswer; readonly extendByMs: number; readonly at: Window }
  | {
    readonly op: "event"
    readonly answer: Ledger.EventAnswer
    readonly actual: bigint
    readonly policy: Ledger.OveragePolicy
  }
  | {
    readonly op: "fund"
    readonly answer: Ledger.FundAnswer
    readonly operation: "credit" | "repay-debt"
    readonly amount: bigint
  }
  | { readonly op: "sweep"; readonly answer: Ledger.SweepAnswer; readonly at: Window }
  | Failure

type Scenario = "reject" | "mixed"

const action: Ledger.Action = { kind: "llm.completion", name: "property" }

/**
 * The budget of a run: the tenant's allocation above the app's, so the app
 * runs short first and the tenant once the app was credited some 400 tokens
 * more (while the tenant has room, what the app cannot fund becomes its
 * debt); in the mixed run an overdraft limit on the app a third of an event's
 * largest `actual`, so charges reach it.
 */
const shape = (scenario: Scenario) => ({
  top: 1_200n,
  app: 800n,
  appOverdraftLimit: scenario === "mixed" ? 20n : 0n
})

const min = (a: bigint, b: bigint): bigint => a < b ? a : b
const max = (a: bigint, b: bigint): bigint => a > b ? a : b

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

/** Every balance an answer carries: the identity, nothing spent or held beyond the allocation, debt within its limit. */
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

/** A reservation as its answers tell it: its terms, and its expiry and extensions as last answered. */
interface Terms {
  readonly estimate: bigint
  readonly policy: Ledger.OveragePolicy
  readonly ttlMs: number
  readonly graceMs: number
  readonly reservedAtMs: number
  expiresAtMs: number
  extensions: number
}

/** What an overage did to one scope, as its answer tells it. */
interface Share {
  readonly scope: string
  /** What the scope could not fund: the debt it took on. */
  readonly deficit: bigint
  /** Whether the charge was capped short of what this scope could cover: it must now be over-limit. */
  readonly overLimit: boolean
}

/**
 * Checks an allowed overage against its policy from its answer alone, and
 * says what it did to each scope. `delta` is what was asked above the held
 * estimate (an event's whole `actual`), `charged` the part of it charged; the
 * balances are those after, so each scope's remaining before was its
 * remaining after plus `charged`. `ALLOW_IF_AVAILABLE` charges the smallest
 * of `delta` and every scope's remaining before (floor 0);
 * `ALLOW_WITH_OVERDRAFT` the smallest of `delta` and the remaining before of
 * every scope without an overdraft limit, what a scope with a limit cannot
 * fund (beyond its remaining, floor 0) becoming its debt. A capped charge
 * marks over-limit every capping scope whose remaining was below `delta`.
 */
const overage = (
  balances: ReadonlyArray<Ledger.Balance>,
  policy: "ALLOW_IF_AVAILABLE" | "ALLOW_WITH_OVERDRAFT",
  delta: bigint,
  charged: bigint,
  what: string
): ReadonlyArray<Share> => {
  const capping = (b: Ledger.Balance) => policy === "ALLOW_IF_AVAILABLE" || b.overdraftLimit === 0n
  const expected = balances.filter(capping).reduce((least, b) => min(least, max(b.remaining + charged, 0n)), delta)
  assert.strictEqual(charged, expected, `${what}: ${policy} charges ${delta} capped at the smallest remaining`)
  return balances.map((b) => {
    const left = b.remaining + charged
    const deficit = left >= charged ? 0n : charged - max(left, 0n)
    const overLimit = capping(b) && charged < delta && left < delta
    if (overLimit) assert.isTrue(b.isOverLimit, `${what}: a capped charge marks ${b.scope} over-limit`)
    assert.isTrue(b.debt >= deficit, `${what}: ${b.scope} owes at least what it could not fund (${deficit})`)
    return { scope: b.scope, deficit, overLimit }
  })
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
    const budget = shape(scenario)
    const limits = new Map([[top, 0n], [app, budget.appOverdraftLimit]])
    yield* ledger.createBudget({ tenant, scope: top, unit: "TOKENS", allocated: budget.top })
    yield* ledger.createBudget({
      tenant,
      scope: app,
      unit: "TOKENS",
      allocated: budget.app,
      overdraftLimit: budget.appOverdraftLimit
    })

    const records: Array<Record> = []
    const policies: ReadonlyArray<Ledger.OveragePolicy> = scenario === "reject"
      ? ["REJECT"]
      : ["REJECT", "ALLOW_IF_AVAILABLE", "ALLOW_WITH_OVERDRAFT"]
    // half the events may go into overdraft: what takes the app's debt to its limit
    const eventPolicies = scenario === "reject" ? policies : [...policies, "ALLOW_WITH_OVERDRAFT" as const]
    const progress = { running: true, retried: 0 }

    /** Runs one call with the clock read just before and just after it; a failure is recorded. */
    const attempt = <A>(
      call: Effect.Effect<A, Ledger.LedgerError>,
      failure: Omit<Failure, "op" | "reason" | "at">
    ) =>
      Effect.gen(function*() {
        const since = yield* Clock.currentTimeMillis
        const result = yield* Effect.result(call)
        const at: Window = { since, until: yield* Clock.currentTimeMillis }
        if (Result.isFailure(result)) records.push({ op: "failure", ...failure, reason: result.failure.reason, at })
        return { result, at }
      })

    const fund = (scope: string, operation: "credit" | "repay-debt", amount: bigint) =>
      Effect.gen(function*() {
        const request = { tenant, scope, unit: "TOKENS" as const, operation, amount }
        const { result } = yield* attempt(ledger.fundBudget(request), { name: "fund" })
        if (Result.isFailure(result)) return
        const answer = result.success
        observe([answer.previous, ...answer.balances], scenario, limits)
        records.push({ op: "fund", answer, operation, amount })
      })

    const worker = (index: number) =>
      Effect.gen(function*() {
        const random = prng(seed * 1_000 + index)
        const held: Array<{ readonly id: string; readonly estimate: bigint }> = []
        const replays: Array<Effect.Effect<void, Ledger.LedgerError>> = []
        /**
         * A keyed request that answered, sent again with the same key: now and
         * then at once (as after a lost answer), and at some later step. It
         * must answer its first answer, unchanged, and change nothing.
         */
        const retry = <A>(again: Effect.Effect<A, Ledger.LedgerError>, first: A, what: string) => {
          const replay = Effect.map(again, (answer) => {
            assert.deepStrictEqual(answer, first, `${what}: a same-key retry answers the first answer`)
            progress.retried++
          })
          replays.push(replay)
          return random.chance(0.2) ? replay : Effect.void
        }
        for (let step = 0; step < operations; step++) {
          // time passes between steps (test time): reservations run out, the sweeper wakes
          yield* Effect.sleep(Duration.millis(random.int(0, 600)))
          const roll = random.next()
          if (roll < 0.35 || held.length === 0) {
            const estimate = BigInt(random.int(0, 80))
            const policy = random.pick(policies)
            const key = random.chance(0.3) ? `w${index}-s${step}` : undefined
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
            const { at, result } = yield* attempt(ledger.reserve(request), { name: "reserve", amount: estimate })
            if (Result.isSuccess(result)) {
              const answer = result.success
              observe(answer.balances, scenario, limits)
              const { graceMs, ttlMs } = request
              records.push({ op: "reserve", answer, policy, estimate, ttlMs, graceMs, at })
              held.push({ id: answer.reservationId!, estimate })
              if (key !== undefined) yield* retry(ledger.reserve(request), answer, `reserve ${key}`)
            } else {
              // now and then the refused worker repays what the scope owes, plus a top-up; under
              // REJECT (nothing owed, no operator funding otherwise) it tops up the scope that ran
              // short, which moves the other one closer to being the one that refuses
              const reason = result.failure.reason
              const owing = scenario === "mixed" ? owed(reason) : undefined
              if (owing !== undefined && random.chance(0.05)) {
                yield* fund(owing.scope, "repay-debt", owing.debt + BigInt(random.int(1, 150)))
              } else if (scenario === "reject" && reason._tag === "BudgetExceeded" && random.chance(0.02)) {
                yield* fund(reason.scope, "credit", BigInt(random.int(1, 150)))
              }
            }
          } else if (roll < 0.6) {
            const { estimate, id } = held.splice(random.int(0, held.length - 1), 1)[0]!
            const actual = BigInt(random.int(0, Math.ceil(Number(estimate) * 1.4)))
            const key = random.chance(0.5) ? `w${index}-c${step}` : undefined
            const request = {
              tenant,
              reservationId: id,
              actual: { unit: "TOKENS" as const, amount: actual },
              ...(key === undefined ? {} : { idempotencyKey: key })
            }
            const { at, result } = yield* attempt(ledger.commit(request), {
              name: "commit",
              reservationId: id,
              amount: actual
            })
            if (Result.isSuccess(result)) {
              const answer = result.success
              observe(answer.balances, scenario, limits)
              records.push({ op: "commit", answer, actual, at })
              if (key !== undefined) yield* retry(ledger.commit(request), answer, `commit ${key}`)
            } else if (result.failure.reason._tag !== "ReservationExpired") {
              // a rejected overage keeps the reservation active: settle it later
              held.push({ id, estimate })
            }
          } else if (roll < 0.72) {
            const { id } = held.splice(random.int(0, held.length - 1), 1)[0]!
            const key = random.chance(0.5) ? `w${index}-l${step}` : undefined
            const request = { tenant, reservationId: id, ...(key === undefined ? {} : { idempotencyKey: key }) }
            const { at, result } = yield* attempt(ledger.release(request), { name: "release", reservationId: id })
            if (Result.isSuccess(result)) {
              const answer = result.success
              observe(answer.balances, scenario, limits)
              records.push({ op: "release", answer, at })
              if (key !== undefined) yield* retry(ledger.release(request), answer, `release ${key}`)
            }
          } else if (roll < 0.8) {
            const { id } = random.pick(held)
            const extendByMs = random.int(100, 2_000)
            const key = random.chance(0.5) ? `w${index}-x${step}` : undefined
            const request = {
              tenant,
              reservationId: id,
              extendByMs,
              ...(key === undefined ? {} : { idempotencyKey: key })
            }
            const { at, result } = yield* attempt(ledger.extend(request), { name: "extend", reservationId: id })
            if (Result.isSuccess(result)) {
              const answer = result.success
              observe(answer.balances, scenario, limits)
              records.push({ op: "extend", answer, extendByMs, at })
              if (key !== undefined) yield* retry(ledger.extend(request), answer, `extend ${key}`)
            }
          } else if (roll < 0.9) {
            const actual = BigInt(random.int(0, 60))
            const policy = random.pick(eventPolicies)
            const key = random.chance(0.3) ? `w${index}-v${step}` : undefined
            const request = {
              tenant,
              subject,
              action,
              actual: { unit: "TOKENS" as const, amount: actual },
              overagePolicy: policy,
              ...(key === undefined ? {} : { idempotencyKey: key })
            }
            const { result } = yield* attempt(ledger.event(request), { name: "event", amount: actual, policy })
            if (Result.isSuccess(result)) {
              const answer = result.success
              observe(answer.balances, scenario, limits)
              records.push({ op: "event", answer, actual, policy })
              if (key !== undefined) yield* retry(ledger.event(request), answer, `event ${key}`)
            }
          } else if (roll < 0.94) {
            const { at, result } = yield* attempt(ledger.sweep({ tenant }), { name: "sweep" })
            if (Result.isSuccess(result)) records.push({ op: "sweep", answer: result.success, at })
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
    const end = yield* Clock.currentTimeMillis
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
    // The answers one by one, replayed onto a fresh model
    // ---------------------------------------------------------------------
    /** Every reservation answered, as last answered. */
    const model = new Map<string, Terms>()
    const known = (id: string | undefined) => {
      const terms = id === undefined ? undefined : model.get(id)
      assert.isDefined(terms, `reservation ${id} was answered`)
      return terms!
    }
    const charged = new Map<string, bigint>()
    const released = new Set<string>()
    const events: Array<bigint> = []
    const allocated = new Map([[top, budget.top], [app, budget.app]])
    const repaid = new Map([[top, 0n], [app, 0n]])
    /** What charges could not fund, scope by scope: the debt they made. */
    const deficits = new Map([[top, 0n], [app, 0n]])
    /** The scopes a capped charge made over-limit, and those a funding answer left not over-limit. */
    const marked = new Set<string>()
    const cleared = new Set<string>()
    const swept: Array<{ readonly id: string; readonly until: number }> = []
    const charge = (shares: ReadonlyArray<Share>) => {
      for (const { deficit, overLimit, scope } of shares) {
        deficits.set(scope, deficits.get(scope)! + deficit)
        if (overLimit) marked.add(scope)
      }
    }
    for (const record of records) {
      switch (record.op) {
        case "reserve": {
          const { answer, at, estimate, graceMs, policy, ttlMs } = record
          const id = answer.reservationId!
          assert.isFalse(model.has(id), `one reserve answer for ${id}`)
          assert.strictEqual(answer.decision, "allow")
          assert.strictEqual(answer.reserved?.amount, estimate, `${id} holds its estimate`)
          const reservedAtMs = answer.expiresAtMs! - ttlMs
          assert.isTrue(at.since <= reservedAtMs && reservedAtMs <= at.until, `${id}: expiresAt = now + ttl`)
          for (const b of answer.balances) {
            // it passed the checks of every scope: nothing owed that blocks it, room for the estimate
            assert.isAtLeast(Number(b.remaining), 0, `reserve ${id} took ${b.scope} below zero`)
            assert.isFalse(b.isOverLimit, `reserve ${id} allowed on over-limit ${b.scope}`)
            assert.isFalse(b.debt > 0n && b.overdraftLimit === 0n, `reserve ${id} allowed on ${b.scope} in debt`)
          }
          const expiresAtMs = answer.expiresAtMs!
          model.set(id, { estimate, policy, graceMs, ttlMs, reservedAtMs, expiresAtMs, extensions: 0 })
          break
        }
        case "commit": {
          const { actual, answer, at } = record
          const id = answer.reservationId
          const terms = known(id)
          assert.isFalse(charged.has(id), `one commit answer for ${id}`)
          assert.isAtMost(at.since, terms.expiresAtMs + terms.graceMs, `${id} committed after expiresAt + grace`)
          const delta = actual - terms.estimate
          if (delta <= 0n) {
            assert.strictEqual(answer.charged.amount, actual, `commit ${id} within its estimate charges actual`)
            assert.strictEqual(answer.released.amount, -delta, `commit ${id} releases the rest of its estimate`)
          } else if (terms.policy === "REJECT") {
            assert.fail(`REJECT commit ${id} charged ${answer.charged.amount} above its estimate ${terms.estimate}`)
          } else {
            assert.strictEqual(answer.released.amount, 0n, `commit ${id} above its estimate releases nothing`)
            charge(
              overage(answer.balances, terms.policy, delta, answer.charged.amount - terms.estimate, `commit ${id}`)
            )
          }
          charged.set(id, answer.charged.amount)
          break
        }
        case "release": {
          const { answer, at } = record
          const id = answer.reservationId
          const terms = known(id)
          assert.isAtMost(at.since, terms.expiresAtMs + terms.graceMs, `${id} released after expiresAt + grace`)
          assert.strictEqual(answer.released.amount, terms.estimate, `release ${id} returns its estimate`)
          released.add(id)
          break
        }
        case "extend": {
          const { answer, at, extendByMs } = record
          const id = answer.reservationId
          const terms = known(id)
          assert.isAtMost(at.since, terms.expiresAtMs, `${id} extended after expiresAt`)
          assert.strictEqual(answer.expiresAtMs, terms.expiresAtMs + extendByMs, `${id}: extend moves expiresAt`)
          assert.strictEqual(answer.extensions, terms.extensions + 1, `${id}: extend counts one more extension`)
          terms.expiresAtMs = answer.expiresAtMs
          terms.extensions = answer.extensions
          break
        }
        case "event": {
          const { actual, answer, policy } = record
          const id = answer.eventId
          if (policy === "REJECT") {
            assert.strictEqual(answer.charged.amount, actual, `REJECT event ${id} charges actual`)
            for (const b of answer.balances) {
              assert.isAtLeast(Number(b.remaining), 0, `REJECT event ${id} took ${b.scope} below zero`)
            }
          } else {
            charge(overage(answer.balances, policy, actual, answer.charged.amount, `event ${id}`))
          }
          events.push(answer.charged.amount)
          break
        }
        case "fund": {
          // the answer is the request applied to the balance it names as previous:
          // credit adds to allocated; repay-debt clears debt first, credits the rest;
          // spent and reserved are kept; over-limit only while debt > overdraft limit
          const { amount, answer, operation } = record
          const before = answer.previous
          const after = answer.balances[0]!
          const paid = operation === "repay-debt" ? min(amount, before.debt) : 0n
          assert.strictEqual(answer.operation, operation)
          assert.deepStrictEqual(
            after,
            {
              ...before,
              allocated: before.allocated + amount - paid,
              debt: before.debt - paid,
              remaining: before.remaining + amount,
              isOverLimit: before.debt - paid > before.overdraftLimit
            },
            `${operation} of ${amount} on ${before.scope}`
          )
          allocated.set(after.scope, allocated.get(after.scope)! + amount - paid)
          repaid.set(after.scope, repaid.get(after.scope)! + paid)
          if (!after.isOverLimit) cleared.add(after.scope)
          break
        }
        case "sweep":
          for (const id of record.answer.expired) swept.push({ id, until: record.at.until })
          break
        case "failure":
          refusal(record, scenario, record.reservationId === undefined ? undefined : known(record.reservationId))
          break
      }
    }

    // every reservation as the answers left it
    assert.strictEqual(reservations.size, model.size, "every reservation was answered, none twice")
    let stillReserved = 0n
    for (const [id, terms] of model) {
      const reservation = reservations.get(id)
      assert.isDefined(reservation, `reservation ${id} is listed`)
      const r = reservation!
      assert.strictEqual(r.reserved.amount, terms.estimate, `${id} estimate`)
      assert.strictEqual(r.overagePolicy, terms.policy, `${id} policy`)
      assert.strictEqual(r.graceMs, terms.graceMs, `${id} grace`)
      assert.strictEqual(r.createdAtMs, terms.reservedAtMs, `${id} created at`)
      assert.strictEqual(r.expiresAtMs, terms.expiresAtMs, `${id}: expiresAt as last answered`)
      assert.strictEqual(r.extensions, terms.extensions, `${id}: extensions as last answered`)
      if (charged.has(id)) {
        assert.strictEqual(r.status, "committed", id)
        assert.strictEqual(r.committed?.amount, charged.get(id))
      } else if (released.has(id)) {
        assert.strictEqual(r.status, "released", id)
      } else {
        assert.include(["active", "expired"], r.status, id)
        if (r.status === "active") stillReserved += terms.estimate
      }
      const deadline = r.expiresAtMs + r.graceMs
      if (r.status === "expired") {
        assert.isAbove(end, deadline, `${id} expired before expiresAt + grace`)
        if (r.finalizedAtMs !== undefined) {
          assert.isAbove(r.finalizedAtMs, deadline, `${id} expired at ${r.finalizedAtMs}, before expiresAt + grace`)
        }
      } else if (r.status !== "active" && r.finalizedAtMs !== undefined) {
        assert.isAtMost(r.finalizedAtMs, deadline, `${id} ${r.status} after expiresAt + grace`)
      }
    }
    for (const { id, until } of swept) {
      const r = reservations.get(id)
      assert.strictEqual(r?.status, "expired", `${id} swept`)
      assert.isAbove(until, r!.expiresAtMs + r!.graceMs, `${id} swept before expiresAt + grace`)
    }

    // every scope as the answers left it: what the charges funded is spent, what they could not is debt
    const totalCharged = [...charged.values(), ...events].reduce((a, b) => a + b, 0n)
    for (const scope of [top, app]) {
      const state = finalOf(scope)
      assert.strictEqual(state.allocated, allocated.get(scope), `${scope} allocated`)
      assert.strictEqual(state.reserved, stillReserved, `${scope} reserved`)
      assert.strictEqual(state.debt, deficits.get(scope)! - repaid.get(scope)!, `${scope} debt`)
      assert.strictEqual(state.spent, totalCharged - deficits.get(scope)!, `${scope} spent`)
      // the flag is set by capped charges and reconciled by funding: an answer must account for the final one
      if (state.isOverLimit) assert.isTrue(marked.has(scope), `${scope} over-limit, but no capped charge made it so`)
      else if (marked.has(scope)) assert.isTrue(cleared.has(scope), `${scope} over-limit, cleared without funding`)
    }
    assert.strictEqual(finalOf(top).reserved, finalOf(app).reserved)

    // ---------------------------------------------------------------------
    // Under REJECT, the same answers replayed one by one on a fresh tenant
    // ---------------------------------------------------------------------
    if (scenario === "reject") {
      const fresh = freshTenant("preplay")
      const freshSubject = { tenant: fresh, app: "bot" }
      // allocated as the run's budgets ended (credits included): every charge fits, as the run ended within them
      for (const scope of [top, app]) {
        const freshScope = scope.replace(tenant, fresh)
        yield* ledger.createBudget({
          tenant: fresh,
          scope: freshScope,
          unit: "TOKENS",
          allocated: allocated.get(scope)!
        })
      }
      for (const [id, terms] of model) {
        if (reservations.get(id)!.status !== "active") continue
        yield* ledger.reserve({
          tenant: fresh,
          subject: freshSubject,
          action,
          estimate: { unit: "TOKENS", amount: terms.estimate },
          overagePolicy: "REJECT",
          ttlMs: 86_400_000
        })
      }
      for (const amount of [...charged.values(), ...events]) {
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

    // ---------------------------------------------------------------------
    // The run did real work on a contended budget, and reached its edges
    // ---------------------------------------------------------------------
    const refusals = records.filter((r): r is Failure => r.op === "failure")
    const refusedBy = (scope: string) =>
      refusals.some((r) => r.name === "reserve" && r.reason._tag === "BudgetExceeded" && r.reason.scope === scope)
    assert.isAtLeast(model.size, workers / 2)
    assert.isAbove(charged.size, 0)
    // Which edges this run reached. On a store whose calls interleave differently from run to
    // run (Redis), a seed does not fix which scope refuses first: the suite checks that its runs
    // of a scenario reached every edge between them (`edgesOf`), not each run alone.
    const reached: { [edge: string]: boolean } = {
      "the app's budget ran short": refusedBy(app),
      "the tenant's budget ran short": refusedBy(top),
      "reservations were extended": records.some((r) => r.op === "extend"),
      "a reservation was refused as expired": refusals.some((r) => r.reason._tag === "ReservationExpired"),
      "reservations were swept": [...reservations.values()].some((r) => r.status === "expired"),
      "keyed requests were retried": progress.retried > 0
    }
    if (scenario === "mixed") {
      reached["a charge was refused at the overdraft limit"] = refusals.some((r) =>
        r.name !== "reserve" && r.reason._tag === "OverdraftLimitExceeded"
      )
      reached["charges went into debt"] = deficits.get(app)! > 0n
      reached["capped charges made both scopes over-limit"] = marked.has(app) && marked.has(top)
    }
    const edges = options.edges?.get(scenario)
    if (edges === undefined) {
      for (const [edge, yes] of Object.entries(reached)) assert.isTrue(yes, edge)
    } else {
      for (const [edge, yes] of Object.entries(reached)) edges.set(edge, (edges.get(edge) ?? false) || yes)
    }
  })

/**
 * Checks a refusal: a reason its operation (and policy) can give, with the
 * figures that justify it. `terms` are those of the reservation a settle or
 * an extend named, as answered so far.
 */
const refusal = (
  failure: Failure,
  scenario: Scenario,
  terms: Terms | undefined
) => {
  const { amount, at, name, reason } = failure
  const what = `${name} ${failure.reservationId ?? ""} refused with ${reason._tag}`
  const policy = name === "commit" ? terms?.policy : failure.policy
  switch (reason._tag) {
    case "ReservationExpired": {
      assert.include(["commit", "release", "extend"], name, what)
      assert.strictEqual(reason.reservationId, failure.reservationId, what)
      assert.strictEqual(reason.expiresAtMs, terms!.expiresAtMs, `${what}: expiresAt as last answered`)
      assert.strictEqual(reason.graceMs, name === "extend" ? 0 : terms!.graceMs, `${what}: grace`)
      assert.isTrue(at.since <= reason.nowMs && reason.nowMs <= at.until, `${what}: now is the call's`)
      // past its deadline at the call's now, or swept before: by a sweep whose now was past expiresAt + grace,
      // so before the call answered (its now can be later than the call's: a call's now is read as it is made,
      // and on a store with real I/O a call made later may run first)
      const deadline = terms!.expiresAtMs + terms!.graceMs
      assert.isTrue(
        reason.nowMs > reason.expiresAtMs + reason.graceMs || at.until > deadline,
        `${what} at ${reason.nowMs}: expired only after expiresAt + grace (${deadline})`
      )
      break
    }
    case "MaxExtensionsExceeded":
      assert.strictEqual(name, "extend", what)
      assert.strictEqual(reason.extensions, 10, what)
      assert.strictEqual(terms!.extensions, 10, what)
      break
    case "BudgetExceeded":
      if (name === "commit") {
        // only REJECT refuses an overage
        assert.strictEqual(policy, "REJECT", what)
        assert.isTrue(amount! > terms!.estimate, `${what}: within its estimate`)
        assert.strictEqual(reason.remaining, terms!.estimate, what)
      } else {
        assert.isTrue(name === "reserve" || (name === "event" && policy === "REJECT"), what)
        assert.isTrue(reason.remaining < reason.requested, `${what}: remaining ${reason.remaining} was enough`)
      }
      assert.strictEqual(reason.requested, amount, what)
      break
    case "OverdraftLimitExceeded":
      assert.strictEqual(scenario, "mixed", what)
      if (name === "reserve") {
        // a reserve is refused on an over-limit scope
        assert.strictEqual(reason.shortfall, 0n, what)
      } else {
        // a charge is refused when its debt would pass the limit
        assert.isTrue(name === "commit" || name === "event", what)
        assert.strictEqual(policy, "ALLOW_WITH_OVERDRAFT", what)
        assert.isTrue(reason.overdraftLimit > 0n && reason.shortfall > 0n, what)
        assert.isTrue(reason.debt + reason.shortfall > reason.overdraftLimit, `${what}: within the limit`)
      }
      break
    default:
      assert.fail(what)
  }
}

/** The seeds of the suite: those of `LEDGER_SEEDS` (comma-separated integers) when set, else 1, 2 and 3. */
const seedsOf = (text = process.env.LEDGER_SEEDS ?? ""): ReadonlyArray<number> => {
  if (text.trim() === "") return [1, 2, 3]
  const seeds = text.split(",").map((part) => Number(part.trim()))
  if (seeds.some((seed) => !Number.isSafeInteger(seed))) throw new Error(`LEDGER_SEEDS: not integers: ${text}`)
  return seeds
}

/** The property tests as vitest blocks: each scenario with each seed, on a fresh layer. */
export const suite = (name: string, layer: Layer.Layer<Ledger.Ledger, unknown>, options: Options = {}) =>
  describe(name, () => {
    for (const scenario of ["reject", "mixed"] as const) {
      const seeds = options.seeds ?? seedsOf()
      // the edges reached by this scenario's runs so far (each run adds its own)
      const edges = new Map<string, boolean>()
      const runs = { count: 0 }
      for (const seed of seeds) {
        it.effect(`${scenario} policies, seed ${seed}: 64 concurrent workers agree with a replay of their answers`, () =>
          check(scenario, seed, { ...options, edges: new Map([[scenario, edges]]) }).pipe(
            Effect.tap(() => Effect.sync(() => runs.count++)),
            Effect.provide(layer),
            Effect.provideService(Ledger.SweepInterval, Duration.seconds(1))
          ))
      }
      it(`${scenario} policies: the runs reached every edge the budget is shaped for, between them`, () => {
        assert.strictEqual(runs.count, seeds.length, "every run of the scenario passed (run the whole suite)")
        for (const [edge, yes] of edges) assert.isTrue(yes, `${edge}, in none of seeds ${seeds.join(", ")}`)
        assert.isAtLeast(edges.size, scenario === "mixed" ? 9 : 6)
      })
    }
  })
