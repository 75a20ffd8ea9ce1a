/**
 * reserve and decide: find the budgets of the derived scopes in the unit,
 * check each scope in canonical order (the first failing check wins), then
 * hold the estimate on every one of them (reserve) or just answer (decide,
 * dry run).
 *
 * @internal
 */
import type { Result } from "effect"
import * as Chunked from "./chunked.ts"
import type { DecideCommand, ReserveCommand } from "./commands.ts"
import {
  BudgetClosed,
  BudgetExceeded,
  BudgetFrozen,
  DebtOutstanding,
  type LedgerErrorReason,
  NotFound,
  OverdraftLimitExceeded,
  UnitMismatch
} from "./errors.ts"
import { mismatch, Remembered, sameRequest, sameValue } from "./idempotency.ts"
import * as Intern from "./intern.ts"
import * as Keys from "./keys.ts"
import type { Balance, DecideAnswer, DenyReason, ReserveAnswer, Unit } from "./model.ts"
import * as Reservations from "./reservations.ts"
import * as Snapshots from "./snapshots.ts"
import * as S from "./state.ts"

/** The budgets an operation on `scopes` in `unit` touches, or why there are none. */
export const lookup = (
  tenant: S.TenantState,
  scopes: ReadonlyArray<string>,
  unit: Unit
): ReadonlyArray<S.BudgetRecord> | NotFound | UnitMismatch => {
  const budgets = S.budgetsIn(tenant, scopes, unit)
  if (budgets.length > 0) return budgets
  for (const scope of scopes) {
    const expected = S.otherUnits(tenant, scope, unit)
    if (expected.length > 0) return new UnitMismatch({ scope, requested: unit, expected })
  }
  return new NotFound({ resource: "budget", id: scopes.at(-1) ?? "", unit })
}

/** Whether `lookup` found budgets. */
export const isFound = (
  found: ReadonlyArray<S.BudgetRecord> | NotFound | UnitMismatch
): found is ReadonlyArray<S.BudgetRecord> => Array.isArray(found)

/** The first scope that cannot hold `estimate`, as the reason it cannot. */
export const check = (budgets: ReadonlyArray<S.BudgetRecord>, estimate: bigint): LedgerErrorReason | undefined => {
  for (const budget of budgets) {
    const { scope, unit } = budget
    if (budget.status === "frozen") return new BudgetFrozen({ scope, unit })
    if (budget.status === "closed") return new BudgetClosed({ scope, unit })
    if (budget.isOverLimit) {
      return new OverdraftLimitExceeded({
        scope,
        unit,
        debt: budget.debt,
        shortfall: 0n,
        overdraftLimit: budget.overdraftLimit
      })
    }
    if (budget.debt > 0n && budget.overdraftLimit === 0n) return new DebtOutstanding({ scope, unit, debt: budget.debt })
    const left = budget.remaining
    if (left < estimate) return new BudgetExceeded({ scope, unit, requested: estimate, remaining: left })
  }
  return undefined
}

/** The deny reason code of a check failure. */
export const denyReason = (reason: LedgerErrorReason): DenyReason => {
  switch (reason._tag) {
    case "BudgetFrozen":
      return "budget-frozen"
    case "BudgetClosed":
      return "budget-closed"
    case "OverdraftLimitExceeded":
      return "overdraft-limit-exceeded"
    case "DebtOutstanding":
      return "debt-outstanding"
    case "NotFound":
      return "budget-not-found"
    default:
      return "budget-exceeded"
  }
}

/** The answer of an allowed reserve, as first given and as replayed. */
const allowed = (reservation: S.ReservationRecord, balances: Array<Balance>): ReserveAnswer => ({
  decision: "allow",
  reservationId: S.idOf(reservation),
  reserved: S.estimateOf(reservation),
  expiresAtMs: reservation.createdAtMs + reservation.terms.ttlMs,
  scopePath: S.scopePathOf(reservation),
  affectedScopes: reservation.terms.affectedScopes,
  balances
})

/** Whether `command` is the request that made `reservation` (equal fingerprints). */
const madeBy = ({ terms }: S.ReservationRecord, command: ReserveCommand): boolean =>
  !command.dryRun &&
  terms.tenant === command.tenant &&
  terms.ttlMs === command.ttlMs &&
  terms.unit === command.estimate.unit &&
  terms.estimated === command.estimate.amount &&
  terms.graceMs === command.graceMs &&
  terms.overagePolicy === command.overagePolicy &&
  sameValue(terms.subject, command.subject) &&
  sameValue(terms.action, command.action) &&
  sameValue(terms.metadata, command.metadata)

/** A reserve whose key was used before: the first answer for the same request, else a mismatch. */
const replay = (
  first: S.ReservationRecord | Remembered,
  command: ReserveCommand,
  key: string
): Result.Result<ReserveAnswer, LedgerErrorReason> => {
  if (first instanceof Remembered) {
    return sameRequest(first.request, command) ? S.ok(first.answer as ReserveAnswer) : S.fail(mismatch("reserve", key))
  }
  if (!madeBy(first, command) || first.snapshot === undefined) return S.fail(mismatch("reserve", key))
  return S.ok(allowed(first, Snapshots.read(first.snapshot, first.row, first.terms.budgets)))
}

/**
 * The terms of a reservation `command` makes on `budgets`: the tenant's last
 * ones when all the same (subject and action compared as `Intern` shares
 * them), else new ones, which become the last.
 */
const termsOf = (
  state: S.State,
  tenant: S.TenantState,
  command: ReserveCommand,
  budgets: ReadonlyArray<S.BudgetRecord>
): S.Terms => {
  const scopes = command.scopes
  const subject = Intern.subject(state.interned, command.subject, scopes.at(-1) ?? "")
  const action = Intern.action(state.interned, command.action)
  const { estimate } = command
  const last = tenant.lastTerms
  if (
    last !== undefined &&
    last.budgets === budgets &&
    last.subject === subject &&
    last.action === action &&
    last.estimated === estimate.amount &&
    last.unit === estimate.unit &&
    last.ttlMs === command.ttlMs &&
    last.graceMs === command.graceMs &&
    last.overagePolicy === command.overagePolicy &&
    last.affectedScopes === scopes &&
    last.metadata === command.metadata &&
    last.tenant === command.tenant
  ) return last
  const terms: S.Terms = {
    tenant: command.tenant,
    subject,
    action,
    unit: estimate.unit,
    estimated: estimate.amount,
    ttlMs: command.ttlMs,
    graceMs: command.graceMs,
    overagePolicy: command.overagePolicy,
    affectedScopes: scopes,
    budgets,
    metadata: command.metadata
  }
  tenant.lastTerms = terms
  return terms
}

/** A dry run's answer, remembered under its key. */
const answerDryRun = (
  tenant: S.TenantState,
  command: ReserveCommand,
  answer: ReserveAnswer
): Result.Result<ReserveAnswer, LedgerErrorReason> => {
  if (command.idempotencyKey !== undefined) {
    Keys.set(tenant.reserveKeys, command.idempotencyKey, new Remembered(command, answer, command.now))
  }
  return S.ok(answer)
}

/**
 * reserve: hold the estimate on every budgeted derived scope until `now + ttl`.
 * With an idempotency key, the key points at the reservation, which holds
 * what a replay needs (the request, and the answer's balances off the heap).
 */
export const reserve = (state: S.State, command: ReserveCommand): Result.Result<ReserveAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const key = command.idempotencyKey
  if (key !== undefined) {
    const first = Keys.get(tenant.reserveKeys, key)
    if (first !== undefined) return replay(first, command, key)
  }
  const { estimate, scopes, now } = command
  const scopePath = scopes.at(-1) ?? ""
  const found = lookup(tenant, scopes, estimate.unit)
  if (!isFound(found)) {
    if (found._tag === "NotFound" && command.dryRun) {
      return answerDryRun(tenant, command, {
        decision: "deny",
        reasonCode: "budget-not-found",
        scopePath,
        affectedScopes: scopes,
        balances: []
      })
    }
    return S.fail(found)
  }
  const failure = check(found, estimate.amount)
  if (command.dryRun) {
    return answerDryRun(
      tenant,
      command,
      failure === undefined
        ? { decision: "allow", scopePath, affectedScopes: scopes, balances: found.map(S.snapshot) }
        : {
          decision: "deny",
          reasonCode: denyReason(failure),
          scopePath,
          affectedScopes: scopes,
          balances: found.map(S.snapshot)
        }
    )
  }
  if (failure !== undefined) return S.fail(failure)
  for (const budget of found) {
    budget.reserved += estimate.amount
    budget.remaining -= estimate.amount
  }
  const seq = Reservations.nextSeq(state.reservations)
  const snapshots = state.snapshots
  // A keyed reservation gets the rows of both its answers now: the settle answer's follow the reserve answer's.
  const row = key === undefined ? 0 : Snapshots.allocate(snapshots, 2 * found.length)
  if (key !== undefined) Snapshots.write(snapshots.chunk, row, found)
  const reservation: S.ReservationRecord = {
    seq,
    terms: termsOf(state, tenant, command, found),
    createdAtMs: now,
    idempotencyKey: key,
    snapshot: key === undefined ? undefined : snapshots.chunk,
    row,
    status: "active",
    expiresAtMs: now + command.ttlMs,
    endedAtMs: undefined,
    actual: undefined,
    extras: undefined
  }
  Reservations.add(state.reservations, reservation)
  Chunked.push(tenant.reservations, reservation)
  S.expiring(tenant, reservation)
  if (key !== undefined) Keys.set(tenant.reserveKeys, key, reservation)
  return S.ok(allowed(reservation, found.map(S.snapshot)))
}

/** decide: would a reservation of the estimate be allowed now? Budget states are a deny, not an error. */
export const decide = (state: S.State, command: DecideCommand): Result.Result<DecideAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const replayed = S.recall<DecideAnswer>(tenant, "decide", command.idempotencyKey, command)
  if (replayed !== undefined) return replayed
  const found = lookup(tenant, command.scopes, command.estimate.unit)
  if (!isFound(found) && found._tag === "UnitMismatch") return S.fail(found)
  const failure = isFound(found) ? check(found, command.estimate.amount) : found
  const answer: DecideAnswer = failure === undefined
    ? { decision: "allow", affectedScopes: command.scopes }
    : { decision: "deny", reasonCode: denyReason(failure), affectedScopes: command.scopes }
  return S.remember(tenant, "decide", command.idempotencyKey, command, answer, command.now)
}
