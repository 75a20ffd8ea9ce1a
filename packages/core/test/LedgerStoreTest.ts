/**
 * The ledger conformance suite, written once and run unchanged against every
 * store: `LedgerStoreTest.suite("memory", Ledger.layerMemory)` here, the Redis
 * store in `@timebox/redis` through the `timebox-test/*` alias
 * (`import * as LedgerStoreTest from "timebox-test/LedgerStoreTest"`).
 *
 * Every test names its own tenants (unique per run), so a shared backend
 * (one Redis) is fine; the layer is built afresh for each test. Time is the
 * `TestClock` of `it.effect`: the ledger reads `now` from `Clock` and hands it
 * to the store, so expiry is deterministic on every backend. The background
 * sweeper is switched off (`SweepInterval = infinity`) except in the test of
 * the sweeper itself.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, type Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Ledger } from "../src/index.ts"

/** How the suite moves time: by default `TestClock.adjust`. */
export interface Options {
  readonly advance?: (duration: Duration.Input) => Effect.Effect<void>
}

type Answer = { readonly balances: ReadonlyArray<Ledger.Balance> }

const run = Math.random().toString(36).slice(2, 8)
let tenants = 0

/** A tenant name no other test (or run) uses. */
export const freshTenant = (label = "t"): string => `${label}-${run}-${++tenants}`

const action: Ledger.Action = { kind: "llm.completion", name: "test-model" }

/** Asserts the balance identity on every balance of an answer, and returns the answer. */
export const identity = <A extends Answer>(answer: A): A => {
  for (const b of answer.balances) {
    assert.strictEqual(b.remaining, b.allocated - b.spent - b.reserved - b.debt, `identity of ${b.scope}`)
  }
  return answer
}

/** The reason of a failed ledger call, checking the method it names. */
export const reasonOf = <A, R>(
  effect: Effect.Effect<A, Ledger.LedgerError, R>,
  method?: string
): Effect.Effect<Ledger.LedgerErrorReason, A, R> =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(effect)
    assert.strictEqual(error._tag, "LedgerError")
    if (method !== undefined) assert.strictEqual(error.method, method)
    return error.reason
  })

const pick = (balances: ReadonlyArray<Ledger.Balance>, scope: string, unit?: Ledger.Unit) => {
  const found = balances.find((b) => b.scope === scope && (unit === undefined || b.unit === unit))
  assert.isDefined(found, `balance of ${scope}`)
  return found!
}

const numbers = (b: Ledger.Balance) => ({
  allocated: b.allocated,
  spent: b.spent,
  reserved: b.reserved,
  debt: b.debt,
  remaining: b.remaining,
  isOverLimit: b.isOverLimit
})

/**
 * Runs the conformance suite against `layer`, which must provide a `Ledger`
 * over a fresh or shared store.
 */
export const suite = (name: string, layer: Layer.Layer<Ledger.Ledger, unknown>, options: Options = {}) => {
  const advance = options.advance ?? TestClock.adjust

  const test = (title: string, body: () => Effect.Effect<void, unknown, Ledger.Ledger>) =>
    it.effect(title, () =>
      body().pipe(
        Effect.provide(layer),
        Effect.provideService(Ledger.SweepInterval, Duration.infinity)
      ))

  /** Balances of the subject's derived scopes, as a map scope → numbers. */
  const balancesOf = (tenant: string, subject: Ledger.Subject, unit: Ledger.Unit = "TOKENS") =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const answer = identity(yield* ledger.balances({ tenant, subject, unit }))
      return Object.fromEntries(answer.balances.map((b) => [b.scope, numbers(b)]))
    })

  const budget = (
    tenant: string,
    scope: string,
    allocated: bigint | number | string,
    settings: { readonly unit?: Ledger.Unit; readonly overdraftLimit?: bigint | number } = {}
  ) =>
    Effect.flatMap(Ledger.Ledger, (ledger) =>
      ledger.createBudget({
        tenant,
        scope,
        unit: settings.unit ?? "TOKENS",
        allocated,
        ...(settings.overdraftLimit === undefined ? {} : { overdraftLimit: settings.overdraftLimit })
      }))

  const reserve = (
    tenant: string,
    subject: Ledger.Subject,
    amount: bigint | number | string,
    extra: Partial<typeof Ledger.ReserveRequest.Encoded> = {}
  ) =>
    Effect.flatMap(
      Ledger.Ledger,
      (ledger) =>
        ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount }, ...extra }).pipe(
          Effect.map(identity)
        )
    )

  const commit = (
    tenant: string,
    reservationId: string | undefined,
    amount: bigint | number | string,
    extra: Partial<typeof Ledger.CommitRequest.Encoded> = {}
  ) =>
    Effect.flatMap(
      Ledger.Ledger,
      (ledger) =>
        ledger.commit({ tenant, reservationId: reservationId ?? "", actual: { unit: "TOKENS", amount }, ...extra })
          .pipe(
            Effect.map(identity)
          )
    )

  const release = (tenant: string, reservationId: string | undefined, idempotencyKey?: string) =>
    Effect.flatMap(Ledger.Ledger, (ledger) =>
      ledger.release({
        tenant,
        reservationId: reservationId ?? "",
        ...(idempotencyKey === undefined ? {} : { idempotencyKey })
      }).pipe(Effect.map(identity)))

  const event = (
    tenant: string,
    subject: Ledger.Subject,
    amount: bigint | number,
    overagePolicy?: Ledger.OveragePolicy,
    idempotencyKey?: string
  ) =>
    Effect.flatMap(Ledger.Ledger, (ledger) =>
      ledger.event({
        tenant,
        subject,
        action,
        actual: { unit: "TOKENS", amount },
        ...(overagePolicy === undefined ? {} : { overagePolicy }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey })
      }).pipe(Effect.map(identity)))

  /** A tenant with a 1,000-token budget at `tenant:T` and 500 at `tenant:T/app:support`. */
  const twoLevels = (tenantBudget = 1_000, appBudget = 500, appLimit = 0, tenantLimit = 0) =>
    Effect.gen(function*() {
      const tenant = freshTenant()
      yield* budget(tenant, `tenant:${tenant}`, tenantBudget, { overdraftLimit: tenantLimit })
      yield* budget(tenant, `tenant:${tenant}/app:support`, appBudget, { overdraftLimit: appLimit })
      return {
        tenant,
        subject: { tenant, app: "support" } as Ledger.Subject,
        top: `tenant:${tenant}`,
        app: `tenant:${tenant}/app:support`
      }
    })

  describe(name, () => {
    describe("amounts and validation", () => {
      test("bad input is an InvalidRequest naming the field and the value", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          const subject = { tenant }
          const bad = (input: unknown, method: keyof Ledger.Service) =>
            reasonOf((ledger[method] as (input: unknown) => Effect.Effect<unknown, Ledger.LedgerError>)(input))
          const cases: Array<[keyof Ledger.Service, unknown, string, string]> = [
            ["reserve", { tenant, subject, action, estimate: { unit: "TOKENS", amount: -1 } }, "estimate.amount", "-1"],
            [
              "reserve",
              { tenant, subject, action, estimate: { unit: "EUROS", amount: 1 } },
              "estimate.unit",
              "\"EUROS\""
            ],
            ["reserve", { tenant: "", subject, action, estimate: { unit: "TOKENS", amount: 1 } }, "tenant", "\"\""],
            ["reserve", { tenant, subject, action, estimate: { unit: "TOKENS", amount: 1 }, ttlMs: 0 }, "ttlMs", "0"],
            ["reserve", { tenant, subject, action, estimate: { unit: "TOKENS", amount: 1 }, ttlMs: -5 }, "ttlMs", "-5"],
            [
              "reserve",
              { tenant, subject, action, estimate: { unit: "TOKENS", amount: 1 }, graceMs: 60_001 },
              "graceMs",
              "60001"
            ],
            [
              "reserve",
              { tenant, subject, action, estimate: { unit: "TOKENS", amount: 1.5 } },
              "estimate.amount",
              "1.5"
            ],
            [
              "reserve",
              { tenant, subject, action, estimate: { unit: "TOKENS", amount: 2 ** 60 } },
              "estimate.amount",
              String(2 ** 60)
            ],
            [
              "reserve",
              { tenant, subject, action, estimate: { unit: "TOKENS", amount: "9223372036854775808" } },
              "estimate.amount",
              "\"9223372036854775808\""
            ],
            ["reserve", { tenant, subject: {}, action, estimate: { unit: "TOKENS", amount: 1 } }, "subject", "{}"],
            [
              "reserve",
              { tenant, subject: { tenant, app: "a b" }, action, estimate: { unit: "TOKENS", amount: 1 } },
              "subject.app",
              "\"a b\""
            ],
            [
              "reserve",
              { tenant, subject, action, estimate: { unit: "TOKENS", amount: 1 }, overagePolicy: "SOMETIMES" },
              "overagePolicy",
              "\"SOMETIMES\""
            ],
            ["extend", { tenant, reservationId: "r", extendByMs: 0 }, "extendByMs", "0"],
            ["listReservations", { tenant, limit: 201 }, "limit", "201"],
            ["listReservations", { tenant, limit: 0 }, "limit", "0"],
            ["balances", { tenant, subject, limit: 500 }, "limit", "500"],
            [
              "createBudget",
              { tenant, scope: "tenant:x/nope:y", unit: "TOKENS", allocated: 1 },
              "scope",
              "\"tenant:x/nope:y\""
            ],
            [
              "createBudget",
              { tenant, scope: "app:a/tenant:b", unit: "TOKENS", allocated: 1 },
              "scope",
              "\"app:a/tenant:b\""
            ],
            [
              "fundBudget",
              { tenant, scope: subject, unit: "TOKENS", operation: "gift", amount: 1 },
              "operation",
              "\"gift\""
            ],
            ["commit", { tenant, reservationId: "", actual: { unit: "TOKENS", amount: 1 } }, "reservationId", "\"\""]
          ]
          for (const [method, input, field, value] of cases) {
            const reason = yield* bad(input, method)
            assert.strictEqual(reason._tag, "InvalidRequest", `${method} ${field}`)
            const invalid = reason as Ledger.InvalidRequest
            assert.strictEqual(invalid.field, field, `${method} ${field}`)
            assert.strictEqual(invalid.value, value, `${method} ${field}`)
            assert.isFalse(invalid.isRetryable)
          }
          const error = yield* Effect.flip(
            ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount: -1 } })
          )
          assert.strictEqual(error.method, "Ledger.reserve")
          assert.match(error.message, /^Ledger\.reserve: invalid estimate\.amount \(-1\): /)
        }))

      test("amounts are exact integers up to 2^63-1, from numbers, decimal strings and bigints", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          const top = `tenant:${tenant}`
          const created = yield* budget(tenant, top, "9223372036854775807")
          assert.strictEqual(created.balances[0]!.allocated, Ledger.maxAmount)
          const held = yield* reserve(tenant, { tenant }, "4611686018427387905")
          assert.strictEqual(held.reserved?.amount, 4_611_686_018_427_387_905n)
          assert.strictEqual(pick(held.balances, top).remaining, 4_611_686_018_427_387_902n)
          const done = yield* commit(tenant, held.reservationId, 4_611_686_018_427_387_904n)
          assert.strictEqual(done.charged.amount, 4_611_686_018_427_387_904n)
          assert.strictEqual(done.released.amount, 1n)
          assert.strictEqual(pick(done.balances, top).spent, 4_611_686_018_427_387_904n)
          assert.strictEqual(pick(done.balances, top).remaining, 4_611_686_018_427_387_903n)
          const small = yield* reserve(tenant, { tenant }, 5)
          assert.strictEqual(small.reserved?.amount, 5n)
          const encoded = Schema.encodeSync(Ledger.CommitAnswer)(done)
          assert.strictEqual(encoded.charged.amount, "4611686018427387904")
          const overflow = yield* reasonOf(ledger.fundBudget({
            tenant,
            scope: top,
            unit: "TOKENS",
            operation: "credit",
            amount: 1
          }))
          assert.strictEqual(overflow._tag, "InvalidRequest")
          assert.strictEqual((overflow as Ledger.InvalidRequest).field, "amount")
        }))
    })

    describe("scopes", () => {
      test("the derived scopes are the cumulative paths of the levels named; absent levels are skipped", () =>
        Effect.gen(function*() {
          const tenant = freshTenant()
          yield* budget(tenant, `tenant:${tenant}`, 1_000)
          yield* budget(tenant, `tenant:${tenant}/agent:bot`, 100)
          yield* budget(tenant, `tenant:${tenant}/workspace:prod/agent:bot`, 100)
          const held = yield* reserve(tenant, { tenant, agent: "bot", toolset: "search" }, 10)
          assert.deepStrictEqual(held.affectedScopes, [
            `tenant:${tenant}`,
            `tenant:${tenant}/agent:bot`,
            `tenant:${tenant}/agent:bot/toolset:search`
          ])
          assert.strictEqual(held.scopePath, `tenant:${tenant}/agent:bot/toolset:search`)
          assert.deepStrictEqual(held.balances.map((b) => b.scope), [`tenant:${tenant}`, `tenant:${tenant}/agent:bot`])
          const full = yield* reserve(tenant, { tenant, workspace: "prod", app: "a", workflow: "w", agent: "bot" }, 1)
          assert.deepStrictEqual(full.affectedScopes, [
            `tenant:${tenant}`,
            `tenant:${tenant}/workspace:prod`,
            `tenant:${tenant}/workspace:prod/app:a`,
            `tenant:${tenant}/workspace:prod/app:a/workflow:w`,
            `tenant:${tenant}/workspace:prod/app:a/workflow:w/agent:bot`
          ])
          assert.deepStrictEqual(full.balances.map((b) => b.scope), [`tenant:${tenant}`])
          assert.deepStrictEqual(Ledger.scopes({ tenant: "a", agent: "b" }), ["tenant:a", "tenant:a/agent:b"])
        }))

      test("an operation touches every derived scope with a budget in its unit, and nothing else", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels()
          yield* budget(tenant, `tenant:${tenant}/app:other`, 300)
          yield* budget(tenant, top, 50, { unit: "CREDITS" })
          const held = yield* reserve(tenant, subject, 200)
          assert.deepStrictEqual(held.balances.map((b) => [b.scope, b.reserved]), [[top, 200n], [app, 200n]])
          const all = yield* Effect.flatMap(
            Ledger.Ledger,
            (l) => l.balances({ tenant, subject: { tenant }, includeChildren: true })
          )
          assert.strictEqual(pick(all.balances, `tenant:${tenant}/app:other`).reserved, 0n)
          assert.strictEqual(pick(all.balances, top, "CREDITS").reserved, 0n)
        }))

      test("a subject without a tenant derives scopes from its first level, inside the caller's tenant", () =>
        Effect.gen(function*() {
          const first = freshTenant()
          const second = freshTenant()
          yield* budget(first, "app:support", 100)
          yield* budget(second, "app:support", 999)
          const held = yield* reserve(first, { app: "support" }, 60)
          assert.deepStrictEqual(held.affectedScopes, ["app:support"])
          assert.strictEqual(pick(held.balances, "app:support").remaining, 40n)
          const other = yield* balancesOf(second, { app: "support" })
          assert.strictEqual(other["app:support"]!.remaining, 999n)
        }))

      test("no budget in any unit is not-found; a budget only in another unit is unit-mismatch", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          const subject = { tenant, app: "support" }
          const missing = yield* reasonOf(reserve(tenant, subject, 5), "Ledger.reserve")
          assert.strictEqual(missing._tag, "NotFound")
          assert.strictEqual((missing as Ledger.NotFound).resource, "budget")
          assert.strictEqual(missing.message, `no TOKENS budget at tenant:${tenant}/app:support`)
          assert.strictEqual((yield* reasonOf(event(tenant, subject, 5)))._tag, "NotFound")
          yield* budget(tenant, `tenant:${tenant}/app:support`, 100, { unit: "CREDITS" })
          const mismatch = yield* reasonOf(reserve(tenant, subject, 5))
          assert.strictEqual(mismatch._tag, "UnitMismatch")
          assert.deepStrictEqual((mismatch as Ledger.UnitMismatch).expected, ["CREDITS"])
          assert.strictEqual((mismatch as Ledger.UnitMismatch).requested, "TOKENS")
          assert.strictEqual((mismatch as Ledger.UnitMismatch).scope, `tenant:${tenant}/app:support`)
          assert.strictEqual((yield* reasonOf(event(tenant, subject, 5)))._tag, "UnitMismatch")
          const decided = yield* reasonOf(
            ledger.decide({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 5 } }),
            "Ledger.decide"
          )
          assert.strictEqual(decided._tag, "UnitMismatch")
          const dry = yield* reasonOf(reserve(tenant, subject, 5, { dryRun: true }))
          assert.strictEqual(dry._tag, "UnitMismatch")
        }))
    })

    describe("reserve", () => {
      test("holds the estimate on every budgeted scope until now + ttl", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels()
          yield* advance("5 seconds")
          const held = yield* reserve(tenant, subject, 200, { ttlMs: 30_000 })
          assert.strictEqual(held.decision, "allow")
          assert.isString(held.reservationId)
          assert.deepStrictEqual(held.reserved, { unit: "TOKENS", amount: 200n })
          assert.strictEqual(held.expiresAtMs, 35_000)
          assert.deepStrictEqual(numbers(pick(held.balances, top)), {
            allocated: 1_000n,
            spent: 0n,
            reserved: 200n,
            debt: 0n,
            remaining: 800n,
            isOverLimit: false
          })
          assert.strictEqual(pick(held.balances, app).remaining, 300n)
          const reservation = yield* Effect.flatMap(Ledger.Ledger, (l) =>
            l.getReservation({ tenant, reservationId: held.reservationId! }))
          assert.strictEqual(reservation.status, "active")
          assert.strictEqual(reservation.createdAtMs, 5_000)
          assert.strictEqual(reservation.expiresAtMs, 35_000)
          assert.strictEqual(reservation.graceMs, 5_000)
          assert.strictEqual(reservation.overagePolicy, "ALLOW_IF_AVAILABLE")
        }))

      test("budget-exceeded names the scope and the numbers, and changes nothing on any scope", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels(5_000, 1_500)
          yield* reserve(tenant, subject, 1_200)
          const before = yield* balancesOf(tenant, subject)
          const reason = yield* reasonOf(reserve(tenant, subject, 1_200), "Ledger.reserve")
          assert.strictEqual(reason._tag, "BudgetExceeded")
          assert.strictEqual(reason.message, `${app}: requested 1200, 300 remaining`)
          const exceeded = reason as Ledger.BudgetExceeded
          assert.strictEqual(exceeded.scope, app)
          assert.strictEqual(exceeded.requested, 1_200n)
          assert.strictEqual(exceeded.remaining, 300n)
          assert.isFalse(exceeded.isRetryable)
          const error = yield* Effect.flip(reserve(tenant, subject, 1_200))
          assert.strictEqual(error.message, `Ledger.reserve: ${app}: requested 1200, 300 remaining`)
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
          assert.strictEqual(before[top]!.reserved, 1_200n)
        }))

      test("the estimate may use up exactly what is left, and zero is allowed", () =>
        Effect.gen(function*() {
          const { app, subject, tenant } = yield* twoLevels()
          const all = yield* reserve(tenant, subject, 500)
          assert.strictEqual(pick(all.balances, app).remaining, 0n)
          const zero = yield* reserve(tenant, subject, 0)
          assert.strictEqual(zero.decision, "allow")
          assert.strictEqual((yield* reasonOf(reserve(tenant, subject, 1)))._tag, "BudgetExceeded")
        }))

      test("checks run scope by scope from the tenant down; the first failing check wins", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant, top } = yield* twoLevels(1_000, 10)
          yield* ledger.freezeBudget({ tenant, scope: top, unit: "TOKENS" })
          const frozen = yield* reasonOf(reserve(tenant, subject, 100))
          assert.strictEqual(frozen._tag, "BudgetFrozen")
          assert.strictEqual((frozen as Ledger.BudgetFrozen).scope, top)
          assert.strictEqual(frozen.message, `${top}: the TOKENS budget is frozen`)
          yield* ledger.unfreezeBudget({ tenant, scope: top, unit: "TOKENS" })
          yield* ledger.closeBudget({ tenant, scope: app, unit: "TOKENS" })
          const closed = yield* reasonOf(reserve(tenant, subject, 5))
          assert.strictEqual(closed._tag, "BudgetClosed")
          assert.strictEqual((closed as Ledger.BudgetClosed).scope, app)
          const topOnly = yield* reserve(tenant, { tenant }, 5)
          assert.strictEqual(topOnly.decision, "allow")
        }))

      test("an over-limit scope rejects reservations with overdraft-limit-exceeded, before debt and remaining", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels(1_000, 100, 50)
          const first = yield* reserve(tenant, subject, 50)
          const second = yield* reserve(tenant, subject, 50, { overagePolicy: "ALLOW_WITH_OVERDRAFT" })
          assert.strictEqual(pick((yield* commit(tenant, second.reservationId, 90)).balances, app).debt, 40n)
          const done = yield* commit(tenant, first.reservationId, 60)
          assert.strictEqual(done.charged.amount, 50n)
          assert.deepStrictEqual(numbers(pick(done.balances, app)), {
            allocated: 100n,
            spent: 100n,
            reserved: 0n,
            debt: 40n,
            remaining: -40n,
            isOverLimit: true
          })
          const reason = yield* reasonOf(reserve(tenant, subject, 0))
          assert.strictEqual(reason._tag, "OverdraftLimitExceeded")
          const over = reason as Ledger.OverdraftLimitExceeded
          assert.strictEqual(over.scope, app)
          assert.strictEqual(over.debt, 40n)
          assert.strictEqual(over.shortfall, 0n)
          assert.strictEqual(over.overdraftLimit, 50n)
          assert.isTrue(over.isRetryable)
          assert.strictEqual(
            reason.message,
            `${app}: over limit (debt 40, overdraft limit 50); no new reservations until it is reconciled`
          )
          yield* ledger.setOverdraftLimit({ tenant, scope: app, unit: "TOKENS", overdraftLimit: 0 })
          assert.strictEqual((yield* reasonOf(reserve(tenant, subject, 0)))._tag, "OverdraftLimitExceeded")
          assert.strictEqual((yield* reserve(tenant, { tenant }, 10)).decision, "allow")
        }))

      test("debt with no overdraft limit blocks reservations with debt-outstanding", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels(1_000, 100, 500)
          const held = yield* reserve(tenant, subject, 100, { overagePolicy: "ALLOW_WITH_OVERDRAFT" })
          yield* commit(tenant, held.reservationId, 150)
          const exceeded = yield* reasonOf(reserve(tenant, subject, 0))
          assert.strictEqual(exceeded.message, `${app}: requested 0, -50 remaining`)
          const limited = yield* ledger.setOverdraftLimit({ tenant, scope: app, unit: "TOKENS", overdraftLimit: 0 })
          assert.strictEqual(limited.balances[0]!.overdraftLimit, 0n)
          assert.isFalse(limited.balances[0]!.isOverLimit)
          const reason = yield* reasonOf(reserve(tenant, subject, 0))
          assert.strictEqual(reason._tag, "DebtOutstanding")
          assert.strictEqual((reason as Ledger.DebtOutstanding).debt, 50n)
          assert.strictEqual(reason.message, `${app}: debt of 50 outstanding and no overdraft allowed; repay it first`)
        }))
    })

    describe("lifecycle", () => {
      test("commit below the estimate charges the actual and returns the rest", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 300)
          yield* advance("2 seconds")
          const done = yield* commit(tenant, held.reservationId, 120)
          assert.strictEqual(done.status, "committed")
          assert.strictEqual(done.reservationId, held.reservationId)
          assert.deepStrictEqual(done.charged, { unit: "TOKENS", amount: 120n })
          assert.deepStrictEqual(done.released, { unit: "TOKENS", amount: 180n })
          assert.deepStrictEqual(numbers(pick(done.balances, top)), {
            allocated: 1_000n,
            spent: 120n,
            reserved: 0n,
            debt: 0n,
            remaining: 880n,
            isOverLimit: false
          })
          assert.strictEqual(pick(done.balances, app).remaining, 380n)
          const reservation = yield* Effect.flatMap(Ledger.Ledger, (l) =>
            l.getReservation({ tenant, reservationId: held.reservationId! }))
          assert.strictEqual(reservation.status, "committed")
          assert.deepStrictEqual(reservation.committed, { unit: "TOKENS", amount: 120n })
          assert.strictEqual(reservation.finalizedAtMs, 2_000)
        }))

      test("commit of exactly the estimate releases nothing", () =>
        Effect.gen(function*() {
          const { subject, tenant, top } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 300)
          const done = yield* commit(tenant, held.reservationId, 300)
          assert.strictEqual(done.released.amount, 0n)
          assert.strictEqual(pick(done.balances, top).spent, 300n)
        }))

      test("release returns the whole reservation", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 300)
          const released = yield* release(tenant, held.reservationId)
          assert.strictEqual(released.status, "released")
          assert.deepStrictEqual(released.released, { unit: "TOKENS", amount: 300n })
          assert.strictEqual(pick(released.balances, top).remaining, 1_000n)
          assert.strictEqual(pick(released.balances, app).reserved, 0n)
          const reservation = yield* Effect.flatMap(Ledger.Ledger, (l) =>
            l.getReservation({ tenant, reservationId: held.reservationId! }))
          assert.strictEqual(reservation.status, "released")
          assert.isUndefined(reservation.committed)
        }))

      test("a settled reservation cannot be settled again: reservation-finalized", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels()
          const committed = yield* reserve(tenant, subject, 100)
          yield* commit(tenant, committed.reservationId, 50, { idempotencyKey: "c-1" })
          const again = yield* reasonOf(commit(tenant, committed.reservationId, 50, { idempotencyKey: "c-2" }))
          assert.strictEqual(again._tag, "ReservationFinalized")
          assert.strictEqual((again as Ledger.ReservationFinalized).status, "committed")
          assert.strictEqual(again.message, `reservation ${committed.reservationId} is already committed`)
          assert.strictEqual(
            (yield* reasonOf(commit(tenant, committed.reservationId, 50)))._tag,
            "ReservationFinalized"
          )
          assert.strictEqual((yield* reasonOf(release(tenant, committed.reservationId)))._tag, "ReservationFinalized")
          const extended = yield* reasonOf(
            ledger.extend({ tenant, reservationId: committed.reservationId!, extendByMs: 1_000 })
          )
          assert.strictEqual(extended._tag, "ReservationFinalized")
          const released = yield* reserve(tenant, subject, 100)
          yield* release(tenant, released.reservationId, "r-1")
          const late = yield* reasonOf(commit(tenant, released.reservationId, 10))
          assert.strictEqual(late._tag, "ReservationFinalized")
          assert.strictEqual((late as Ledger.ReservationFinalized).status, "released")
          assert.strictEqual(
            (yield* reasonOf(release(tenant, released.reservationId, "r-2")))._tag,
            "ReservationFinalized"
          )
        }))

      test("an unknown reservation is not-found; a commit in another unit is unit-mismatch and keeps it active", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels()
          const missing = yield* reasonOf(commit(tenant, "no-such-reservation", 1), "Ledger.commit")
          assert.strictEqual(missing._tag, "NotFound")
          assert.strictEqual(missing.message, "reservation no-such-reservation not found")
          assert.strictEqual((yield* reasonOf(release(tenant, "no-such-reservation")))._tag, "NotFound")
          assert.strictEqual(
            (yield* reasonOf(ledger.extend({ tenant, reservationId: "no-such-reservation", extendByMs: 1 })))._tag,
            "NotFound"
          )
          assert.strictEqual(
            (yield* reasonOf(ledger.getReservation({ tenant, reservationId: "no-such-reservation" })))._tag,
            "NotFound"
          )
          const held = yield* reserve(tenant, subject, 100)
          const wrong = yield* reasonOf(ledger.commit({
            tenant,
            reservationId: held.reservationId!,
            actual: { unit: "CREDITS", amount: 10 }
          }))
          assert.strictEqual(wrong._tag, "UnitMismatch")
          assert.deepStrictEqual((wrong as Ledger.UnitMismatch).expected, ["TOKENS"])
          assert.strictEqual((wrong as Ledger.UnitMismatch).scope, app)
          assert.strictEqual((yield* commit(tenant, held.reservationId, 10)).status, "committed")
        }))
    })

    describe("commit overage policies", () => {
      test("REJECT: an actual above the estimate is budget-exceeded and the reservation stays active", () =>
        Effect.gen(function*() {
          const { app, subject, tenant } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100, { overagePolicy: "REJECT" })
          const before = yield* balancesOf(tenant, subject)
          const reason = yield* reasonOf(commit(tenant, held.reservationId, 101), "Ledger.commit")
          assert.strictEqual(reason._tag, "BudgetExceeded")
          assert.strictEqual((reason as Ledger.BudgetExceeded).reservationId, held.reservationId)
          assert.strictEqual(
            reason.message,
            `${app}: commit of 101 exceeds the 100 reserved by ${held.reservationId} (overage policy REJECT)`
          )
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
          const done = yield* commit(tenant, held.reservationId, 100)
          assert.strictEqual(done.charged.amount, 100n)
        }))

      test("ALLOW_IF_AVAILABLE: an overage every scope can cover is charged in full", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100)
          const done = yield* commit(tenant, held.reservationId, 350)
          assert.strictEqual(done.charged.amount, 350n)
          assert.strictEqual(done.released.amount, 0n)
          assert.deepStrictEqual(numbers(pick(done.balances, top)), {
            allocated: 1_000n,
            spent: 350n,
            reserved: 0n,
            debt: 0n,
            remaining: 650n,
            isOverLimit: false
          })
          assert.strictEqual(pick(done.balances, app).remaining, 150n)
          assert.isFalse(pick(done.balances, app).isOverLimit)
        }))

      test("ALLOW_IF_AVAILABLE: the overage is capped at the smallest remaining; short scopes become over-limit, never debt", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels(1_000, 500)
          yield* reserve(tenant, subject, 300)
          const held = yield* reserve(tenant, subject, 100)
          const done = yield* commit(tenant, held.reservationId, 400)
          assert.strictEqual(done.charged.amount, 200n)
          assert.deepStrictEqual(numbers(pick(done.balances, app)), {
            allocated: 500n,
            spent: 200n,
            reserved: 300n,
            debt: 0n,
            remaining: 0n,
            isOverLimit: true
          })
          assert.deepStrictEqual(numbers(pick(done.balances, top)), {
            allocated: 1_000n,
            spent: 200n,
            reserved: 300n,
            debt: 0n,
            remaining: 500n,
            isOverLimit: false
          })
          const reservation = yield* Effect.flatMap(
            Ledger.Ledger,
            (l) => l.getReservation({ tenant, reservationId: held.reservationId! })
          )
          assert.deepStrictEqual(reservation.committed, { unit: "TOKENS", amount: 200n })
          assert.strictEqual((yield* reasonOf(reserve(tenant, subject, 0)))._tag, "OverdraftLimitExceeded")
          assert.strictEqual((yield* reserve(tenant, { tenant }, 10)).decision, "allow")
        }))

      test("ALLOW_WITH_OVERDRAFT: what a scope's remaining cannot fund becomes debt within its overdraft limit", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels(1_000, 500, 300)
          yield* reserve(tenant, subject, 300)
          const held = yield* reserve(tenant, subject, 100, { overagePolicy: "ALLOW_WITH_OVERDRAFT" })
          const done = yield* commit(tenant, held.reservationId, 400)
          assert.strictEqual(done.charged.amount, 400n)
          assert.deepStrictEqual(numbers(pick(done.balances, app)), {
            allocated: 500n,
            spent: 200n,
            reserved: 300n,
            debt: 200n,
            remaining: -200n,
            isOverLimit: false
          })
          assert.deepStrictEqual(numbers(pick(done.balances, top)), {
            allocated: 1_000n,
            spent: 400n,
            reserved: 300n,
            debt: 0n,
            remaining: 300n,
            isOverLimit: false
          })
          const exceeded = yield* reasonOf(reserve(tenant, subject, 0))
          assert.strictEqual(exceeded.message, `${app}: requested 0, -200 remaining`)
        }))

      test("ALLOW_WITH_OVERDRAFT: debt beyond the limit is overdraft-limit-exceeded and changes nothing", () =>
        Effect.gen(function*() {
          const { app, subject, tenant } = yield* twoLevels(1_000, 100, 50)
          const held = yield* reserve(tenant, subject, 100, { overagePolicy: "ALLOW_WITH_OVERDRAFT" })
          const before = yield* balancesOf(tenant, subject)
          const reason = yield* reasonOf(commit(tenant, held.reservationId, 151), "Ledger.commit")
          assert.strictEqual(reason._tag, "OverdraftLimitExceeded")
          const over = reason as Ledger.OverdraftLimitExceeded
          assert.strictEqual(over.scope, app)
          assert.strictEqual(over.shortfall, 51n)
          assert.strictEqual(reason.message, `${app}: debt 0 + shortfall 51 exceeds the overdraft limit 50`)
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
          const done = yield* commit(tenant, held.reservationId, 150)
          assert.strictEqual(done.charged.amount, 150n)
          assert.strictEqual(pick(done.balances, app).debt, 50n)
        }))

      test("ALLOW_WITH_OVERDRAFT: a scope without an overdraft limit caps the overage as ALLOW_IF_AVAILABLE", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels(150, 1_000, 0, 0)
          yield* Effect.flatMap(
            Ledger.Ledger,
            (l) => l.setOverdraftLimit({ tenant, scope: app, unit: "TOKENS", overdraftLimit: 1_000 })
          )
          const held = yield* reserve(tenant, subject, 100, { overagePolicy: "ALLOW_WITH_OVERDRAFT" })
          const done = yield* commit(tenant, held.reservationId, 300)
          assert.strictEqual(done.charged.amount, 150n)
          assert.deepStrictEqual(numbers(pick(done.balances, top)), {
            allocated: 150n,
            spent: 150n,
            reserved: 0n,
            debt: 0n,
            remaining: 0n,
            isOverLimit: true
          })
          assert.deepStrictEqual(numbers(pick(done.balances, app)), {
            allocated: 1_000n,
            spent: 150n,
            reserved: 0n,
            debt: 0n,
            remaining: 850n,
            isOverLimit: false
          })
        }))
    })
  })
}
