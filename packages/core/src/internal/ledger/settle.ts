/**
 * The life of a reservation after reserve: commit, release, extend, and the
 * sweeper that expires what was left behind.
 *
 * @internal
 */
import type { Result } from "effect"
import type { CommitCommand, ExtendCommand, ReleaseCommand, SweepCommand } from "./commands.ts"
import {
  BudgetExceeded,
  Forbidden,
  type LedgerErrorReason,
  MaxExtensionsExceeded,
  NotFound,
  ReservationExpired,
  ReservationFinalized,
  UnitMismatch
} from "./errors.ts"
import * as Expiries from "./expiries.ts"
import { mismatch, sameValue } from "./idempotency.ts"
import * as Keys from "./keys.ts"
import type { Balance, CommitAnswer, ExtendAnswer, ReleaseAnswer, SweepAnswer } from "./model.ts"
import * as Overage from "./overage.ts"
import * as Reservations from "./reservations.ts"
import * as Snapshots from "./snapshots.ts"
import * as S from "./state.ts"

/**
 * The reservation `id` of `tenant` if it can still be settled at `now`:
 * allowed while `now ≤ expiresAt + grace` (extend passes a grace of 0).
 */
export const settleable = (
  state: S.State,
  tenant: string,
  id: string,
  now: number,
  graceCounts: boolean
): S.ReservationRecord | LedgerErrorReason => {
  const reservation = Reservations.find(state.reservations, id)
  if (reservation === undefined) return new NotFound({ resource: "reservation", id })
  if (reservation.terms.tenant !== tenant) return new Forbidden({ tenant, resource: `reservation ${id}` })
  if (reservation.status === "committed" || reservation.status === "released") {
    return new ReservationFinalized({ reservationId: id, status: reservation.status })
  }
  const graceMs = graceCounts ? reservation.terms.graceMs : 0
  if (reservation.status === "expired" || now > reservation.expiresAtMs + graceMs) {
    return new ReservationExpired({ reservationId: id, expiresAtMs: reservation.expiresAtMs, graceMs, nowMs: now })
  }
  return reservation
}

const isReason = (value: S.ReservationRecord | LedgerErrorReason): value is LedgerErrorReason => "_tag" in value

/** Marks a reservation ended (its entries in the expiry index go stale). */
const finish = (reservation: S.ReservationRecord, now: number): void => {
  reservation.endedAtMs = now
}

/** The answer of a commit, as first given and as replayed. */
const committed = (reservation: S.ReservationRecord, id: string, balances: Array<Balance>): CommitAnswer => {
  const { unit } = reservation.terms
  const delta = reservation.actual! - reservation.terms.estimated
  return {
    status: "committed",
    reservationId: id,
    charged: { unit, amount: S.chargedOf(reservation)! },
    released: { unit, amount: delta < 0n ? -delta : 0n },
    balances
  }
}

/** The answer of a release, as first given and as replayed. */
const released = (reservation: S.ReservationRecord, id: string, balances: Array<Balance>): ReleaseAnswer => ({
  status: "released",
  reservationId: id,
  released: S.estimateOf(reservation),
  balances
})

/** The balances a settle answer carried, kept when it had a key. */
const settledBalances = (reservation: S.ReservationRecord): Array<Balance> => {
  const { budgets } = reservation.terms
  const extras = reservation.extras
  return extras?.settleSnapshot === undefined
    ? Snapshots.read(reservation.snapshot!, reservation.row + budgets.length, budgets)
    : Snapshots.read(extras.settleSnapshot, extras.settleRow, budgets)
}

/**
 * Ends a settled reservation; with a key, keeps the answer's balances (in the
 * rows reserve set aside, or new ones when reserve had no key) and points the
 * key at it.
 */
const settle = (
  state: S.State,
  keys: Keys.Table<S.ReservationRecord>,
  key: string | undefined,
  reservation: S.ReservationRecord,
  now: number
): void => {
  finish(reservation, now)
  if (key !== undefined) {
    const { budgets } = reservation.terms
    if (reservation.snapshot === undefined) {
      const extras = S.extrasOf(reservation)
      extras.settleRow = Snapshots.save(state.snapshots, budgets)
      extras.settleSnapshot = state.snapshots.chunk
    } else {
      Snapshots.write(reservation.snapshot, reservation.row + budgets.length, budgets)
    }
    Keys.set(keys, key, reservation)
  }
}

/** commit: charge `actual`, return the rest of the estimate; above the estimate the overage policy decides. */
export const commit = (state: S.State, command: CommitCommand): Result.Result<CommitAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const key = command.idempotencyKey
  if (key !== undefined) {
    const first = Keys.get(tenant.commitKeys, key)
    if (first !== undefined) {
      return S.idOf(first) === command.reservationId &&
          first.terms.unit === command.actual.unit &&
          first.actual === command.actual.amount &&
          sameValue(first.extras?.settledMetadata, command.metadata)
        ? S.ok(committed(first, command.reservationId, settledBalances(first)))
        : S.fail(mismatch("commit", key))
    }
  }
  const found = settleable(state, command.tenant, command.reservationId, command.now, true)
  if (isReason(found)) return S.fail(found)
  const { budgets, estimated, unit, overagePolicy } = found.terms
  const { actual } = command
  if (actual.unit !== unit) {
    return S.fail(new UnitMismatch({ scope: S.scopePathOf(found), requested: actual.unit, expected: [unit] }))
  }
  const delta = actual.amount - estimated
  let charged = actual.amount
  if (delta > 0n) {
    if (overagePolicy === "REJECT") {
      return S.fail(
        new BudgetExceeded({
          scope: S.scopePathOf(found),
          unit,
          requested: actual.amount,
          remaining: estimated,
          reservationId: command.reservationId
        })
      )
    }
    const charge = Overage.plan(budgets, delta, overagePolicy, actual.amount)
    if ("_tag" in charge) return S.fail(charge)
    for (const budget of budgets) budget.reserved -= estimated
    Overage.apply(budgets, estimated, charge)
    charged = estimated + charge.charged
  } else {
    for (const budget of budgets) {
      budget.reserved -= estimated
      budget.spent += actual.amount
      budget.remaining -= delta
    }
  }
  found.status = "committed"
  found.actual = actual.amount
  if (charged !== actual.amount) S.extrasOf(found).charged = charged
  if (command.metadata !== undefined) S.extrasOf(found).settledMetadata = command.metadata
  settle(state, tenant.commitKeys, key, found, command.now)
  return S.ok(committed(found, command.reservationId, budgets.map(S.snapshot)))
}

/** release: return the whole estimate. */
export const release = (state: S.State, command: ReleaseCommand): Result.Result<ReleaseAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const key = command.idempotencyKey
  if (key !== undefined) {
    const first = Keys.get(tenant.releaseKeys, key)
    if (first !== undefined) {
      return S.idOf(first) === command.reservationId && first.extras?.settledReason === command.reason
        ? S.ok(released(first, command.reservationId, settledBalances(first)))
        : S.fail(mismatch("release", key))
    }
  }
  const found = settleable(state, command.tenant, command.reservationId, command.now, true)
  if (isReason(found)) return S.fail(found)
  const { budgets, estimated } = found.terms
  for (const budget of budgets) {
    budget.reserved -= estimated
    budget.remaining += estimated
  }
  found.status = "released"
  if (command.reason !== undefined) S.extrasOf(found).settledReason = command.reason
  settle(state, tenant.releaseKeys, key, found, command.now)
  return S.ok(released(found, command.reservationId, budgets.map(S.snapshot)))
}

/** The answer of an extension, as first given and as replayed. */
const extended = (
  reservationId: string,
  expiresAtMs: number,
  extensions: number,
  balances: Array<Balance>
): ExtendAnswer => ({ status: "active", reservationId, expiresAtMs, extensions, balances })

/**
 * extend: move `expiresAt` forward by `extendByMs`, while `now ≤ expiresAt`,
 * at most 10 times. With an idempotency key, the key keeps an
 * `ExtendRecord`, from which a replay rebuilds the first answer.
 */
export const extend = (state: S.State, command: ExtendCommand): Result.Result<ExtendAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const key = command.idempotencyKey
  if (key !== undefined) {
    const first = Keys.get(tenant.extendKeys, key)
    if (first !== undefined) {
      // what `sameRequest` compares: all but `now` (the tenant is the key table's)
      const same = first.extendByMs === command.extendByMs && S.idOf(first.reservation) === command.reservationId
      if (!same) return S.fail(mismatch("extend", key))
      const balances = Snapshots.read(first.snapshot, first.row, first.reservation.terms.budgets)
      return S.ok(extended(command.reservationId, first.expiresAtMs, first.extensions, balances))
    }
  }
  const found = settleable(state, command.tenant, command.reservationId, command.now, false)
  if (isReason(found)) return S.fail(found)
  const extensions = S.extensionsOf(found)
  if (extensions >= S.maxExtensions) {
    return S.fail(new MaxExtensionsExceeded({ reservationId: command.reservationId, extensions }))
  }
  found.expiresAtMs += command.extendByMs
  S.extrasOf(found).extensions = extensions + 1
  S.expiring(tenant, found)
  const { budgets } = found.terms
  if (key !== undefined) {
    const snapshots = state.snapshots
    const row = Snapshots.save(snapshots, budgets)
    Keys.set(tenant.extendKeys, key, {
      atMs: command.now,
      reservation: found,
      extendByMs: command.extendByMs,
      expiresAtMs: found.expiresAtMs,
      extensions: extensions + 1,
      snapshot: snapshots.chunk,
      row
    })
  }
  return S.ok(extended(command.reservationId, found.expiresAtMs, extensions + 1, budgets.map(S.snapshot)))
}

/**
 * Expires the due reservations of `tenant`, earliest due first (ties in
 * creation order), until `expired` holds `limit`: from its expiry index,
 * dropping the stale entries met on the way.
 */
const sweepTenant = (tenant: S.TenantState, now: number, limit: number, expired: Array<string>): void => {
  const heap = tenant.expiries
  while (expired.length < limit && now > Expiries.firstDue(heap)) {
    const due = Expiries.firstDue(heap)
    const reservation = Expiries.first(heap)
    Expiries.pop(heap)
    if (!S.isDue(reservation, due)) continue
    const { terms } = reservation
    for (const budget of terms.budgets) {
      budget.reserved -= terms.estimated
      budget.remaining += terms.estimated
    }
    reservation.status = "expired"
    finish(reservation, now)
    expired.push(S.idOf(reservation))
  }
}

/**
 * sweep: expire the active reservations past `expiresAt + grace`, at most
 * `limit`: of one tenant, earliest due first; of every tenant, tenant by
 * tenant (as the Redis store does).
 */
export const sweep = (state: S.State, command: SweepCommand): SweepAnswer => {
  const expired: Array<string> = []
  if (command.tenant !== undefined) {
    const tenant = state.tenants.get(command.tenant)
    if (tenant !== undefined) sweepTenant(tenant, command.now, command.limit, expired)
  } else {
    for (const tenant of state.tenants.values()) sweepTenant(tenant, command.now, command.limit, expired)
  }
  S.prune(state, command.now, command.retentionMs, command.tenant)
  return { expired }
}
