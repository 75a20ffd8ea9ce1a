// The code and the figures of docs/concepts/cost-ledger.md: its code blocks
// are regions of this file (scripts/docs-check.mjs keeps them equal), and the
// figures of the ledger's and the guard's answers that the page quotes are
// pinned by tests below (its measured sizes and CLI outputs are not). The
// ledger reads `now` from Effect's Clock, so under the TestClock of
// `it.effect` every expiry is exact.
import { assert, describe, it } from "@effect/vitest"
import { Agent, Guard, Ledger, LedgerStore, ModelProfile, Report } from "@timebox/core"
import { runUnderTestClock } from "@timebox/core/testing"
import { SupportAgent } from "@timebox/example-support-agent"
import { Duration, Effect, Fiber, Layer, Schema } from "effect"
import { Prompt } from "effect/ai"
import { TestClock } from "effect/testing"

const question = "Where is my order?"

// The reason of a failed ledger call.
const reasonOf = <A, R>(effect: Effect.Effect<A, Ledger.LedgerError, R>) =>
  Effect.map(Effect.flip(effect), (error) => error.reason)

describe("amounts and units", () => {
  // region: amounts
  // Money is a whole number of USD_MICROCENTS: 10^8 per dollar, 10^6 per cent.
  const dollar = 100_000_000n
  const perCall: Ledger.Amount = { unit: "USD_MICROCENTS", amount: dollar / 100n } // $0.01

  // An amount decodes from a bigint, a safe-integer number or a decimal string,
  // and encodes as a decimal string, so amounts above 2^53 survive JSON.
  const largest = Schema.decodeUnknownSync(Ledger.AmountValue)("9223372036854775807") // 2^63 − 1
  const onTheWire = Schema.encodeSync(Ledger.AmountValue)(1_200n) // "1200"
  // endregion

  it("$0.01 is 1,000,000 µ¢; amounts are exact up to 2^63 − 1", () => {
    assert.strictEqual(perCall.amount, 1_000_000n)
    assert.strictEqual(largest, Ledger.maxAmount)
    assert.strictEqual(largest, 2n ** 63n - 1n)
    assert.strictEqual(onTheWire, "1200")
    assert.strictEqual(Schema.decodeUnknownSync(Ledger.AmountValue)(42), 42n)
    const refused = Schema.decodeUnknownExit(Ledger.AmountValue)
    for (const bad of [1.5, -1, 2 ** 53, "9223372036854775808", "1e3"]) {
      assert.isTrue(refused(bad)._tag === "Failure", String(bad))
    }
    assert.strictEqual(Schema.decodeUnknownSync(Ledger.SignedAmountValue)("-200"), -200n)
  })
})

describe("subjects and scopes", () => {
  it("derives the cumulative paths of the levels a subject names, absent levels skipped", () => {
    // region: scopes
    const subject: Ledger.Subject = { tenant: "acme", app: "support", agent: "triage" }
    const scopes = Ledger.scopes(subject)
    // ["tenant:acme", "tenant:acme/app:support", "tenant:acme/app:support/agent:triage"]
    // endregion
    assert.deepStrictEqual(scopes, ["tenant:acme", "tenant:acme/app:support", "tenant:acme/app:support/agent:triage"])
    assert.deepStrictEqual(Ledger.scopes({ tenant: "acme", agent: "bot", dimensions: { region: "eu" } }), [
      "tenant:acme",
      "tenant:acme/agent:bot"
    ])
  })

  it.effect("a subject must name a level, from [a-zA-Z0-9_.-]", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const action = { kind: "llm.completion", name: "fast" }
      const estimate = { unit: "TOKENS" as const, amount: 1 }
      const empty = yield* reasonOf(ledger.reserve({ tenant: "acme", subject: {}, action, estimate }))
      assert.strictEqual(empty._tag, "InvalidRequest")
      const slash = yield* reasonOf(ledger.reserve({ tenant: "acme", subject: { app: "a/b" }, action, estimate }))
      assert.strictEqual(slash._tag, "InvalidRequest")
      assert.strictEqual((slash as Ledger.InvalidRequest).field, "subject.app")
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

// region: setup
const tenant = "acme"
const subject: Ledger.Subject = { tenant, app: "support", agent: "triage" }
const action: Ledger.Action = { kind: "llm.completion", name: "fast" }
const usd = (amount: number): Ledger.Amount => ({ unit: "USD_MICROCENTS", amount: BigInt(amount) })
// endregion

it.effect("each build of Ledger.layerMemory is a ledger of its own", () =>
  Effect.gen(function*() {
    const create = Effect.flatMap(
      Ledger.Ledger,
      (ledger) => ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "TOKENS", allocated: 1 })
    )
    const read = Effect.flatMap(Ledger.Ledger, (ledger) =>
      ledger.balances({ tenant: "acme", subject: { tenant: "acme" } }))
    yield* Effect.provide(create, Ledger.layerMemory)
    const elsewhere = yield* Effect.provide(read, Ledger.layerMemory)
    assert.deepStrictEqual(elsewhere.balances, [])
  }))

describe("reserve, commit, release, extend", () => {
  // region: lifecycle
  const lifecycle = Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    // $1.00 for the tenant, $0.10 for its support app; the agent has no budget of its own.
    yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 100_000_000 })
    yield* ledger.createBudget({
      tenant,
      scope: { tenant, app: "support" },
      unit: "USD_MICROCENTS",
      allocated: 10_000_000
    })

    // Before a call: hold its worst case, 1¢, on every budgeted scope of the subject.
    const held = yield* ledger.reserve({ tenant, subject, action, estimate: usd(1_000_000) })
    // After it: charge what it really cost; the rest of the hold goes back.
    const done = yield* ledger.commit({ tenant, reservationId: held.reservationId ?? "", actual: usd(420_000) })

    // A call that fails gives its whole hold back; a long one extends it first.
    const second = yield* ledger.reserve({ tenant, subject, action, estimate: usd(1_000_000), ttlMs: 30_000 })
    const id = second.reservationId ?? ""
    const beat = yield* ledger.extend({ tenant, reservationId: id, extendByMs: 30_000 })
    const back = yield* ledger.release({ tenant, reservationId: id, reason: "model error" })
    return { held, done, beat, back }
  })
  // endregion

  it.effect("holds on the budgeted scopes, charges the actual, returns the rest", () =>
    Effect.gen(function*() {
      const { back, beat, done, held } = yield* lifecycle
      assert.strictEqual(held.decision, "allow")
      assert.strictEqual(held.reservationId, "rsv_1")
      assert.strictEqual(held.expiresAtMs, 60_000)
      assert.deepStrictEqual(held.affectedScopes, [
        "tenant:acme",
        "tenant:acme/app:support",
        "tenant:acme/app:support/agent:triage"
      ])
      assert.strictEqual(held.scopePath, "tenant:acme/app:support/agent:triage")
      assert.deepStrictEqual(
        held.balances.map((b) => [b.scope, b.allocated, b.spent, b.reserved, b.remaining]),
        [
          ["tenant:acme", 100_000_000n, 0n, 1_000_000n, 99_000_000n],
          ["tenant:acme/app:support", 10_000_000n, 0n, 1_000_000n, 9_000_000n]
        ]
      )
      assert.strictEqual(done.charged.amount, 420_000n)
      assert.strictEqual(done.released.amount, 580_000n)
      assert.deepStrictEqual(
        done.balances.map((b) => [b.scope, b.spent, b.reserved, b.remaining]),
        [
          ["tenant:acme", 420_000n, 0n, 99_580_000n],
          ["tenant:acme/app:support", 420_000n, 0n, 9_580_000n]
        ]
      )
      assert.strictEqual(beat.expiresAtMs, 60_000)
      assert.strictEqual(beat.extensions, 1)
      assert.strictEqual(back.released.amount, 1_000_000n)
      assert.deepStrictEqual(back.balances.map((b) => b.remaining), [99_580_000n, 9_580_000n])
      for (const b of back.balances) assert.strictEqual(b.remaining, b.allocated - b.spent - b.reserved - b.debt)
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("extend counts from expiresAt, while now ≤ expiresAt, at most 10 times", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 100_000_000 })
      const held = yield* ledger.reserve({ tenant, subject, action, estimate: usd(1), ttlMs: 1_000 })
      const id = held.reservationId ?? ""
      for (let i = 1; i <= 10; i++) {
        assert.strictEqual((yield* ledger.extend({ tenant, reservationId: id, extendByMs: 1_000 })).extensions, i)
      }
      const eleventh = yield* reasonOf(ledger.extend({ tenant, reservationId: id, extendByMs: 1_000 }))
      assert.strictEqual(eleventh._tag, "MaxExtensionsExceeded")
      const late = yield* ledger.reserve({ tenant, subject, action, estimate: usd(1), ttlMs: 1_000, graceMs: 5_000 })
      yield* TestClock.adjust("1001 millis")
      const extendLate = yield* reasonOf(
        ledger.extend({ tenant, reservationId: late.reservationId ?? "", extendByMs: 1 })
      )
      assert.strictEqual(extendLate._tag, "ReservationExpired")
      // commit is still accepted in the grace period
      const committed = yield* ledger.commit({ tenant, reservationId: late.reservationId ?? "", actual: usd(1) })
      assert.strictEqual(committed.status, "committed")
      const again = yield* reasonOf(ledger.commit({ tenant, reservationId: late.reservationId ?? "", actual: usd(1) }))
      assert.strictEqual(again.message, `reservation ${late.reservationId} is already committed`)
    }).pipe(Effect.provide(Ledger.layerMemory), Effect.provideService(Ledger.SweepInterval, Duration.infinity)))
})

describe("expiry and the sweeper", () => {
  // region: sweep-test
  // The memory ledger without its background sweeper: the test sweeps by hand.
  const ManualSweep = Ledger.layer.pipe(
    Layer.provide(LedgerStore.layerMemory),
    Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
  )

  it.effect("a hold nobody settles comes back after expiresAt + grace", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "TOKENS", allocated: 10_000 })
      const held = yield* ledger.reserve({
        tenant,
        subject,
        action,
        estimate: { unit: "TOKENS", amount: 8_000 },
        ttlMs: 30_000, // expiresAt = 30 s (TestClock starts at 0)
        graceMs: 5_000 // commit and release are accepted until 35 s
      })
      const id = held.reservationId ?? ""
      // The process that held it dies: nobody commits or releases.
      yield* TestClock.adjust("35 seconds")
      assert.deepStrictEqual((yield* ledger.sweep({})).expired, []) // 35 s: still within the grace

      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual((yield* ledger.sweep({})).expired, [id])

      const [balance] = (yield* ledger.balances({ tenant, subject: { tenant } })).balances
      assert.strictEqual(balance?.reserved, 0n)
      assert.strictEqual(balance?.remaining, 10_000n) // the 8,000 came back
      const late = yield* Effect.flip(
        ledger.commit({ tenant, reservationId: id, actual: { unit: "TOKENS", amount: 10 } })
      )
      assert.strictEqual(late.reason._tag, "ReservationExpired")
    }).pipe(Effect.provide(ManualSweep)))
  // endregion

  // region: sweep-background
  it.effect("the layer's sweeper runs every SweepInterval on the TestClock", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "TOKENS", allocated: 10_000 })
      yield* ledger.reserve({
        tenant,
        subject,
        action,
        estimate: { unit: "TOKENS", amount: 8_000 },
        ttlMs: 30_000,
        graceMs: 5_000
      })
      yield* TestClock.adjust("36 seconds") // the sweep at 36 s expires it
      const expired = yield* ledger.listReservations({ tenant, status: "expired" })
      assert.strictEqual(expired.reservations.length, 1)
    }).pipe(Effect.provide(Ledger.layerMemory))) // SweepInterval: 1 second by default
  // endregion

  it.effect("Ledger.Retention: a key is forgotten one hour on, and the same event debits again", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "TOKENS", allocated: 10_000 })
      const event = ledger.event({
        tenant,
        subject,
        action,
        actual: { unit: "TOKENS", amount: 100 },
        idempotencyKey: "e1"
      })
      const first = yield* event
      yield* TestClock.adjust("59 minutes") // the sweeper runs every second meanwhile
      assert.strictEqual((yield* event).eventId, first.eventId) // replayed: no second debit
      yield* TestClock.adjust("2 minutes")
      assert.notStrictEqual((yield* event).eventId, first.eventId) // forgotten: debited again
      const [balance] = (yield* ledger.balances({ tenant, subject: { tenant } })).balances
      assert.strictEqual(balance?.spent, 200n)
    }).pipe(Effect.provide(
      // region: retention
      // A ledger that remembers keys and finished reservations for one hour.
      Ledger.layerMemory.pipe(Layer.provide(Layer.succeed(Ledger.Retention, Duration.hours(1))))
      // endregion
    )))

  it.effect("before the sweep at 36 s the amount is still held", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "TOKENS", allocated: 10_000 })
      const held = yield* ledger.reserve({
        tenant,
        subject,
        action,
        estimate: { unit: "TOKENS", amount: 8_000 },
        ttlMs: 30_000,
        graceMs: 5_000
      })
      const reservationId = held.reservationId ?? ""
      yield* TestClock.adjust("35500 millis")
      const [balance] = (yield* ledger.balances({ tenant, subject: { tenant } })).balances
      assert.strictEqual(balance?.reserved, 8_000n)
      // past expiresAt + grace but not swept: still shown active, though commit already fails
      assert.strictEqual((yield* ledger.getReservation({ tenant, reservationId })).status, "active")
      yield* TestClock.adjust("500 millis")
      const [after] = (yield* ledger.balances({ tenant, subject: { tenant } })).balances
      assert.strictEqual(after?.reserved, 0n)
      assert.strictEqual((yield* reasonOf(ledger.getReservation({ tenant, reservationId })))._tag, "ReservationExpired")
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("overage policies", () => {
  // region: overage
  // The support app has 500 tokens (and may take 300 of debt), the tenant 1,000.
  // 300 are held by another call; this one holds 100 and then reports 400.
  const overage = (overagePolicy: Ledger.OveragePolicy) =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const tokens = (amount: number): Ledger.Amount => ({ unit: "TOKENS", amount: BigInt(amount) })
      yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "TOKENS", allocated: 1_000 })
      yield* ledger.createBudget({
        tenant,
        scope: "tenant:acme/app:support",
        unit: "TOKENS",
        allocated: 500,
        overdraftLimit: 300
      })
      yield* ledger.reserve({ tenant, subject, action, estimate: tokens(300) })
      const held = yield* ledger.reserve({ tenant, subject, action, estimate: tokens(100), overagePolicy })
      return yield* ledger.commit({ tenant, reservationId: held.reservationId ?? "", actual: tokens(400) })
    })
  // endregion

  const app = (answer: Ledger.CommitAnswer) => answer.balances.find((b) => b.scope === "tenant:acme/app:support")!
  const top = (answer: Ledger.CommitAnswer) => answer.balances.find((b) => b.scope === "tenant:acme")!

  it.effect("REJECT: the commit fails and the reservation stays active", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const error = yield* Effect.flip(overage("REJECT"))
      assert.strictEqual(error.reason._tag, "BudgetExceeded")
      assert.strictEqual(
        error.message,
        "Ledger.commit: tenant:acme/app:support/agent:triage: commit of 400 exceeds the 100 reserved by rsv_2 (overage policy REJECT)"
      )
      const still = yield* ledger.getReservation({ tenant, reservationId: "rsv_2" })
      assert.strictEqual(still.status, "active")
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("ALLOW_IF_AVAILABLE: the overage is capped at the smallest remaining; the app becomes over-limit", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const done = yield* overage("ALLOW_IF_AVAILABLE")
      assert.strictEqual(done.charged.amount, 200n)
      const a = app(done)
      assert.deepStrictEqual([a.spent, a.reserved, a.debt, a.remaining, a.isOverLimit], [200n, 300n, 0n, 0n, true])
      const t = top(done)
      assert.deepStrictEqual([t.spent, t.reserved, t.remaining, t.isOverLimit], [200n, 300n, 500n, false])
      const next = yield* reasonOf(
        ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 1 } })
      )
      assert.strictEqual(next._tag, "OverdraftLimitExceeded")
      assert.strictEqual(
        next.message,
        "tenant:acme/app:support: over limit (debt 0, overdraft limit 300); no new reservations until it is reconciled"
      )
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("ALLOW_WITH_OVERDRAFT: what the app cannot fund becomes debt, within its limit", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const done = yield* overage("ALLOW_WITH_OVERDRAFT")
      assert.strictEqual(done.charged.amount, 400n)
      const a = app(done)
      assert.deepStrictEqual([a.spent, a.reserved, a.debt, a.remaining, a.isOverLimit], [
        200n,
        300n,
        200n,
        -200n,
        false
      ])
      const t = top(done)
      assert.deepStrictEqual([t.spent, t.debt, t.remaining], [400n, 0n, 300n])
      // region: repay
      const repaid = yield* ledger.fundBudget({
        tenant,
        scope: "tenant:acme/app:support",
        unit: "TOKENS",
        operation: "repay-debt",
        amount: 250
      })
      // endregion
      const after = repaid.balances[0]!
      assert.deepStrictEqual([repaid.previous.debt, after.debt, after.allocated, after.remaining], [
        200n,
        0n,
        550n,
        50n
      ])
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("decide, event and dry runs", () => {
  // region: decide
  const research: Ledger.Subject = { tenant, app: "research" }
  const tokens = (amount: number): Ledger.Amount => ({ unit: "TOKENS", amount: BigInt(amount) })

  const probe = Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    yield* ledger.createBudget({ tenant, scope: research, unit: "TOKENS", allocated: 10_000 })
    // Would 12,000 tokens be allowed? A deny is an answer, not an error.
    const asked = yield* ledger.decide({ tenant, subject: research, action, estimate: tokens(12_000) })
    // A dry run checks like a reservation and returns the balances, but holds nothing.
    const tried = yield* ledger.reserve({ tenant, subject: research, action, estimate: tokens(4_000), dryRun: true })
    // A cost known only afterwards (an embedding batch) is debited directly.
    const billed = yield* ledger.event({
      tenant,
      subject: research,
      action: { kind: "llm.embedding", name: "embed-small" },
      actual: tokens(2_500),
      overagePolicy: "REJECT"
    })
    return { asked, tried, billed }
  })
  // endregion

  it.effect("decide denies with a reason code, a dry run holds nothing, an event charges at once", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const { asked, billed, tried } = yield* probe
      assert.deepStrictEqual(asked, {
        decision: "deny",
        reasonCode: "budget-exceeded",
        affectedScopes: ["tenant:acme", "tenant:acme/app:research"]
      })
      assert.strictEqual(tried.decision, "allow")
      assert.isUndefined(tried.reservationId)
      assert.strictEqual(tried.balances[0]?.reserved, 0n)
      assert.strictEqual(billed.status, "applied")
      assert.strictEqual(billed.charged.amount, 2_500n)
      assert.deepStrictEqual(billed.balances.map((b) => [b.scope, b.spent, b.remaining]), [
        ["tenant:acme/app:research", 2_500n, 7_500n]
      ])
      assert.deepStrictEqual((yield* ledger.listReservations({ tenant })).reservations, [])
      const over = yield* ledger.reserve({ tenant, subject: research, action, estimate: tokens(9_000), dryRun: true })
      assert.deepStrictEqual([over.decision, over.reasonCode], ["deny", "budget-exceeded"])
      const nowhere = yield* ledger.decide({
        tenant: "nobody",
        subject: { tenant: "nobody" },
        action,
        estimate: tokens(1)
      })
      assert.strictEqual(nowhere.reasonCode, "budget-not-found")
      const real = yield* reasonOf(ledger.reserve({ tenant, subject: research, action, estimate: tokens(9_000) }))
      assert.strictEqual(real.message, "tenant:acme/app:research: requested 9000, 7500 remaining")
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("an event under ALLOW_IF_AVAILABLE charges at most what is left, and over-limit does not stop it", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant, scope: research, unit: "TOKENS", allocated: 1_000 })
      const event = (amount: number, overagePolicy?: Ledger.OveragePolicy) =>
        ledger.event({
          tenant,
          subject: research,
          action,
          actual: tokens(amount),
          ...(overagePolicy === undefined ? {} : { overagePolicy })
        })
      // 2,500 spent, 1,000 left: the default policy charges 1,000, answers "applied", and marks the scope over-limit
      const capped = yield* event(2_500)
      assert.deepStrictEqual([capped.status, capped.charged.amount], ["applied", 1_000n])
      assert.deepStrictEqual([capped.balances[0]?.remaining, capped.balances[0]?.isOverLimit], [0n, true])
      // over-limit refuses reservations, not events: the next one is applied and charges 0
      const nothing = yield* event(500)
      assert.deepStrictEqual([nothing.status, nothing.charged.amount], ["applied", 0n])
      const reserve = yield* reasonOf(ledger.reserve({ tenant, subject: research, action, estimate: tokens(1) }))
      assert.strictEqual(reserve._tag, "OverdraftLimitExceeded")
      // REJECT fails instead, and changes nothing
      const rejected = yield* reasonOf(event(500, "REJECT"))
      assert.strictEqual(rejected._tag, "BudgetExceeded")
      // ALLOW_WITH_OVERDRAFT charges it all when every budgeted scope has an overdraft limit for the rest
      yield* ledger.createBudget({
        tenant,
        scope: "tenant:acme/app:billing",
        unit: "TOKENS",
        allocated: 1_000,
        overdraftLimit: 2_000
      })
      const billed = yield* ledger.event({
        tenant,
        subject: { tenant, app: "billing" },
        action,
        actual: tokens(2_500),
        overagePolicy: "ALLOW_WITH_OVERDRAFT"
      })
      assert.strictEqual(billed.charged.amount, 2_500n)
      assert.deepStrictEqual([billed.balances[0]?.spent, billed.balances[0]?.debt], [1_000n, 1_500n])
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("idempotency keys", () => {
  // region: idempotency
  const retried = Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "TOKENS", allocated: 10_000 })
    const request: typeof Ledger.ReserveRequest.Encoded = {
      tenant,
      subject,
      action,
      estimate: { unit: "TOKENS", amount: 1_000 },
      idempotencyKey: "run-42-step-1"
    }
    const first = yield* ledger.reserve(request)
    const retry = yield* ledger.reserve(request) // the first answer again: held once
    const changed = yield* Effect.flip(ledger.reserve({ ...request, estimate: { unit: "TOKENS", amount: 2_000 } }))
    return { first, retry, changed }
  })
  // endregion

  it.effect("a replay returns the first answer; another request with the key is a mismatch", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const { changed, first, retry } = yield* retried
      assert.deepStrictEqual(retry, first)
      assert.strictEqual(first.reservationId, "rsv_1")
      assert.strictEqual(changed.reason._tag, "IdempotencyMismatch")
      assert.strictEqual(
        changed.message,
        "Ledger.reserve: idempotency key \"run-42-step-1\" was first used for a different reserve request"
      )
      const [balance] = (yield* ledger.balances({ tenant, subject: { tenant } })).balances
      assert.strictEqual(balance?.reserved, 1_000n)
      const found = yield* ledger.listReservations({ tenant, idempotencyKey: "run-42-step-1" })
      assert.deepStrictEqual(found.reservations.map((r) => r.reservationId), ["rsv_1"])
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("tenancy", () => {
  it.effect("another tenant's reservations and scopes are Forbidden", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 100_000_000 })
      const held = yield* ledger.reserve({ tenant, subject, action, estimate: usd(1_000) })
      // region: tenancy
      // globex may not settle acme's reservation, nor spend from acme's scopes.
      const settle = ledger.commit({ tenant: "globex", reservationId: held.reservationId ?? "", actual: usd(1) })
      const spend = ledger.reserve({ tenant: "globex", subject: { tenant: "acme" }, action, estimate: usd(1) })
      // endregion
      const settled = yield* Effect.flip(settle)
      assert.strictEqual(settled.message, "Ledger.commit: tenant globex may not touch reservation rsv_1")
      const spent = yield* Effect.flip(spend)
      assert.strictEqual(spent.message, "Ledger.reserve: tenant globex may not touch tenant:acme")
      assert.strictEqual(spent.reason._tag, "Forbidden")
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("errors", () => {
  // region: errors
  // Reserve before an optional step; when the budget cannot cover it, skip the step.
  const reserveOrSkip = (amount: number) =>
    Effect.flatMap(Ledger.Ledger, (ledger) => ledger.reserve({ tenant, subject, action, estimate: usd(amount) })).pipe(
      Effect.map((answer) => `held ${answer.reserved?.amount}`),
      Effect.catchReason("LedgerError", "BudgetExceeded", (reason) => Effect.succeed(`skipped: ${reason.message}`))
    )
  // endregion

  it.effect("catches BudgetExceeded and keeps the other reasons as failures", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const missing = yield* Effect.flip(reserveOrSkip(1))
      assert.strictEqual(missing.reason._tag, "NotFound")
      assert.strictEqual(
        missing.message,
        "Ledger.reserve: no USD_MICROCENTS budget at tenant:acme/app:support/agent:triage"
      )
      yield* ledger.createBudget({ tenant, scope: "tenant:acme/app:support", unit: "USD_MICROCENTS", allocated: 1_000 })
      assert.strictEqual(yield* reserveOrSkip(600), "held 600")
      assert.strictEqual(yield* reserveOrSkip(600), "skipped: tenant:acme/app:support: requested 600, 400 remaining")
      const error = yield* Effect.flip(
        ledger.reserve({ tenant, subject, action, estimate: usd(600) })
      )
      assert.isTrue(Ledger.isLedgerError(error))
      assert.strictEqual(error.method, "Ledger.reserve")
      assert.isFalse(error.isRetryable)
      const encoded = Schema.encodeSync(Schema.toCodecJson(Ledger.LedgerError))(error)
      assert.deepStrictEqual(JSON.parse(JSON.stringify(encoded)), {
        _tag: "LedgerError",
        method: "Ledger.reserve",
        reason: {
          _tag: "BudgetExceeded",
          scope: "tenant:acme/app:support",
          unit: "USD_MICROCENTS",
          requested: "600",
          remaining: "400"
        }
      })
      const otherUnit = yield* reasonOf(
        ledger.reserve({ tenant, subject, action, estimate: { unit: "TOKENS", amount: 1 } })
      )
      assert.strictEqual(otherUnit._tag, "UnitMismatch")
      const bad = yield* reasonOf(ledger.reserve({ tenant, subject, action, estimate: usd(1), ttlMs: 500 }))
      assert.strictEqual(bad._tag, "InvalidRequest")
      assert.strictEqual((bad as Ledger.InvalidRequest).field, "ttlMs")
      assert.isTrue(new Ledger.StoreUnavailable({ store: "redis", detail: "connection refused" }).isRetryable)
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("budget administration", () => {
  // region: admin
  const administer = Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const budget = { tenant, scope: "tenant:acme/app:support", unit: "USD_MICROCENTS" } as const
    yield* ledger.createBudget({ ...budget, allocated: 100_000_000 }) // $1.00
    // A top-up, keyed so that a retried request credits once.
    yield* ledger.fundBudget({ ...budget, operation: "credit", amount: 50_000_000, idempotencyKey: "topup-2026-11" })
    yield* ledger.fundBudget({ ...budget, operation: "debit", amount: 30_000_000 })
    yield* ledger.setOverdraftLimit({ ...budget, overdraftLimit: 5_000_000 })
    // Stop a runaway app at once: new reservations and events fail with BudgetFrozen.
    yield* ledger.freezeBudget(budget)
    const frozen = yield* Effect.flip(ledger.reserve({ tenant, subject, action, estimate: usd(1) }))
    yield* ledger.unfreezeBudget(budget)
    const reset = yield* ledger.fundBudget({ ...budget, operation: "reset", amount: 200_000_000 })
    return { frozen, reset }
  })
  // endregion

  it.effect("credit, debit, overdraft limit, freeze, unfreeze, reset", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const { frozen, reset } = yield* administer
      assert.strictEqual(frozen.message, "Ledger.reserve: tenant:acme/app:support: the USD_MICROCENTS budget is frozen")
      assert.strictEqual(reset.previous.allocated, 120_000_000n)
      const balance = reset.balances[0]!
      assert.deepStrictEqual(
        [balance.status, balance.allocated, balance.overdraftLimit, balance.remaining],
        ["active", 200_000_000n, 5_000_000n, 200_000_000n]
      )
      const budget = { tenant, scope: "tenant:acme/app:support", unit: "USD_MICROCENTS" } as const
      const replay = yield* ledger.fundBudget({
        ...budget,
        operation: "credit",
        amount: 50_000_000,
        idempotencyKey: "topup-2026-11"
      })
      assert.strictEqual(replay.balances[0]?.allocated, 150_000_000n)
      const tooMuch = yield* reasonOf(ledger.fundBudget({ ...budget, operation: "debit", amount: 200_000_001 }))
      assert.strictEqual(tooMuch._tag, "BudgetExceeded")
      const exists = yield* reasonOf(ledger.createBudget({ ...budget, allocated: 1 }))
      assert.strictEqual(exists._tag, "BudgetExists")
      const closed = yield* ledger.closeBudget(budget)
      assert.strictEqual(closed.balances[0]?.status, "closed")
      const reopen = yield* reasonOf(ledger.unfreezeBudget(budget))
      assert.strictEqual(reopen._tag, "BudgetClosed")
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("the guard around model calls", () => {
  // region: guard
  // The ledger subject the support agent's model calls are charged to. Guard.Config is a
  // Schema, so it can come from a JSON file or the environment as well.
  const config: Guard.Config = {
    subject: { tenant: "acme", app: "support", agent: "support-agent" },
    // Longer than any call (the guard never extends), and how long a hold outlives a dead process.
    ttl: "30 seconds"
  }

  const guardedRun = (allocated: number) =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "USD_MICROCENTS", allocated })
      return yield* Agent.run(SupportAgent.agent, question)
    }).pipe(Guard.withGuard(config), Effect.provide(Ledger.layerMemory))
  // endregion

  const underTestClock = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(effect)
      yield* TestClock.adjust("10 seconds")
      return yield* Fiber.join(fiber)
    })

  it.effect("reserves the worst case, commits the real usage, and reports both", () =>
    Effect.gen(function*() {
      const result = yield* underTestClock(guardedRun(100_000_000))
      assert.strictEqual(result.status, "complete")
      assert.deepStrictEqual(result.report.ledger, [
        {
          operation: "reserve",
          decision: "allowed",
          stage: "inference",
          model: "support-small",
          amount: 24_905,
          unit: "USD_MICROCENTS",
          reservationId: "rsv_1",
          atMs: 37
        },
        {
          operation: "commit",
          decision: "committed",
          stage: "inference",
          model: "support-small",
          amount: 8_825,
          unit: "USD_MICROCENTS",
          reservationId: "rsv_1",
          atMs: 583.371
        }
      ])
      assert.strictEqual(result.report.cost.microUsd, 89)
      assert.deepStrictEqual(result.report.cost, {
        inputTokens: 59,
        outputTokens: 55,
        reasoningTokens: 0,
        microUsd: 89
      })
      // the worst case: 59 input tokens at 750 nano-USD, 256 output tokens at 800, / 10, rounded up
      assert.deepStrictEqual([SupportAgent.model.maxOutputTokens, SupportAgent.model.reasoningTokens], [256, 0])
      assert.deepStrictEqual(SupportAgent.model.price, { inputNanoUsdPerToken: 750, outputNanoUsdPerToken: 800 })
      assert.strictEqual((59 * 750 + 256 * 800) / 10, 24_905)
    }))

  it.effect("a denied reservation stops the call: the required inference fails the run", () =>
    Effect.gen(function*() {
      const result = yield* underTestClock(guardedRun(20_000))
      assert.strictEqual(result.status, "failed")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.status, "failed")
      assert.strictEqual(inference.reason, "Ledger.reserve: tenant:acme: requested 24905, 20000 remaining")
      assert.deepStrictEqual(result.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.reason]), [
        ["reserve", "denied", "budget-exceeded"]
      ])
      assert.strictEqual(result.report.cost.microUsd, 0)
      assert.strictEqual(result.report.ledger?.[0]?.detail, inference.reason)
    }))

  it.effect("configuration decodes from JSON; a bad one names the field", () =>
    Effect.gen(function*() {
      const decoded = Schema.decodeUnknownSync(Guard.Config)(JSON.parse(JSON.stringify(config)))
      assert.deepStrictEqual(decoded, config)
      const guard = yield* Guard.make(config)
      assert.deepStrictEqual([guard.tenant, guard.unit, guard.ttlMs, guard.overagePolicy], [
        "acme",
        "USD_MICROCENTS",
        30_000,
        "ALLOW_IF_AVAILABLE"
      ])
      const bad = yield* Effect.flip(Guard.make({ subject: { app: "support" } }))
      assert.strictEqual(bad.reason._tag === "InvalidConfig" ? bad.reason.field : bad.reason._tag, "tenant")
      const inMillis = yield* Guard.make({ subject: { tenant: "acme" }, ttl: 45_000 })
      assert.strictEqual(inMillis.ttlMs, 45_000)
      assert.deepStrictEqual(Guard.worstCase(SupportAgent.model, Prompt.make(question), "USD_MICROCENTS"), {
        inputTokens: 5,
        outputTokens: ModelProfile.outputLimit(SupportAgent.model),
        amount: 20_855n
      })
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("a subject without its tenant level derives no tenant scope: the tenant's budget does not apply", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({
        tenant: "acme",
        scope: "tenant:acme",
        unit: "USD_MICROCENTS",
        allocated: 100_000_000
      })
      assert.deepStrictEqual(Ledger.scopes({ app: "support" }), ["app:support"])
      const result = yield* runUnderTestClock(SupportAgent.agent, question).pipe(
        Guard.withGuard({ subject: { app: "support" }, tenant: "acme" })
      )
      assert.strictEqual(result.status, "failed")
      assert.deepStrictEqual(result.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.reason]), [
        ["reserve", "denied", "budget-not-found"]
      ])
      assert.strictEqual(result.report.ledger?.[0]?.detail, "Ledger.reserve: no USD_MICROCENTS budget at app:support")
      // a budget in another unit only: unit-mismatch
      const tokensOnly = yield* runUnderTestClock(SupportAgent.agent, question).pipe(
        Guard.withGuard({ subject: { tenant: "acme" }, unit: "TOKENS" })
      )
      assert.strictEqual(tokensOnly.report.ledger?.[0]?.reason, "unit-mismatch")
    }).pipe(Effect.provide(Ledger.layerMemory)))

  it.effect("a late call's event: the expired hold, counted until swept, would cap it; a sweep first gives it back", () =>
    Effect.gen(function*() {
      // What the guard does for a call that outlived its reservation, on the ledger directly.
      const ledger = yield* Ledger.Ledger
      yield* ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 30_000 })
      const held = yield* ledger.reserve({ tenant, subject, action, estimate: usd(24_905), ttlMs: 1_000 })
      yield* TestClock.adjust("7 seconds") // past expiresAt (1 s) + grace (5 s); not swept
      const commit = yield* reasonOf(
        ledger.commit({ tenant, reservationId: held.reservationId ?? "", actual: usd(8_825) })
      )
      assert.strictEqual(commit._tag, "ReservationExpired")
      const late = ledger.event({
        tenant,
        subject,
        action,
        actual: usd(8_825),
        overagePolicy: "ALLOW_IF_AVAILABLE",
        idempotencyKey: "late-1"
      })
      // unswept, the expired hold of 24,905 leaves 5,095: the event would be capped there
      assert.strictEqual((yield* ledger.decide({ tenant, subject, action, estimate: usd(8_825) })).decision, "deny")
      // so the guard sweeps the tenant first: the hold comes back, the event charges it all
      assert.deepStrictEqual((yield* ledger.sweep({ tenant })).expired, [held.reservationId ?? ""])
      const charged = yield* late
      assert.strictEqual(charged.charged.amount, 8_825n)
      assert.deepStrictEqual([charged.balances[0]?.reserved, charged.balances[0]?.remaining], [0n, 21_175n])
    }).pipe(Effect.provide(Ledger.layerMemory), Effect.provideService(Ledger.SweepInterval, Duration.infinity)))

  // region: guard-test
  it.effect("the guard stops the agent once its budget cannot cover the next call's worst case", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      // 30,000 µ¢: room for one worst case (24,905); the call then commits 8,825.
      yield* ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 30_000 })
      // runUnderTestClock forks the run, moves the TestClock an hour on, and joins it.
      const first = yield* runUnderTestClock(SupportAgent.agent, question).pipe(Guard.withGuard(config))
      assert.strictEqual(first.status, "complete")
      assert.deepStrictEqual(first.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.amount]), [
        ["reserve", "allowed", 24_905],
        ["commit", "committed", 8_825]
      ])

      // 21,175 left: the second run's reservation is denied and its model is never called.
      const second = yield* runUnderTestClock(SupportAgent.agent, question).pipe(Guard.withGuard(config))
      assert.strictEqual(second.status, "failed")
      assert.strictEqual(
        Report.find(second.report, "inference")?.reason,
        "Ledger.reserve: tenant:acme: requested 24905, 21175 remaining"
      )
      assert.deepStrictEqual(second.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.reason]), [
        ["reserve", "denied", "budget-exceeded"]
      ])
      assert.strictEqual(second.report.cost.microUsd, 0)
      const [balance] = (yield* ledger.balances({ tenant: "acme", subject: { tenant: "acme" } })).balances
      assert.deepStrictEqual([balance?.spent, balance?.reserved, balance?.remaining], [8_825n, 0n, 21_175n])
    }).pipe(Effect.provide(Ledger.layerMemory)))
  // endregion
})
