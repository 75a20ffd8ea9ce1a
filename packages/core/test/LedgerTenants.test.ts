/**
 * What the memory store keeps of a tenant: nothing for a tenant it does not
 * know (a typo, a probe), and nothing once everything of a tenant is gone.
 * Calls go straight to the store's operations (`internal/ledger/*`) on one
 * state, so that the test can count the tenants the state holds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Admin from "../src/internal/ledger/admin.ts"
import * as Commands from "../src/internal/ledger/commands.ts"
import * as Decode from "../src/internal/ledger/decode.ts"
import * as Expiries from "../src/internal/ledger/expiries.ts"
import * as Keys from "../src/internal/ledger/keys.ts"
import * as Query from "../src/internal/ledger/query.ts"
import * as Reserve from "../src/internal/ledger/reserve.ts"
import * as Scope from "../src/internal/ledger/scope.ts"
import * as Settle from "../src/internal/ledger/settle.ts"
import * as S from "../src/internal/ledger/state.ts"

const unit = "USD_MICROCENTS" as const
const minute = 60_000
const day = 24 * 60 * minute

const decoded = <A>(value: A | undefined): A => {
  assert.isDefined(value, "the fast decoder took the request")
  return value!
}

const commit = (state: S.State, tenant: string, reservationId: string, now: number, idempotencyKey?: string) =>
  Settle.commit(
    state,
    Commands.commit(
      decoded(
        Decode.commitRequest({
          tenant,
          reservationId,
          actual: { unit, amount: 1n },
          ...(idempotencyKey === undefined ? {} : { idempotencyKey })
        })
      ),
      now
    )
  )

const reserve = (state: S.State, tenant: string, now: number, idempotencyKey?: string, ttlMs?: number) => {
  const request = decoded(
    Decode.reserveRequest({
      tenant,
      subject: { tenant },
      action: { kind: "llm.completion", name: "m" },
      estimate: { unit, amount: 10n },
      graceMs: 0,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      ...(ttlMs === undefined ? {} : { ttlMs })
    })
  )
  return Reserve.reserve(state, Commands.reserve(request, Scope.deriveShared(request.subject), now))
}

const sweep = (state: S.State, now: number, retentionMs = day) =>
  Settle.sweep(state, { limit: 1_000, now, retentionMs })

describe("memory store tenants", () => {
  it("a read of a tenant the ledger does not know leaves nothing behind", () => {
    const state = S.make()
    for (let i = 0; i < 100; i++) {
      const tenant = `nobody-${i}`
      const listed = Query.listReservations(state, { tenant, limit: 50 })
      assert.isTrue(Result.isSuccess(listed) && listed.success.reservations.length === 0)
      const request = decoded(Decode.balancesRequest({ tenant, subject: { tenant } }))
      const balances = Query.balances(state, { ...request, scopes: Scope.deriveShared(request.subject) })
      assert.isTrue(Result.isSuccess(balances) && balances.success.balances.length === 0)
    }
    assert.strictEqual(state.tenants.size, 0)
  })

  it("a failed call on an unknown tenant is forgotten at the next sweep, even keeping keys for good", () => {
    const state = S.make()
    const refused = commit(state, "nobody", "rsv_42", 0, "k1")
    assert.isTrue(Result.isFailure(refused) && refused.failure._tag === "NotFound")
    const notFunded = reserve(state, "nobody", 0, "k2")
    assert.isTrue(Result.isFailure(notFunded) && notFunded.failure._tag === "NotFound")
    sweep(state, 1_000, Number.POSITIVE_INFINITY)
    assert.strictEqual(state.tenants.size, 0)
  })

  it("a tenant is kept while it has a budget, and forgotten once its keys and reservations are pruned", () => {
    const state = S.make()
    const created = Admin.createBudget(state, {
      tenant: "acme",
      scope: "tenant:acme",
      unit,
      allocated: 1_000n,
      overdraftLimit: 0n,
      now: 0
    })
    assert.isTrue(Result.isSuccess(created))
    const made = reserve(state, "acme", 0, "r1")
    assert.isTrue(Result.isSuccess(made))
    assert.isTrue(
      Result.isSuccess(commit(state, "acme", Result.isSuccess(made) ? made.success.reservationId! : "", 1, "c1"))
    )
    sweep(state, day + 2 * minute)
    // its reservation and keys are gone, its budget stays: so does the tenant
    assert.strictEqual(state.tenants.get("acme")?.reservations.length, 0)
    assert.strictEqual(state.tenants.get("acme")?.reserveKeys.size, 0)
    assert.isTrue(state.tenants.has("acme"))

    // a tenant with keys only (a dry run) goes when they do, not before
    const dry = decoded(
      Decode.reserveRequest({
        tenant: "probe",
        subject: { tenant: "probe" },
        action: { kind: "llm.completion", name: "m" },
        estimate: { unit, amount: 10n },
        dryRun: true,
        idempotencyKey: "d1"
      })
    )
    const start = day + 3 * minute
    assert.isTrue(
      Result.isSuccess(Reserve.reserve(state, Commands.reserve(dry, Scope.deriveShared(dry.subject), start)))
    )
    sweep(state, start + minute)
    assert.isTrue(state.tenants.has("probe"), "its key is still remembered")
    sweep(state, start + day + minute)
    assert.isFalse(state.tenants.has("probe"))
    assert.isTrue(state.tenants.has("acme"))
  })

  it("settled reservations leave the expiry index long before they would be due", () => {
    const state = S.make()
    Admin.createBudget(state, {
      tenant: "acme",
      scope: "tenant:acme",
      unit,
      allocated: 10n ** 12n,
      overdraftLimit: 0n,
      now: 0
    })
    // a day's ttl each, committed at once: their entries would otherwise stay a day
    const held: Array<string> = []
    for (let i = 0; i < 10_000; i++) {
      const made = reserve(state, "acme", i, undefined, 86_400_000)
      assert.isTrue(Result.isSuccess(made))
      const id = Result.isSuccess(made) ? made.success.reservationId! : ""
      if (i % 100 === 0) held.push(id)
      else assert.isTrue(Result.isSuccess(commit(state, "acme", id, i)))
    }
    const heap = state.tenants.get("acme")!.expiries
    assert.isAtMost(Expiries.size(heap), 2 * held.length + 1_024)
    // the 100 still active are swept when due, in creation order
    assert.deepStrictEqual(sweep(state, 86_400_000 + 10_000).expired, held)
  })

  it("a key table takes no slots until its first key", () => {
    const table = Keys.make<number>()
    assert.strictEqual(table.slots.length, 1)
    assert.strictEqual(Keys.get(table, "a"), undefined)
    Keys.set(table, "a", 1)
    assert.strictEqual(Keys.get(table, "a"), 1)
    assert.strictEqual(table.slots.length, 1_024)
    // another empty table still shares nothing written
    assert.strictEqual(Keys.get(Keys.make<number>(), "a"), undefined)
  })
})
