/**
 * reserve and decide: find the budgets of the derived scopes in the unit,
 * check each scope in canonical order (the first failing check wins), then
 * hold the estimate on every one of them (reserve) or just answer (decide,
 * dry run).
 *
 * @internal
 */
import type { Result } from "effect"
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
import type { DecideAnswer, DenyReason, ReserveAnswer, Unit } from "./model.ts"
import * as S from "./state.ts"

/** The budgets an operation on `scopes` in `unit` touches, or why there are none. */
export const lookup = (
  tenant: S.TenantState,
  scopes: ReadonlyArray<string>,
  unit: Unit
): Array<S.BudgetRecord> | NotFound | UnitMismatch => {
  const budgets = S.budgetsIn(tenant, scopes, unit)
  if (budgets.length > 0) return budgets
  for (const scope of scopes) {
    const expected = S.otherUnits(tenant, scope, unit)
    if (expected.length > 0) return new UnitMismatch({ scope, requested: unit, expected })
  }
  return new NotFound({ resource: "budget", id: scopes.at(-1) ?? "", unit })
}

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
    const left = S.remaining(budget)
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

/** reserve: hold the estimate on every budgeted derived scope until `now + ttl`. */
export const reserve = (state: S.State, command: ReserveCommand): Result.Result<ReserveAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const replay = S.recall<ReserveAnswer>(tenant, "reserve", command.idempotencyKey, command.fingerprint)
  if (replay !== undefined) return replay
  const { estimate, scopes, now } = command
  const scopePath = scopes.at(-1) ?? ""
  const found = lookup(tenant, scopes, estimate.unit)
  if (!Array.isArray(found)) {
    if (found._tag === "NotFound" && command.dryRun) {
      const answer: ReserveAnswer = {
        decision: "deny",
        reasonCode: "budget-not-found",
        scopePath,
        affectedScopes: scopes,
        balances: []
      }
      return S.remember(tenant, "reserve", command.idempotencyKey, command.fingerprint, answer, now)
    }
    return S.fail(found)
  }
  const failure = check(found, estimate.amount)
  if (command.dryRun) {
    const answer: ReserveAnswer = failure === undefined
      ? { decision: "allow", scopePath, affectedScopes: scopes, balances: found.map(S.snapshot) }
      : {
        decision: "deny",
        reasonCode: denyReason(failure),
        scopePath,
        affectedScopes: scopes,
        balances: found.map(S.snapshot)
      }
    return S.remember(tenant, "reserve", command.idempotencyKey, command.fingerprint, answer, now)
  }
  if (failure !== undefined) return S.fail(failure)
  for (const budget of found) budget.reserved += estimate.amount
  const seq = ++state.sequence
  const reservation: S.ReservationRecord = {
    id: `rsv_${seq}`,
    seq,
    tenant: command.tenant,
    subject: command.subject,
    action: command.action,
    estimate,
    createdAtMs: now,
    graceMs: command.graceMs,
    overagePolicy: command.overagePolicy,
    scopePath,
    affectedScopes: scopes,
    budgets: found,
    idempotencyKey: command.idempotencyKey,
    metadata: command.metadata,
    status: "active",
    expiresAtMs: now + command.ttlMs,
    extensions: 0,
    committed: undefined,
    finalizedAtMs: undefined,
    endedAtMs: undefined
  }
  state.reservations.set(reservation.id, reservation)
  state.active.add(reservation)
  tenant.reservations.push(reservation)
  const answer: ReserveAnswer = {
    decision: "allow",
    reservationId: reservation.id,
    reserved: estimate,
    expiresAtMs: reservation.expiresAtMs,
    scopePath,
    affectedScopes: scopes,
    balances: found.map(S.snapshot)
  }
  return S.remember(tenant, "reserve", command.idempotencyKey, command.fingerprint, answer, now)
}

/** decide: would a reservation of the estimate be allowed now? Budget states are a deny, not an error. */
export const decide = (state: S.State, command: DecideCommand): Result.Result<DecideAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const replay = S.recall<DecideAnswer>(tenant, "decide", command.idempotencyKey, command.fingerprint)
  if (replay !== undefined) return replay
  const found = lookup(tenant, command.scopes, command.estimate.unit)
  if (!Array.isArray(found) && found._tag === "UnitMismatch") return S.fail(found)
  const failure = Array.isArray(found) ? check(found, command.estimate.amount) : found
  const answer: DecideAnswer = failure === undefined
    ? { decision: "allow", affectedScopes: command.scopes }
    : { decision: "deny", reasonCode: denyReason(failure), affectedScopes: command.scopes }
  return S.remember(tenant, "decide", command.idempotencyKey, command.fingerprint, answer, command.now)
}
