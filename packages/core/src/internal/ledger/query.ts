/**
 * Reads: balances, getReservation, listReservations.
 *
 * @internal
 */
import type { Result } from "effect"
import * as Chunked from "./chunked.ts"
import type { BalancesQuery, GetReservationQuery, ListReservationsQuery } from "./commands.ts"
import { Forbidden, invalid, type LedgerErrorReason, NotFound, ReservationExpired } from "./errors.ts"
import { type Balance, type BalancesAnswer, type Reservation, type ReservationsAnswer, Unit } from "./model.ts"
import * as Reservations from "./reservations.ts"
import * as Scope from "./scope.ts"
import * as S from "./state.ts"

const unitOrder = Unit.literals

const compare = (a: S.BudgetRecord, b: { readonly scope: string; readonly unit: Unit }): number =>
  a.scope < b.scope
    ? -1
    : a.scope > b.scope
    ? 1
    : unitOrder.indexOf(a.unit) - unitOrder.indexOf(b.unit)

const parseBalanceCursor = (cursor: string): { readonly scope: string; readonly unit: Unit } | undefined => {
  const at = cursor.lastIndexOf("#")
  const unit = cursor.slice(at + 1) as Unit
  return at > 0 && unitOrder.includes(unit) ? { scope: cursor.slice(0, at), unit } : undefined
}

/**
 * The balances of the subject's derived scopes that have a budget (in `unit`
 * when given) and, with `includeChildren`, of every budgeted scope below the
 * subject's own, ordered by scope path then unit.
 */
export const balances = (state: S.State, query: BalancesQuery): Result.Result<BalancesAnswer, LedgerErrorReason> => {
  const tenant = S.tenantView(state, query.tenant)
  const after = query.cursor === undefined ? undefined : parseBalanceCursor(query.cursor)
  if (query.cursor !== undefined && after === undefined) {
    return S.fail(invalid("cursor", query.cursor, "not a cursor from a previous balances answer"))
  }
  const leaf = query.scopes.at(-1) ?? ""
  const found: Array<S.BudgetRecord> = []
  for (const [scope, units] of tenant.budgets) {
    if (!query.scopes.includes(scope) && !(query.includeChildren && Scope.isBelow(scope, leaf))) continue
    for (const budget of units.values()) {
      if (query.unit !== undefined && budget.unit !== query.unit) continue
      if (after !== undefined && compare(budget, after) <= 0) continue
      found.push(budget)
    }
  }
  found.sort((a, b) => compare(a, b))
  const page = found.slice(0, query.limit)
  const last = page.at(-1)
  const list: Array<Balance> = page.map(S.snapshot)
  return S.ok(
    found.length > page.length && last !== undefined
      ? { balances: list, hasMore: true, nextCursor: `${last.scope}#${last.unit}` }
      : { balances: list, hasMore: false }
  )
}

const detail = (reservation: S.ReservationRecord): Reservation => {
  const { terms } = reservation
  const charged = S.chargedOf(reservation)
  return {
    reservationId: S.idOf(reservation),
    status: reservation.status,
    subject: terms.subject,
    action: terms.action,
    reserved: S.estimateOf(reservation),
    ...(charged === undefined ? {} : { committed: { unit: terms.unit, amount: charged } }),
    createdAtMs: reservation.createdAtMs,
    expiresAtMs: reservation.expiresAtMs,
    ...(S.finalizedAtOf(reservation) === undefined ? {} : { finalizedAtMs: S.finalizedAtOf(reservation)! }),
    graceMs: terms.graceMs,
    overagePolicy: terms.overagePolicy,
    extensions: S.extensionsOf(reservation),
    scopePath: S.scopePathOf(reservation),
    affectedScopes: terms.affectedScopes,
    ...(reservation.idempotencyKey === undefined ? {} : { idempotencyKey: reservation.idempotencyKey }),
    ...(terms.metadata === undefined ? {} : { metadata: terms.metadata })
  }
}

/** One reservation of the caller's tenant; an expired one answers reservation-expired. */
export const getReservation = (
  state: S.State,
  query: GetReservationQuery
): Result.Result<Reservation, LedgerErrorReason> => {
  const reservation = Reservations.find(state.reservations, query.reservationId)
  if (reservation === undefined) return S.fail(new NotFound({ resource: "reservation", id: query.reservationId }))
  if (reservation.terms.tenant !== query.tenant) {
    return S.fail(new Forbidden({ tenant: query.tenant, resource: `reservation ${query.reservationId}` }))
  }
  if (reservation.status === "expired") {
    return S.fail(
      new ReservationExpired({
        reservationId: query.reservationId,
        expiresAtMs: reservation.expiresAtMs,
        graceMs: reservation.terms.graceMs,
        nowMs: query.now
      })
    )
  }
  return S.ok(detail(reservation))
}

/** Whether `own` has every dimension of `wanted` (none wanted: always), with the same value. */
const hasDimensions = (
  own: Readonly<Record<string, string>> | undefined,
  wanted: Readonly<Record<string, string>> | undefined
): boolean => {
  if (wanted === undefined) return true
  for (const name in wanted) if (own?.[name] !== wanted[name]) return false
  return true
}

/** The caller's reservations matching the filters, oldest first, a page at a time. */
export const listReservations = (
  state: S.State,
  query: ListReservationsQuery
): Result.Result<ReservationsAnswer, LedgerErrorReason> => {
  const tenant = S.tenantView(state, query.tenant)
  const after = query.cursor === undefined ? 0 : Number(query.cursor)
  if (!Number.isSafeInteger(after) || after < 0) {
    return S.fail(invalid("cursor", query.cursor, "not a cursor from a previous listReservations answer"))
  }
  const subject = query.subject
  const page: Array<Reservation> = []
  let hasMore = false
  let lastSeq = 0
  const all = tenant.reservations
  // the first reservation after the cursor (they are in number order)
  let low = 0
  let high = all.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (Chunked.get(all, middle)!.seq <= after) low = middle + 1
    else high = middle
  }
  for (let i = low; i < all.length; i++) {
    const reservation = Chunked.get(all, i)!
    if (query.status !== undefined && reservation.status !== query.status) continue
    if (query.idempotencyKey !== undefined && reservation.idempotencyKey !== query.idempotencyKey) continue
    if (
      subject !== undefined &&
      (Scope.levels.some((level) =>
        subject[level] !== undefined && subject[level] !== reservation.terms.subject[level]
      ) ||
        !hasDimensions(reservation.terms.subject.dimensions, subject.dimensions))
    ) {
      continue
    }
    if (page.length === query.limit) {
      hasMore = true
      break
    }
    page.push(detail(reservation))
    lastSeq = reservation.seq
  }
  return S.ok(hasMore ? { reservations: page, hasMore, nextCursor: String(lastSeq) } : { reservations: page, hasMore })
}
