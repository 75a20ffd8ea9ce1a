/**
 * Budget administration: create a budget for a scope and unit, fund it
 * (credit, debit, reset, repay debt), freeze, unfreeze and close it.
 *
 * @internal
 */
import type { Result } from "effect"
import * as Amount from "./amount.ts"
import type { BudgetStatusCommand, CreateBudgetCommand, FundBudgetCommand, OverdraftLimitCommand } from "./commands.ts"
import {
  BudgetClosed,
  BudgetExceeded,
  BudgetExists,
  BudgetFrozen,
  invalid,
  type LedgerErrorReason,
  NotFound
} from "./errors.ts"
import type { BudgetAnswer, FundAnswer } from "./model.ts"
import * as S from "./state.ts"

const find = (tenant: S.TenantState, scope: string, unit: S.BudgetRecord["unit"]): S.BudgetRecord | NotFound =>
  tenant.budgets.get(scope)?.get(unit) ?? new NotFound({ resource: "budget", id: scope, unit })

export const createBudget = (
  state: S.State,
  command: CreateBudgetCommand
): Result.Result<BudgetAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const { scope, unit } = command
  let units = tenant.budgets.get(scope)
  if (units?.has(unit) === true) return S.fail(new BudgetExists({ scope, unit }))
  if (units === undefined) {
    units = new Map()
    tenant.budgets.set(scope, units)
  }
  const budget: S.BudgetRecord = {
    scope,
    unit,
    status: "active",
    allocated: command.allocated,
    spent: 0n,
    reserved: 0n,
    debt: 0n,
    overdraftLimit: command.overdraftLimit,
    isOverLimit: false,
    remaining: command.allocated,
    fixed: undefined
  }
  units.set(unit, budget)
  S.budgetCreated(tenant)
  return S.ok({ balances: [S.snapshot(budget)] })
}

/**
 * fund: `credit` adds to allocated; `debit` takes from it (never below a
 * remaining of 0); `reset` sets it; `repay-debt` clears debt first and adds
 * the rest to allocated. Spent, reserved and debt are otherwise kept. The
 * over-limit flag is reconciled: it stays only while debt exceeds the
 * overdraft limit.
 */
export const fundBudget = (
  state: S.State,
  command: FundBudgetCommand
): Result.Result<FundAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const replayed = S.recall<FundAnswer>(tenant, "fund", command.idempotencyKey, command)
  if (replayed !== undefined) return replayed
  const budget = find(tenant, command.scope, command.unit)
  if (budget instanceof NotFound) return S.fail(budget)
  const { scope, unit } = budget
  if (budget.status === "closed") return S.fail(new BudgetClosed({ scope, unit }))
  if (budget.status === "frozen") return S.fail(new BudgetFrozen({ scope, unit }))
  const { amount, operation } = command
  const previous = S.snapshot(budget)
  let allocated = budget.allocated
  let debt = budget.debt
  switch (operation) {
    case "credit":
      allocated += amount
      break
    case "debit": {
      if (previous.remaining < amount) {
        return S.fail(new BudgetExceeded({ scope, unit, requested: amount, remaining: previous.remaining }))
      }
      allocated -= amount
      break
    }
    case "reset":
      allocated = amount
      break
    case "repay-debt": {
      const repaid = Amount.min(amount, debt)
      debt -= repaid
      allocated += amount - repaid
      break
    }
  }
  if (allocated > Amount.MAX) return S.fail(invalid("amount", amount, `allocated would be ${allocated}, above 2^63-1`))
  const remaining = allocated - budget.spent - budget.reserved - debt
  if (!Amount.fits(remaining)) return S.fail(invalid("amount", amount, "remaining would fall below -2^63"))
  budget.allocated = allocated
  budget.debt = debt
  budget.remaining = remaining
  budget.isOverLimit = debt > budget.overdraftLimit
  const answer: FundAnswer = { operation, previous, balances: [S.snapshot(budget)] }
  return S.remember(tenant, "fund", command.idempotencyKey, command, answer, command.now)
}

/** Moves a budget to `frozen` (from active), `active` (from frozen) or `closed` (from either). */
export const setBudgetStatus = (
  state: S.State,
  command: BudgetStatusCommand
): Result.Result<BudgetAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const budget = find(tenant, command.scope, command.unit)
  if (budget instanceof NotFound) return S.fail(budget)
  const { scope, unit } = budget
  if (budget.status === "closed") return S.fail(new BudgetClosed({ scope, unit }))
  if (command.status === "frozen" && budget.status === "frozen") return S.fail(new BudgetFrozen({ scope, unit }))
  if (command.status === "active" && budget.status === "active") {
    return S.fail(invalid("status", "active", "the budget is not frozen"))
  }
  budget.status = command.status
  return S.ok({ balances: [S.snapshot(budget)] })
}

/**
 * Sets a budget's overdraft limit (allowed while frozen, not once closed).
 * The over-limit flag is left as it is: commits and events set it, funding
 * reconciles it. Lowering the limit to 0 under debt makes new reservations
 * fail with debt-outstanding.
 */
export const setOverdraftLimit = (
  state: S.State,
  command: OverdraftLimitCommand
): Result.Result<BudgetAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const budget = find(tenant, command.scope, command.unit)
  if (budget instanceof NotFound) return S.fail(budget)
  if (budget.status === "closed") return S.fail(new BudgetClosed({ scope: budget.scope, unit: budget.unit }))
  budget.overdraftLimit = command.overdraftLimit
  return S.ok({ balances: [S.snapshot(budget)] })
}
