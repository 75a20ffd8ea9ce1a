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

/**
 * Retries `check` until it holds, yielding to other fibers and waiting a real
 * millisecond between tries (a store's I/O runs outside the test clock).
 */
const eventually = (check: Effect.Effect<boolean, unknown, Ledger.Ledger>) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 2_000; attempt++) {
      if (yield* check) return true
      yield* Effect.yieldNow
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))
    }
    return false
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
            ["balances", { tenant, subject, limit: 201 }, "limit", "201"],
            ["balances", { tenant, subject, limit: 0 }, "limit", "0"],
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

      test("a large estimate (at and past 10^15, 2^62) may use up exactly what is left, one more may not", () =>
        Effect.gen(function*() {
          for (const allocated of [10n ** 15n, 2n ** 62n, 2n ** 63n - 1n]) {
            const tenant = freshTenant()
            yield* budget(tenant, `tenant:${tenant}`, allocated)
            assert.strictEqual(
              (yield* reasonOf(reserve(tenant, { tenant }, (allocated + 1n).toString())))._tag,
              allocated === 2n ** 63n - 1n ? "InvalidRequest" : "BudgetExceeded"
            )
            const all = yield* reserve(tenant, { tenant }, allocated.toString())
            assert.strictEqual(all.decision, "allow")
            assert.strictEqual(pick(all.balances, `tenant:${tenant}`).remaining, 0n)
            assert.strictEqual(pick(all.balances, `tenant:${tenant}`).reserved, allocated)
          }
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

      test("ALLOW_IF_AVAILABLE: the smallest remaining caps the overage when it is an ancestor's, not the subject's own", () =>
        Effect.gen(function*() {
          // the tenant has less left than the app: 500 − 300 − 100 = 100 against 1,000 − 400 = 600
          const { app, subject, tenant, top } = yield* twoLevels(500, 1_000)
          yield* reserve(tenant, subject, 300)
          const held = yield* reserve(tenant, subject, 100)
          const done = yield* commit(tenant, held.reservationId, 400)
          assert.strictEqual(done.charged.amount, 200n)
          assert.deepStrictEqual(numbers(pick(done.balances, top)), {
            allocated: 500n,
            spent: 200n,
            reserved: 300n,
            debt: 0n,
            remaining: 0n,
            isOverLimit: true
          })
          assert.deepStrictEqual(numbers(pick(done.balances, app)), {
            allocated: 1_000n,
            spent: 200n,
            reserved: 300n,
            debt: 0n,
            remaining: 500n,
            isOverLimit: false
          })
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

    describe("retention", () => {
      test("forgets idempotency keys and finished reservations 24 hours on, but not a key whose reservation is active", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          const subject = { tenant }
          yield* budget(tenant, `tenant:${tenant}`, 1_000)
          const hold = (key: string, ttlMs = 60_000) => reserve(tenant, subject, 10, { ttlMs, idempotencyKey: key })
          const done = yield* hold("done")
          yield* ledger.commit({ tenant, reservationId: done.reservationId!, actual: { unit: "TOKENS", amount: 10 } })
          const long = yield* hold("long", 86_400_000)
          yield* ledger.extend({ tenant, reservationId: long.reservationId!, extendByMs: 86_400_000 })
          yield* advance("25 hours")
          yield* ledger.sweep({})
          const listed = yield* ledger.listReservations({ tenant })
          assert.deepStrictEqual(listed.reservations.map((r) => r.reservationId), [long.reservationId])
          // the key of the active reservation still replays: no second hold
          assert.strictEqual((yield* hold("long", 86_400_000)).reservationId, long.reservationId)
          const again = yield* hold("done")
          assert.notStrictEqual(again.reservationId, done.reservationId)
          // and keeps replaying after the next prune, while the reservation is active
          yield* advance("2 hours")
          yield* ledger.sweep({})
          assert.strictEqual((yield* hold("long", 86_400_000)).reservationId, long.reservationId)
        }))

      test("a reserve key lives as long as its reservation: past 24 hours while active, then 24 hours after it ended", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          const subject = { tenant }
          yield* budget(tenant, `tenant:${tenant}`, 1_000)
          const hold = () =>
            reserve(tenant, subject, 10, { ttlMs: 86_400_000, graceMs: 60_000, idempotencyKey: "long" })
          const first = yield* hold()
          yield* advance("24 hours")
          yield* advance("30 seconds")
          yield* ledger.sweep({ tenant }) // prunes: the reservation is still active
          yield* advance("10 seconds")
          yield* commit(tenant, first.reservationId, 5) // within the grace
          yield* advance("80 seconds")
          yield* ledger.sweep({ tenant }) // prunes again: the reservation ended 80 s ago
          assert.strictEqual((yield* hold()).reservationId, first.reservationId) // a replay, no second hold
          assert.strictEqual((yield* balancesOf(tenant, subject))[`tenant:${tenant}`]!.reserved, 0n)
          // 24 hours after it ended, the reservation and its key are forgotten together
          yield* advance("24 hours")
          yield* ledger.sweep({ tenant })
          assert.deepStrictEqual((yield* ledger.listReservations({ tenant })).reservations, [])
          assert.notStrictEqual((yield* hold()).reservationId, first.reservationId)
        }))

      test("a sweep of one tenant prunes that tenant only, each tenant at most once a minute", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const swept = freshTenant()
          const other = freshTenant()
          yield* budget(swept, `tenant:${swept}`, 1_000)
          yield* budget(other, `tenant:${other}`, 1_000)
          const retried = () =>
            ledger.event({
              tenant: other,
              subject: { tenant: other },
              action,
              actual: { unit: "TOKENS", amount: 7 },
              idempotencyKey: "once"
            })
          const first = yield* retried()
          yield* advance("24 hours")
          yield* advance("10 seconds")
          yield* ledger.sweep({ tenant: swept })
          assert.strictEqual((yield* retried()).eventId, first.eventId) // the other tenant's key is kept
          yield* advance("10 seconds")
          yield* ledger.sweep({ tenant: other }) // not held back by the sweep of the first tenant 10 s ago
          assert.notStrictEqual((yield* retried()).eventId, first.eventId)
          assert.strictEqual((yield* balancesOf(other, { tenant: other }))[`tenant:${other}`]!.spent, 14n)
        }))

      const withRetention = (retention: Duration.Duration, body: () => Effect.Effect<void, unknown, Ledger.Ledger>) =>
        it.effect(`Ledger.Retention ${Duration.format(retention)}`, () =>
          body().pipe(
            Effect.provide(layer),
            Effect.provideService(Ledger.SweepInterval, Duration.infinity),
            Effect.provideService(Ledger.Retention, retention)
          ))

      /** A keyed event and a committed keyed reservation, and replays of both (no second debit). */
      const keyedCalls = (tenant: string) =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const subject = { tenant }
          const keyedEvent = () =>
            ledger.event({ tenant, subject, action, actual: { unit: "TOKENS", amount: 7 }, idempotencyKey: "ev" })
          const hold = () => reserve(tenant, subject, 10, { idempotencyKey: "rs" })
          const keyedCommit = (reservationId: string) =>
            ledger.commit({ tenant, reservationId, actual: { unit: "TOKENS", amount: 10 }, idempotencyKey: "cm" })
          return { keyedCommit, keyedEvent, hold }
        })

      withRetention(Duration.hours(1), () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          yield* budget(tenant, `tenant:${tenant}`, 1_000)
          const { hold, keyedCommit, keyedEvent } = yield* keyedCalls(tenant)
          assert.strictEqual(Duration.toMillis(ledger.retention), 3_600_000)
          const first = yield* keyedEvent()
          const held = yield* hold()
          yield* keyedCommit(held.reservationId!)
          // 59 minutes on: replays, nothing debited twice, the reservation still listed
          yield* advance("59 minutes")
          yield* ledger.sweep({})
          assert.strictEqual((yield* keyedEvent()).eventId, first.eventId)
          assert.strictEqual((yield* hold()).reservationId, held.reservationId)
          assert.strictEqual((yield* keyedCommit(held.reservationId!)).charged.amount, 10n)
          assert.strictEqual((yield* balancesOf(tenant, { tenant }))[`tenant:${tenant}`]!.spent, 17n)
          // past the hour (and the once-a-minute prune): the keys are new again, the reservation gone
          yield* advance("2 minutes")
          yield* ledger.sweep({})
          assert.deepStrictEqual((yield* ledger.listReservations({ tenant })).reservations, [])
          assert.notStrictEqual((yield* keyedEvent()).eventId, first.eventId)
          assert.notStrictEqual((yield* hold()).reservationId, held.reservationId)
          assert.deepStrictEqual((yield* balancesOf(tenant, { tenant }))[`tenant:${tenant}`], {
            allocated: 1_000n,
            spent: 24n,
            reserved: 10n,
            debt: 0n,
            remaining: 966n,
            isOverLimit: false
          })
        }))

      withRetention(Duration.infinity, () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          yield* budget(tenant, `tenant:${tenant}`, 1_000)
          const { hold, keyedCommit, keyedEvent } = yield* keyedCalls(tenant)
          const first = yield* keyedEvent()
          const held = yield* hold()
          yield* keyedCommit(held.reservationId!)
          // keeps everything for good: still replayed 30 days on
          yield* advance("30 days")
          yield* ledger.sweep({})
          yield* advance("2 minutes")
          yield* ledger.sweep({})
          assert.strictEqual((yield* keyedEvent()).eventId, first.eventId)
          assert.strictEqual((yield* hold()).reservationId, held.reservationId)
          assert.strictEqual((yield* keyedCommit(held.reservationId!)).charged.amount, 10n)
          assert.deepStrictEqual(
            (yield* ledger.listReservations({ tenant })).reservations.map((r) => r.reservationId),
            [held.reservationId]
          )
          assert.strictEqual((yield* balancesOf(tenant, { tenant }))[`tenant:${tenant}`]!.spent, 17n)
        }))

      withRetention(Duration.zero, () =>
        Effect.gen(function*() {
          // more active keyed reservations than one page of the log: the keys they keep must not be read again
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          yield* budget(tenant, `tenant:${tenant}`, 1_000_000)
          const hold = (i: number) => reserve(tenant, { tenant }, 1, { idempotencyKey: `zero-${i}` })
          const held = yield* Effect.forEach(Array.from({ length: 1_001 }, (_, i) => i), hold, { concurrency: 16 })
          yield* advance("1 second")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [])
          // active: still replayed, nothing held twice
          assert.strictEqual((yield* hold(1_000)).reservationId, held[1_000]!.reservationId)
          assert.strictEqual((yield* balancesOf(tenant, { tenant }))[`tenant:${tenant}`]!.reserved, 1_001n)
        }))

      withRetention(Duration.millis(-1), () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          yield* budget(tenant, `tenant:${tenant}`, 1_000)
          const held = yield* reserve(tenant, { tenant }, 10, { ttlMs: 1_000, graceMs: 0 })
          yield* advance("2 seconds")
          const reason = yield* reasonOf(ledger.sweep({ tenant }), "Ledger.sweep")
          // the retention it applies: none (nothing pruned)
          assert.isFalse(Duration.isFinite(ledger.retention))
          // the expiry still happened: the hold came back
          assert.strictEqual((yield* balancesOf(tenant, { tenant }))[`tenant:${tenant}`]!.reserved, 0n)
          assert.strictEqual(
            (yield* reasonOf(ledger.getReservation({ tenant, reservationId: held.reservationId! })))._tag,
            "ReservationExpired"
          )
          assert.strictEqual(reason._tag, "InvalidRequest")
          assert.strictEqual(reason.message, "invalid Ledger.Retention (-1): must be a duration of 0 ms or more")
        }))
    })

    describe("expiry", () => {
      test("commit and release are accepted until expiresAt + grace, then reservation-expired (nothing changes)", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant, top } = yield* twoLevels()
          const early = yield* reserve(tenant, subject, 100, { ttlMs: 1_000, graceMs: 500 })
          const late = yield* reserve(tenant, subject, 100, { ttlMs: 1_000, graceMs: 500 })
          const released = yield* reserve(tenant, subject, 100, { ttlMs: 1_000, graceMs: 500 })
          yield* advance("1200 millis")
          assert.strictEqual((yield* release(tenant, released.reservationId)).status, "released")
          yield* advance("300 millis")
          assert.strictEqual((yield* commit(tenant, early.reservationId, 10)).status, "committed")
          yield* advance("1 millis")
          const before = yield* balancesOf(tenant, subject)
          const reason = yield* reasonOf(commit(tenant, late.reservationId, 10), "Ledger.commit")
          assert.strictEqual(reason._tag, "ReservationExpired")
          const expired = reason as Ledger.ReservationExpired
          assert.strictEqual(expired.expiresAtMs, 1_000)
          assert.strictEqual(expired.graceMs, 500)
          assert.strictEqual(expired.nowMs, 1_501)
          assert.strictEqual(
            reason.message,
            `reservation ${late.reservationId} expired at 1000 (grace 500 ms), now 1501`
          )
          assert.strictEqual((yield* reasonOf(release(tenant, late.reservationId)))._tag, "ReservationExpired")
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
          assert.strictEqual(before[top]!.reserved, 100n)
          const still = yield* ledger.getReservation({ tenant, reservationId: late.reservationId! })
          assert.strictEqual(still.status, "active")
        }))

      test("the sweeper expires what is past expiresAt + grace and returns what it held", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant, top } = yield* twoLevels()
          const short = yield* reserve(tenant, subject, 100, { ttlMs: 1_000, graceMs: 500 })
          const long = yield* reserve(tenant, subject, 50, { ttlMs: 10_000, graceMs: 0 })
          yield* advance("1500 millis")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [])
          yield* advance("1 millis")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [short.reservationId!])
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [])
          const after = yield* balancesOf(tenant, subject)
          assert.strictEqual(after[top]!.reserved, 50n)
          assert.strictEqual(after[app]!.remaining, 450n)
          assert.strictEqual(after[top]!.spent, 0n)
          const gone = yield* reasonOf(ledger.getReservation({ tenant, reservationId: short.reservationId! }))
          assert.strictEqual(gone._tag, "ReservationExpired")
          assert.strictEqual((yield* reasonOf(commit(tenant, short.reservationId, 1)))._tag, "ReservationExpired")
          assert.strictEqual((yield* reasonOf(release(tenant, short.reservationId)))._tag, "ReservationExpired")
          assert.strictEqual(
            (yield* reasonOf(ledger.extend({ tenant, reservationId: short.reservationId!, extendByMs: 5_000 })))._tag,
            "ReservationExpired"
          )
          const listed = yield* ledger.listReservations({ tenant, status: "expired" })
          assert.deepStrictEqual(listed.reservations.map((r) => r.reservationId), [short.reservationId])
          assert.isUndefined(listed.reservations[0]!.finalizedAtMs)
          assert.strictEqual(
            (yield* ledger.getReservation({ tenant, reservationId: long.reservationId! })).status,
            "active"
          )
        }))

      test("a limited sweep takes the earliest due first, those due together in creation order", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant, top } = yield* twoLevels()
          // made in this order, due at 10 s, 2 s, 5 s and 2 s
          const late = yield* reserve(tenant, subject, 10, { ttlMs: 10_000, graceMs: 0 })
          const early = yield* reserve(tenant, subject, 20, { ttlMs: 1_000, graceMs: 1_000 })
          const middle = yield* reserve(tenant, subject, 30, { ttlMs: 5_000, graceMs: 0 })
          const alsoEarly = yield* reserve(tenant, subject, 40, { ttlMs: 2_000, graceMs: 0 })
          yield* advance("11 seconds")
          const first = yield* ledger.sweep({ tenant, limit: 2 })
          assert.deepStrictEqual(first.expired, [early.reservationId!, alsoEarly.reservationId!])
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.reserved, 40n)
          assert.deepStrictEqual((yield* ledger.sweep({ tenant, limit: 1 })).expired, [middle.reservationId!])
          assert.deepStrictEqual((yield* ledger.sweep({ tenant, limit: 5 })).expired, [late.reservationId!])
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.reserved, 0n)
        }))

      test("an extended reservation is swept at its new due time, not its first", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels()
          const extended = yield* reserve(tenant, subject, 10, { ttlMs: 1_000, graceMs: 0 })
          yield* ledger.extend({ tenant, reservationId: extended.reservationId!, extendByMs: 5_000 })
          const other = yield* reserve(tenant, subject, 20, { ttlMs: 2_000, graceMs: 0 })
          yield* advance("3 seconds")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant, limit: 1 })).expired, [other.reservationId!])
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [])
          yield* advance("4 seconds")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [extended.reservationId!])
        }))

      test("a sweep for one tenant leaves the others alone", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const first = yield* twoLevels()
          const second = yield* twoLevels()
          const mine = yield* reserve(first.tenant, first.subject, 10, { ttlMs: 1_000, graceMs: 0 })
          const theirs = yield* reserve(second.tenant, second.subject, 10, { ttlMs: 1_000, graceMs: 0 })
          yield* advance("2 seconds")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant: first.tenant })).expired, [mine.reservationId!])
          const other = yield* ledger.getReservation({ tenant: second.tenant, reservationId: theirs.reservationId! })
          assert.strictEqual(other.status, "active")
          const all = yield* ledger.sweep({})
          assert.include(all.expired, theirs.reservationId)
        }))

      it.effect("the layer's background sweeper runs every SweepInterval on the ledger's clock", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant, top } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100, { ttlMs: 1_000, graceMs: 1_000 })
          yield* advance("2 seconds")
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.reserved, 100n)
          yield* advance("1 second")
          const expired = yield* eventually(
            Effect.map(ledger.listReservations({ tenant, status: "expired" }), (page) => page.reservations.length === 1)
          )
          assert.isTrue(expired)
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.reserved, 0n)
          assert.strictEqual(
            (yield* reasonOf(ledger.getReservation({ tenant, reservationId: held.reservationId! })))._tag,
            "ReservationExpired"
          )
        }).pipe(
          Effect.provide(layer),
          Effect.provideService(Ledger.SweepInterval, Duration.seconds(1))
        ))
    })

    describe("extend", () => {
      test("moves expiresAt forward from the current expiry, not from now", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100, { ttlMs: 10_000, graceMs: 0 })
          yield* advance("4 seconds")
          const extended = identity(
            yield* ledger.extend({ tenant, reservationId: held.reservationId!, extendByMs: 30_000 })
          )
          assert.strictEqual(extended.status, "active")
          assert.strictEqual(extended.expiresAtMs, 40_000)
          assert.strictEqual(extended.extensions, 1)
          assert.strictEqual(extended.balances.length, 2)
          yield* advance("35 seconds")
          assert.strictEqual((yield* commit(tenant, held.reservationId, 100)).status, "committed")
          const detail = yield* ledger.getReservation({ tenant, reservationId: held.reservationId! })
          assert.strictEqual(detail.expiresAtMs, 40_000)
          assert.strictEqual(detail.extensions, 1)
        }))

      test("is accepted while now <= expiresAt, not in the grace period", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100, { ttlMs: 1_000, graceMs: 5_000 })
          yield* advance("1 second")
          const first = yield* ledger.extend({ tenant, reservationId: held.reservationId!, extendByMs: 1_000 })
          assert.strictEqual(first.expiresAtMs, 2_000)
          yield* advance("1001 millis")
          const reason = yield* reasonOf(
            ledger.extend({ tenant, reservationId: held.reservationId!, extendByMs: 1_000 }),
            "Ledger.extend"
          )
          assert.strictEqual(reason._tag, "ReservationExpired")
          assert.strictEqual((reason as Ledger.ReservationExpired).graceMs, 0)
          assert.strictEqual((yield* commit(tenant, held.reservationId, 1)).status, "committed")
        }))

      test("an extended reservation is swept at its new expiry, not its old one", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant, top } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100, { ttlMs: 1_000, graceMs: 0 })
          yield* ledger.extend({ tenant, reservationId: held.reservationId!, extendByMs: 5_000 })
          yield* advance("2 seconds")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [])
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.reserved, 100n)
          assert.strictEqual((yield* commit(tenant, held.reservationId, 10)).charged.amount, 10n)
          // and a second one, never settled, is swept once its extended expiry has passed
          const late = yield* reserve(tenant, subject, 100, { ttlMs: 1_000, graceMs: 0 })
          yield* ledger.extend({ tenant, reservationId: late.reservationId!, extendByMs: 5_000 })
          yield* advance("5 seconds")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [])
          yield* advance("1001 millis")
          assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [late.reservationId!])
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.reserved, 0n)
        }))

      test("at most 10 times", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100, { ttlMs: 1_000 })
          for (let i = 1; i <= 10; i++) {
            const answer = yield* ledger.extend({ tenant, reservationId: held.reservationId!, extendByMs: 1_000 })
            assert.strictEqual(answer.extensions, i)
            assert.strictEqual(answer.expiresAtMs, 1_000 + i * 1_000)
          }
          const reason = yield* reasonOf(
            ledger.extend({ tenant, reservationId: held.reservationId!, extendByMs: 1_000 })
          )
          assert.strictEqual(reason._tag, "MaxExtensionsExceeded")
          assert.strictEqual((reason as Ledger.MaxExtensionsExceeded).extensions, 10)
          assert.strictEqual(
            reason.message,
            `reservation ${held.reservationId} was already extended 10 times, the most allowed`
          )
          assert.strictEqual(
            (yield* ledger.getReservation({ tenant, reservationId: held.reservationId! })).expiresAtMs,
            11_000
          )
        }))
    })

    describe("idempotency", () => {
      test("reserve: the same key and request returns the first answer, holding once", () =>
        Effect.gen(function*() {
          const { subject, tenant, top } = yield* twoLevels()
          const first = yield* reserve(tenant, subject, 100, { idempotencyKey: "k-1" })
          yield* advance("1 second")
          yield* reserve(tenant, subject, 7)
          const again = yield* reserve(tenant, subject, "100", { idempotencyKey: "k-1", ttlMs: 60_000 })
          assert.deepStrictEqual(again, first)
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.reserved, 107n)
          const listed = yield* Effect.flatMap(Ledger.Ledger, (l) => l.listReservations({ tenant }))
          assert.strictEqual(listed.reservations.length, 2)
        }))

      test("the same key with a different request is idempotency-mismatch; keys are per tenant and operation", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100, { idempotencyKey: "k-1" })
          const reason = yield* reasonOf(reserve(tenant, subject, 101, { idempotencyKey: "k-1" }), "Ledger.reserve")
          assert.strictEqual(reason._tag, "IdempotencyMismatch")
          assert.strictEqual((reason as Ledger.IdempotencyMismatch).operation, "reserve")
          assert.strictEqual(reason.message, "idempotency key \"k-1\" was first used for a different reserve request")
          assert.strictEqual(
            (yield* reasonOf(reserve(tenant, subject, 100, { idempotencyKey: "k-1", dryRun: true })))._tag,
            "IdempotencyMismatch"
          )
          const other = yield* twoLevels()
          const theirs = yield* reserve(other.tenant, other.subject, 100, { idempotencyKey: "k-1" })
          assert.notStrictEqual(theirs.reservationId, held.reservationId)
          const done = yield* commit(tenant, held.reservationId, 50, { idempotencyKey: "k-1" })
          assert.strictEqual(done.status, "committed")
          const decided = yield* ledger.decide({
            tenant,
            subject,
            action,
            estimate: { unit: "TOKENS", amount: 1 },
            idempotencyKey: "k-1"
          })
          assert.strictEqual(decided.decision, "allow")
        }))

      test("commit: a replay returns the first answer without a second charge; another actual is a mismatch", () =>
        Effect.gen(function*() {
          const { subject, tenant, top } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100)
          const first = yield* commit(tenant, held.reservationId, 60, { idempotencyKey: "c-1" })
          yield* advance("10 minutes")
          const again = yield* commit(tenant, held.reservationId, 60, { idempotencyKey: "c-1" })
          assert.deepStrictEqual(again, first)
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.spent, 60n)
          const mismatch = yield* reasonOf(commit(tenant, held.reservationId, 61, { idempotencyKey: "c-1" }))
          assert.strictEqual(mismatch._tag, "IdempotencyMismatch")
          const other = yield* reserve(tenant, subject, 100)
          const elsewhere = yield* reasonOf(commit(tenant, other.reservationId, 60, { idempotencyKey: "c-1" }))
          assert.strictEqual(elsewhere._tag, "IdempotencyMismatch")
        }))

      test("release, extend and event replay their first answer", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant, top } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100)
          const beat = yield* ledger.extend({
            tenant,
            reservationId: held.reservationId!,
            extendByMs: 1_000,
            idempotencyKey: "e-1"
          })
          const beatAgain = yield* ledger.extend({
            tenant,
            reservationId: held.reservationId!,
            extendByMs: 1_000,
            idempotencyKey: "e-1"
          })
          assert.deepStrictEqual(beatAgain, beat)
          assert.strictEqual(
            (yield* ledger.getReservation({ tenant, reservationId: held.reservationId! })).extensions,
            1
          )
          const released = yield* release(tenant, held.reservationId, "r-1")
          assert.deepStrictEqual(yield* release(tenant, held.reservationId, "r-1"), released)
          const charged = yield* event(tenant, subject, 30, undefined, "ev-1")
          const chargedAgain = yield* event(tenant, subject, 30, undefined, "ev-1")
          assert.deepStrictEqual(chargedAgain, charged)
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.spent, 30n)
          assert.strictEqual(
            (yield* reasonOf(event(tenant, subject, 31, undefined, "ev-1")))._tag,
            "IdempotencyMismatch"
          )
        }))

      test("decide replays its first answer even after the budget changed", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels()
          const request = {
            tenant,
            subject,
            action,
            estimate: { unit: "TOKENS" as const, amount: 400 },
            idempotencyKey: "d-1"
          }
          const first = yield* ledger.decide(request)
          assert.strictEqual(first.decision, "allow")
          yield* reserve(tenant, subject, 300)
          assert.deepStrictEqual(yield* ledger.decide(request), first)
          const fresh = yield* ledger.decide({ ...request, idempotencyKey: "d-2" })
          assert.strictEqual(fresh.decision, "deny")
        }))

      test("failures are not remembered: the same key succeeds once the budget allows it", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels()
          assert.strictEqual(
            (yield* reasonOf(reserve(tenant, subject, 800, { idempotencyKey: "k-1" })))._tag,
            "BudgetExceeded"
          )
          yield* ledger.fundBudget({ tenant, scope: app, unit: "TOKENS", operation: "credit", amount: 500 })
          const held = yield* reserve(tenant, subject, 800, { idempotencyKey: "k-1" })
          assert.strictEqual(held.decision, "allow")
        }))

      test("fundBudget with a key credits once", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant, top } = yield* twoLevels()
          const request = {
            tenant,
            scope: top,
            unit: "TOKENS" as const,
            operation: "credit" as const,
            amount: 250,
            idempotencyKey: "f-1"
          }
          const first = yield* ledger.fundBudget(request)
          assert.deepStrictEqual(yield* ledger.fundBudget(request), first)
          assert.strictEqual((yield* balancesOf(tenant, subject))[top]!.allocated, 1_250n)
          assert.strictEqual(
            (yield* reasonOf(ledger.fundBudget({ ...request, amount: 251 })))._tag,
            "IdempotencyMismatch"
          )
        }))

      test("lost responses are recovered by replaying the same key", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant, top } = yield* twoLevels()
          yield* reserve(tenant, subject, 200, { idempotencyKey: "run-1-step-1" })
          const found = yield* ledger.listReservations({ tenant, idempotencyKey: "run-1-step-1" })
          assert.strictEqual(found.reservations.length, 1)
          const recovered = yield* reserve(tenant, subject, 200, { idempotencyKey: "run-1-step-1" })
          assert.strictEqual(recovered.reservationId, found.reservations[0]!.reservationId)
          assert.strictEqual(found.reservations[0]!.idempotencyKey, "run-1-step-1")
          yield* commit(tenant, recovered.reservationId, 150, { idempotencyKey: "run-1-step-1-commit" })
          const replayed = yield* commit(tenant, recovered.reservationId, 150, {
            idempotencyKey: "run-1-step-1-commit"
          })
          assert.strictEqual(replayed.charged.amount, 150n)
          const state = (yield* balancesOf(tenant, subject))[top]!
          assert.strictEqual(state.spent, 150n)
          assert.strictEqual(state.reserved, 0n)
        }))
    })

    describe("decide", () => {
      test("answers allow or deny without reserving; budget states are a deny, not an error", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant, top } = yield* twoLevels()
          const decide = (amount: number, who: Ledger.Subject = subject) =>
            ledger.decide({ tenant, subject: who, action, estimate: { unit: "TOKENS", amount } })
          const before = yield* balancesOf(tenant, subject)
          assert.deepStrictEqual(yield* decide(500), { decision: "allow", affectedScopes: [top, app] })
          assert.deepStrictEqual(yield* decide(501), {
            decision: "deny",
            reasonCode: "budget-exceeded",
            affectedScopes: [top, app]
          })
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
          const nowhere = yield* decide(1, { tenant, workspace: "none" })
          assert.strictEqual(nowhere.reasonCode, undefined)
          const missing = freshTenant()
          const notFound = yield* ledger.decide({
            tenant: missing,
            subject: { tenant: missing },
            action,
            estimate: { unit: "TOKENS", amount: 1 }
          })
          assert.deepStrictEqual(notFound, {
            decision: "deny",
            reasonCode: "budget-not-found",
            affectedScopes: [`tenant:${missing}`]
          })
          yield* ledger.freezeBudget({ tenant, scope: app, unit: "TOKENS" })
          assert.strictEqual((yield* decide(1)).reasonCode, "budget-frozen")
          yield* ledger.closeBudget({ tenant, scope: app, unit: "TOKENS" })
          assert.strictEqual((yield* decide(1)).reasonCode, "budget-closed")
        }))

      test("denies debt-outstanding and overdraft-limit-exceeded", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels(1_000, 100, 500)
          const held = yield* reserve(tenant, subject, 100, { overagePolicy: "ALLOW_WITH_OVERDRAFT" })
          yield* commit(tenant, held.reservationId, 150)
          yield* ledger.setOverdraftLimit({ tenant, scope: app, unit: "TOKENS", overdraftLimit: 0 })
          const decide = ledger.decide({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 0 } })
          assert.strictEqual((yield* decide).reasonCode, "debt-outstanding")
          yield* ledger.fundBudget({ tenant, scope: app, unit: "TOKENS", operation: "repay-debt", amount: 50 })
          assert.strictEqual((yield* decide).decision, "allow")
          const first = yield* reserve(tenant, subject, 0)
          yield* commit(tenant, first.reservationId, 10)
          assert.strictEqual((yield* decide).reasonCode, "overdraft-limit-exceeded")
        }))
    })

    describe("event", () => {
      test("REJECT: applied on every scope when all can cover it, else budget-exceeded naming the scope", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels()
          const applied = yield* event(tenant, subject, 200, "REJECT")
          assert.strictEqual(applied.status, "applied")
          assert.isString(applied.eventId)
          assert.deepStrictEqual(applied.charged, { unit: "TOKENS", amount: 200n })
          assert.deepStrictEqual(applied.balances.map((b) => [b.scope, b.spent]), [[top, 200n], [app, 200n]])
          const before = yield* balancesOf(tenant, subject)
          const reason = yield* reasonOf(event(tenant, subject, 301, "REJECT"), "Ledger.event")
          assert.strictEqual(reason.message, `${app}: requested 301, 300 remaining`)
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
          const second = yield* event(tenant, subject, 300, "REJECT")
          assert.notStrictEqual(second.eventId, applied.eventId)
        }))

      test("ALLOW_IF_AVAILABLE (the default): capped at the smallest remaining; short scopes become over-limit", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels()
          const applied = yield* event(tenant, subject, 800)
          assert.strictEqual(applied.charged.amount, 500n)
          assert.deepStrictEqual(numbers(pick(applied.balances, app)), {
            allocated: 500n,
            spent: 500n,
            reserved: 0n,
            debt: 0n,
            remaining: 0n,
            isOverLimit: true
          })
          assert.deepStrictEqual(numbers(pick(applied.balances, top)), {
            allocated: 1_000n,
            spent: 500n,
            reserved: 0n,
            debt: 0n,
            remaining: 500n,
            isOverLimit: false
          })
        }))

      test("ALLOW_WITH_OVERDRAFT: debt within the limit, else overdraft-limit-exceeded", () =>
        Effect.gen(function*() {
          const { app, subject, tenant, top } = yield* twoLevels(1_000, 500, 200)
          const applied = yield* event(tenant, subject, 650, "ALLOW_WITH_OVERDRAFT")
          assert.strictEqual(applied.charged.amount, 650n)
          assert.deepStrictEqual(numbers(pick(applied.balances, app)), {
            allocated: 500n,
            spent: 500n,
            reserved: 0n,
            debt: 150n,
            remaining: -150n,
            isOverLimit: false
          })
          assert.strictEqual(pick(applied.balances, top).spent, 650n)
          const before = yield* balancesOf(tenant, subject)
          const reason = yield* reasonOf(event(tenant, subject, 51, "ALLOW_WITH_OVERDRAFT"))
          assert.strictEqual(reason._tag, "OverdraftLimitExceeded")
          assert.strictEqual(reason.message, `${app}: debt 150 + shortfall 51 exceeds the overdraft limit 200`)
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
        }))

      test("ALLOW_WITH_OVERDRAFT never takes a remaining below -2^63: an invalid actual, nothing written", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          const subject = { tenant }
          const scope = `tenant:${tenant}`
          const max = 9_223_372_036_854_775_807n
          yield* budget(tenant, scope, max)
          yield* event(tenant, subject, max - 2n)
          // allocated reset far below what was spent: remaining -2^63 + 3
          yield* ledger.fundBudget({ tenant, scope, unit: "TOKENS", operation: "reset", amount: 0 })
          yield* ledger.setOverdraftLimit({ tenant, scope, unit: "TOKENS", overdraftLimit: 100 })
          const edge = yield* event(tenant, subject, 3, "ALLOW_WITH_OVERDRAFT")
          assert.deepStrictEqual(numbers(pick(edge.balances, scope)), {
            allocated: 0n,
            spent: max - 2n,
            reserved: 0n,
            debt: 3n,
            remaining: -(2n ** 63n),
            isOverLimit: false
          })
          const before = yield* balancesOf(tenant, subject)
          const reason = yield* reasonOf(event(tenant, subject, 1, "ALLOW_WITH_OVERDRAFT"), "Ledger.event")
          assert.strictEqual(reason._tag, "InvalidRequest")
          assert.strictEqual(reason.message, `invalid actual (1): ${scope}: remaining would fall below -2^63`)
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
        }))

      test("a frozen or closed budget refuses events", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels()
          yield* ledger.freezeBudget({ tenant, scope: app, unit: "TOKENS" })
          assert.strictEqual((yield* reasonOf(event(tenant, subject, 1)))._tag, "BudgetFrozen")
          yield* ledger.closeBudget({ tenant, scope: app, unit: "TOKENS" })
          assert.strictEqual((yield* reasonOf(event(tenant, subject, 1)))._tag, "BudgetClosed")
        }))
    })

    describe("balances", () => {
      test("the subject's budgeted scopes; with includeChildren every budget below it; by unit on request", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant, top } = yield* twoLevels()
          yield* budget(tenant, `${app}/agent:a`, 10)
          yield* budget(tenant, `${app}/agent:b`, 20, { unit: "CREDITS" })
          yield* budget(tenant, `tenant:${tenant}/app:supportive`, 30)
          yield* budget(tenant, top, 40, { unit: "CREDITS" })
          const own = identity(yield* ledger.balances({ tenant, subject }))
          assert.deepStrictEqual(own.balances.map((b) => `${b.scope} ${b.unit}`), [
            `${top} TOKENS`,
            `${top} CREDITS`,
            `${app} TOKENS`
          ])
          assert.isFalse(own.hasMore)
          const children = identity(yield* ledger.balances({ tenant, subject, includeChildren: true }))
          assert.deepStrictEqual(children.balances.map((b) => `${b.scope} ${b.unit}`), [
            `${top} TOKENS`,
            `${top} CREDITS`,
            `${app} TOKENS`,
            `${app}/agent:a TOKENS`,
            `${app}/agent:b CREDITS`
          ])
          const tokens = yield* ledger.balances({ tenant, subject, includeChildren: true, unit: "TOKENS" })
          assert.deepStrictEqual(tokens.balances.map((b) => b.scope), [top, app, `${app}/agent:a`])
          const everything = yield* ledger.balances({ tenant, subject: { tenant }, includeChildren: true })
          assert.strictEqual(everything.balances.length, 6)
          const nothing = yield* ledger.balances({ tenant, subject: { tenant, app: "none" }, unit: "RISK_POINTS" })
          assert.deepStrictEqual(nothing, { balances: [], hasMore: false })
        }))

      test("pages of at most `limit`, continued by the cursor, cover everything once", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          const top = `tenant:${tenant}`
          yield* budget(tenant, top, 1)
          for (const agent of ["a", "b", "c", "d"]) {
            yield* budget(tenant, `${top}/agent:${agent}`, 1)
            yield* budget(tenant, `${top}/agent:${agent}`, 1, { unit: "CREDITS" })
          }
          const seen: Array<string> = []
          let cursor: string | undefined
          let pages = 0
          do {
            const page = yield* ledger.balances({
              tenant,
              subject: { tenant },
              includeChildren: true,
              limit: 2,
              ...(cursor === undefined ? {} : { cursor })
            })
            assert.isAtMost(page.balances.length, 2)
            seen.push(...page.balances.map((b) => `${b.scope} ${b.unit}`))
            cursor = page.hasMore ? page.nextCursor : undefined
            if (page.hasMore) assert.isString(page.nextCursor)
            pages++
          } while (cursor !== undefined)
          assert.strictEqual(pages, 5)
          assert.strictEqual(seen.length, 9)
          assert.strictEqual(new Set(seen).size, 9)
          const bad = yield* reasonOf(ledger.balances({ tenant, subject: { tenant }, cursor: "not-a-cursor" }))
          assert.strictEqual(bad._tag, "InvalidRequest")
          assert.strictEqual((bad as Ledger.InvalidRequest).field, "cursor")
        }))
    })

    describe("reservations", () => {
      test("getReservation shows everything the reservation was made with", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant, top } = yield* twoLevels()
          yield* advance("3 seconds")
          const held = yield* reserve(tenant, subject, 100, {
            ttlMs: 20_000,
            graceMs: 1_000,
            overagePolicy: "REJECT",
            idempotencyKey: "g-1",
            metadata: { run: "r-1" }
          })
          const detail = yield* ledger.getReservation({ tenant, reservationId: held.reservationId! })
          assert.deepStrictEqual(detail, {
            reservationId: held.reservationId!,
            status: "active",
            subject,
            action,
            reserved: { unit: "TOKENS", amount: 100n },
            createdAtMs: 3_000,
            expiresAtMs: 23_000,
            graceMs: 1_000,
            overagePolicy: "REJECT",
            extensions: 0,
            scopePath: app,
            affectedScopes: [top, app],
            idempotencyKey: "g-1",
            metadata: { run: "r-1" }
          })
        }))

      test("getReservation and listReservations give back the subject as reserved, dimensions and all", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels()
          const withDimensions: Ledger.Subject = { ...subject, dimensions: { region: "eu", tier: "gold" } }
          const plain = yield* reserve(tenant, subject, 10)
          const dimensioned = yield* reserve(tenant, withDimensions, 10)
          const detail = (id: string) =>
            Effect.map(ledger.getReservation({ tenant, reservationId: id }), (r) => r.subject)
          assert.deepStrictEqual(yield* detail(plain.reservationId!), subject)
          assert.deepStrictEqual(yield* detail(dimensioned.reservationId!), withDimensions)
          const listed = yield* ledger.listReservations({ tenant })
          assert.deepStrictEqual(listed.reservations.map((r) => r.subject), [subject, withDimensions])
          // a dimensions filter keeps the reservations with every dimension asked for, same value
          const ids = (dimensions: Record<string, string>) =>
            Effect.map(
              ledger.listReservations({ tenant, subject: { dimensions } }),
              (page) => page.reservations.map((r) => r.reservationId)
            )
          assert.deepStrictEqual(yield* ids({ region: "eu" }), [dimensioned.reservationId])
          assert.deepStrictEqual(yield* ids({ region: "eu", tier: "gold" }), [dimensioned.reservationId])
          assert.deepStrictEqual(yield* ids({ region: "us" }), [])
          assert.deepStrictEqual(yield* ids({ region: "eu", tier: "silver" }), [])
          assert.deepStrictEqual(yield* ids({}), [plain.reservationId, dimensioned.reservationId])
        }))

      test("listReservations filters by status, subject and key, oldest first, a page at a time", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant } = yield* twoLevels(10_000, 10_000)
          yield* budget(tenant, `tenant:${tenant}/app:other`, 10_000)
          const ids: Array<string> = []
          for (let i = 0; i < 5; i++) {
            ids.push((yield* reserve(tenant, subject, 1, { idempotencyKey: `l-${i}` })).reservationId!)
            yield* advance("1 millis")
          }
          const other = (yield* reserve(tenant, { tenant, app: "other" }, 1)).reservationId!
          yield* commit(tenant, ids[1], 1)
          yield* release(tenant, ids[2])
          const all = yield* ledger.listReservations({ tenant })
          assert.deepStrictEqual(all.reservations.map((r) => r.reservationId), [...ids, other])
          assert.isFalse(all.hasMore)
          const active = yield* ledger.listReservations({ tenant, status: "active" })
          assert.deepStrictEqual(active.reservations.map((r) => r.reservationId), [ids[0], ids[3], ids[4], other])
          const committed = yield* ledger.listReservations({ tenant, status: "committed" })
          assert.deepStrictEqual(committed.reservations.map((r) => r.reservationId), [ids[1]])
          assert.strictEqual(committed.reservations[0]!.committed?.amount, 1n)
          assert.strictEqual(committed.reservations[0]!.finalizedAtMs, 5)
          const bySubject = yield* ledger.listReservations({ tenant, subject: { app: "other" } })
          assert.deepStrictEqual(bySubject.reservations.map((r) => r.reservationId), [other])
          const byKey = yield* ledger.listReservations({ tenant, idempotencyKey: "l-3" })
          assert.deepStrictEqual(byKey.reservations.map((r) => r.reservationId), [ids[3]])
          const seen: Array<string> = []
          let cursor: string | undefined
          do {
            const page = yield* ledger.listReservations({
              tenant,
              limit: 2,
              ...(cursor === undefined ? {} : { cursor })
            })
            assert.isAtMost(page.reservations.length, 2)
            seen.push(...page.reservations.map((r) => r.reservationId))
            cursor = page.hasMore ? page.nextCursor : undefined
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, [...ids, other])
          assert.strictEqual((yield* ledger.listReservations({ tenant, limit: 200 })).reservations.length, 6)
          const bad = yield* reasonOf(ledger.listReservations({ tenant, cursor: "not-a-cursor" }))
          assert.strictEqual((bad as Ledger.InvalidRequest).field, "cursor")
        }))
    })

    describe("tenancy", () => {
      test("another tenant's reservations and scopes are forbidden", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const mine = yield* twoLevels()
          const intruder = freshTenant()
          yield* budget(intruder, `tenant:${intruder}`, 1_000)
          const held = yield* reserve(mine.tenant, mine.subject, 100)
          const id = held.reservationId!
          const attempts: Array<[string, Effect.Effect<unknown, Ledger.LedgerError>]> = [
            ["commit", ledger.commit({ tenant: intruder, reservationId: id, actual: { unit: "TOKENS", amount: 1 } })],
            ["release", ledger.release({ tenant: intruder, reservationId: id })],
            ["extend", ledger.extend({ tenant: intruder, reservationId: id, extendByMs: 1_000 })],
            ["getReservation", ledger.getReservation({ tenant: intruder, reservationId: id })],
            [
              "reserve",
              ledger.reserve({
                tenant: intruder,
                subject: mine.subject,
                action,
                estimate: { unit: "TOKENS", amount: 1 }
              })
            ],
            [
              "decide",
              ledger.decide({
                tenant: intruder,
                subject: mine.subject,
                action,
                estimate: { unit: "TOKENS", amount: 1 }
              })
            ],
            [
              "event",
              ledger.event({ tenant: intruder, subject: mine.subject, action, actual: { unit: "TOKENS", amount: 1 } })
            ],
            ["balances", ledger.balances({ tenant: intruder, subject: { tenant: mine.tenant } })],
            ["listReservations", ledger.listReservations({ tenant: intruder, subject: { tenant: mine.tenant } })],
            ["createBudget", ledger.createBudget({ tenant: intruder, scope: mine.app, unit: "TOKENS", allocated: 1 })],
            [
              "fundBudget",
              ledger.fundBudget({ tenant: intruder, scope: mine.top, unit: "TOKENS", operation: "debit", amount: 1 })
            ],
            ["freezeBudget", ledger.freezeBudget({ tenant: intruder, scope: mine.top, unit: "TOKENS" })],
            ["closeBudget", ledger.closeBudget({ tenant: intruder, scope: mine.top, unit: "TOKENS" })]
          ]
          for (const [method, attempt] of attempts) {
            const reason = yield* reasonOf(attempt, `Ledger.${method}`)
            assert.strictEqual(reason._tag, "Forbidden", method)
            assert.strictEqual((reason as Ledger.Forbidden).tenant, intruder)
          }
          const theirs = yield* ledger.listReservations({ tenant: intruder })
          assert.deepStrictEqual(theirs.reservations, [])
          const after = yield* balancesOf(mine.tenant, mine.subject)
          assert.deepStrictEqual(after[mine.top], {
            allocated: 1_000n,
            spent: 0n,
            reserved: 100n,
            debt: 0n,
            remaining: 900n,
            isOverLimit: false
          })
          assert.strictEqual(
            (yield* ledger.getReservation({ tenant: mine.tenant, reservationId: id })).status,
            "active"
          )
        }))
    })

    describe("dry run", () => {
      test("evaluates like a reservation, answers allow or deny, and changes nothing", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant, top } = yield* twoLevels()
          const before = yield* balancesOf(tenant, subject)
          const allowed = yield* reserve(tenant, subject, 500, { dryRun: true })
          assert.strictEqual(allowed.decision, "allow")
          assert.isUndefined(allowed.reservationId)
          assert.isUndefined(allowed.expiresAtMs)
          assert.deepStrictEqual(allowed.affectedScopes, [top, app])
          assert.strictEqual(pick(allowed.balances, app).remaining, 500n)
          const denied = yield* reserve(tenant, subject, 501, { dryRun: true })
          assert.strictEqual(denied.decision, "deny")
          assert.strictEqual(denied.reasonCode, "budget-exceeded")
          assert.deepStrictEqual(denied.affectedScopes, [top, app])
          const missing = yield* reserve(tenant, { tenant, workspace: "w" }, 1, {
            dryRun: true,
            estimate: { unit: "CREDITS", amount: 1 }
          })
            .pipe(Effect.flip, Effect.map((error) => error.reason._tag))
          assert.strictEqual(missing, "UnitMismatch")
          const nowhere = freshTenant()
          const notFound = yield* ledger.reserve({
            tenant: nowhere,
            subject: { tenant: nowhere },
            action,
            estimate: { unit: "TOKENS", amount: 1 },
            dryRun: true
          })
          assert.strictEqual(notFound.decision, "deny")
          assert.strictEqual(notFound.reasonCode, "budget-not-found")
          assert.deepStrictEqual(yield* balancesOf(tenant, subject), before)
          assert.deepStrictEqual((yield* ledger.listReservations({ tenant })).reservations, [])
        }))
    })

    describe("budget administration", () => {
      test("create: a budget per scope and unit, once", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = freshTenant()
          const created = yield* ledger.createBudget({
            tenant,
            scope: { tenant, app: "support" },
            unit: "USD_MICROCENTS",
            allocated: 100_000_000,
            overdraftLimit: 5_000_000
          })
          assert.deepStrictEqual(created.balances, [{
            scope: `tenant:${tenant}/app:support`,
            unit: "USD_MICROCENTS",
            status: "active",
            allocated: 100_000_000n,
            spent: 0n,
            reserved: 0n,
            debt: 0n,
            overdraftLimit: 5_000_000n,
            remaining: 100_000_000n,
            isOverLimit: false
          }])
          const again = yield* reasonOf(
            ledger.createBudget({
              tenant,
              scope: `tenant:${tenant}/app:support`,
              unit: "USD_MICROCENTS",
              allocated: 1
            }),
            "Ledger.createBudget"
          )
          assert.strictEqual(again._tag, "BudgetExists")
          assert.strictEqual(again.message, `tenant:${tenant}/app:support: a USD_MICROCENTS budget already exists`)
          const otherUnit = yield* ledger.createBudget({
            tenant,
            scope: `tenant:${tenant}/app:support`,
            unit: "TOKENS",
            allocated: 1
          })
          assert.strictEqual(otherUnit.balances[0]!.unit, "TOKENS")
          const missing = yield* reasonOf(
            ledger.fundBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", operation: "credit", amount: 1 })
          )
          assert.strictEqual(missing._tag, "NotFound")
          assert.strictEqual(missing.message, `no TOKENS budget at tenant:${tenant}`)
          assert.strictEqual(
            (yield* reasonOf(ledger.freezeBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS" })))._tag,
            "NotFound"
          )
        }))

      test("fund: credit, debit (never below a remaining of 0) and reset keep spent, reserved and debt", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { subject, tenant, top } = yield* twoLevels()
          yield* reserve(tenant, { tenant }, 300)
          yield* event(tenant, subject, 100)
          const fund = (operation: Ledger.FundOperation, amount: number) =>
            Effect.map(ledger.fundBudget({ tenant, scope: top, unit: "TOKENS", operation, amount }), identity)
          const credited = yield* fund("credit", 500)
          assert.strictEqual(credited.operation, "credit")
          assert.strictEqual(credited.previous.allocated, 1_000n)
          assert.deepStrictEqual(numbers(credited.balances[0]!), {
            allocated: 1_500n,
            spent: 100n,
            reserved: 300n,
            debt: 0n,
            remaining: 1_100n,
            isOverLimit: false
          })
          const debited = yield* fund("debit", 1_100)
          assert.strictEqual(debited.balances[0]!.remaining, 0n)
          const refused = yield* reasonOf(fund("debit", 1), "Ledger.fundBudget")
          assert.strictEqual(refused._tag, "BudgetExceeded")
          assert.strictEqual(refused.message, `${top}: requested 1, 0 remaining`)
          const reset = yield* fund("reset", 200)
          assert.deepStrictEqual(numbers(reset.balances[0]!), {
            allocated: 200n,
            spent: 100n,
            reserved: 300n,
            debt: 0n,
            remaining: -200n,
            isOverLimit: false
          })
        }))

      test("fund: repaying clears debt first and credits the rest; it reconciles over-limit", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels(1_000, 100, 500)
          const held = yield* reserve(tenant, subject, 100, { overagePolicy: "ALLOW_WITH_OVERDRAFT" })
          yield* commit(tenant, held.reservationId, 400)
          const repay = (amount: number) =>
            Effect.map(
              ledger.fundBudget({ tenant, scope: app, unit: "TOKENS", operation: "repay-debt", amount }),
              identity
            )
          const partial = yield* repay(100)
          assert.deepStrictEqual(numbers(partial.balances[0]!), {
            allocated: 100n,
            spent: 100n,
            reserved: 0n,
            debt: 200n,
            remaining: -200n,
            isOverLimit: false
          })
          const rest = yield* repay(250)
          assert.deepStrictEqual(numbers(rest.balances[0]!), {
            allocated: 150n,
            spent: 100n,
            reserved: 0n,
            debt: 0n,
            remaining: 50n,
            isOverLimit: false
          })
          const capped = yield* reserve(tenant, subject, 50)
          const over = yield* commit(tenant, capped.reservationId, 80)
          assert.isTrue(pick(over.balances, app).isOverLimit)
          assert.strictEqual((yield* reasonOf(reserve(tenant, subject, 0)))._tag, "OverdraftLimitExceeded")
          const funded = yield* ledger.fundBudget({
            tenant,
            scope: app,
            unit: "TOKENS",
            operation: "credit",
            amount: 10
          })
          assert.isFalse(funded.balances[0]!.isOverLimit)
          assert.strictEqual((yield* reserve(tenant, subject, 10)).decision, "allow")
        }))

      test("freeze and unfreeze: a frozen budget refuses reservations, events and funding, but settles what it holds", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels()
          const held = yield* reserve(tenant, subject, 100)
          const frozen = yield* ledger.freezeBudget({ tenant, scope: app, unit: "TOKENS" })
          assert.strictEqual(frozen.balances[0]!.status, "frozen")
          assert.strictEqual((yield* reasonOf(reserve(tenant, subject, 1)))._tag, "BudgetFrozen")
          assert.strictEqual((yield* reasonOf(event(tenant, subject, 1)))._tag, "BudgetFrozen")
          assert.strictEqual(
            (yield* reasonOf(ledger.fundBudget({ tenant, scope: app, unit: "TOKENS", operation: "credit", amount: 1 })))
              ._tag,
            "BudgetFrozen"
          )
          assert.strictEqual(
            (yield* reasonOf(ledger.freezeBudget({ tenant, scope: app, unit: "TOKENS" }), "Ledger.freezeBudget"))._tag,
            "BudgetFrozen"
          )
          assert.strictEqual((yield* commit(tenant, held.reservationId, 60)).status, "committed")
          const limited = yield* ledger.setOverdraftLimit({ tenant, scope: app, unit: "TOKENS", overdraftLimit: 9 })
          assert.strictEqual(limited.balances[0]!.overdraftLimit, 9n)
          const thawed = yield* ledger.unfreezeBudget({ tenant, scope: app, unit: "TOKENS" })
          assert.strictEqual(thawed.balances[0]!.status, "active")
          assert.strictEqual((yield* reserve(tenant, subject, 1)).decision, "allow")
          const notFrozen = yield* reasonOf(
            ledger.unfreezeBudget({ tenant, scope: app, unit: "TOKENS" }),
            "Ledger.unfreezeBudget"
          )
          assert.strictEqual(notFrozen._tag, "InvalidRequest")
        }))

      test("close: for good", () =>
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const { app, subject, tenant } = yield* twoLevels()
          yield* ledger.freezeBudget({ tenant, scope: app, unit: "TOKENS" })
          const closed = yield* ledger.closeBudget({ tenant, scope: app, unit: "TOKENS" })
          assert.strictEqual(closed.balances[0]!.status, "closed")
          const scope = { tenant, scope: app, unit: "TOKENS" as const }
          const refusals = [
            reserve(tenant, subject, 1),
            event(tenant, subject, 1),
            ledger.fundBudget({ ...scope, operation: "credit", amount: 1 }),
            ledger.freezeBudget(scope),
            ledger.unfreezeBudget(scope),
            ledger.closeBudget(scope),
            ledger.setOverdraftLimit({ ...scope, overdraftLimit: 1 })
          ]
          for (const refusal of refusals) assert.strictEqual((yield* reasonOf(refusal))._tag, "BudgetClosed")
          const listed = yield* ledger.balances({ tenant, subject })
          assert.strictEqual(pick(listed.balances, app).status, "closed")
        }))
    })

    describe("errors", () => {
      test("LedgerError is a Schema: it serialises with amounts as decimal strings", () =>
        Effect.gen(function*() {
          const { subject, tenant } = yield* twoLevels()
          const error = yield* Effect.flip(reserve(tenant, subject, 700))
          const encoded = Schema.encodeSync(Schema.toCodecJson(Ledger.LedgerError))(error)
          assert.deepStrictEqual(JSON.parse(JSON.stringify(encoded)), {
            _tag: "LedgerError",
            method: "Ledger.reserve",
            reason: {
              _tag: "BudgetExceeded",
              scope: `tenant:${tenant}/app:support`,
              unit: "TOKENS",
              requested: "700",
              remaining: "500"
            }
          })
          const decoded = Schema.decodeUnknownSync(Schema.toCodecJson(Ledger.LedgerError))(encoded)
          assert.strictEqual(decoded.message, error.message)
          assert.isFalse(decoded.isRetryable)
          assert.isTrue(Ledger.isLedgerError(error))
        }))
    })
  })
}
