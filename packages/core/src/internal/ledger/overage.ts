/**
 * The overage policies, shared by commit (the part of `actual` above the
 * estimate) and event (the whole `actual`): how much of `delta` is charged on
 * each scope, what becomes debt, and which scopes become over-limit.
 *
 * - `ALLOW_IF_AVAILABLE`: `delta` is capped at the smallest remaining (floor
 *   0) across the scopes; scopes that could not cover all of it become
 *   over-limit; never debt.
 * - `ALLOW_WITH_OVERDRAFT`: scopes without an overdraft limit cap `delta` as
 *   above; on scopes with a limit the part their remaining cannot fund becomes
 *   debt when `debt + shortfall ≤ overdraftLimit`, else the whole operation
 *   fails with overdraft-limit-exceeded; and when the debt would take the
 *   scope's remaining below −2^63 (after an allocation reset far below what
 *   was spent), it fails as an invalid `actual`: no figure ever leaves its
 *   range.
 *
 * `REJECT` is decided by the callers (commit rejects any overage, event any
 * scope that cannot cover `actual`).
 *
 * @internal
 */
import * as Amount from "./amount.ts"
import { invalid, type InvalidRequest, OverdraftLimitExceeded } from "./errors.ts"
import * as S from "./state.ts"

/** What one scope is charged beyond the base. */
export interface Share {
  readonly funded: bigint
  readonly deficit: bigint
  readonly overLimit: boolean
}

/** The charge of an overage: the part of `delta` charged, and each scope's share. */
export interface Charge {
  readonly charged: bigint
  readonly shares: ReadonlyArray<Share>
}

/**
 * Plans the charge of `delta` (> 0) on `budgets` under `policy`; checks
 * only. `actual` is the request's amount, named by an InvalidRequest.
 */
export const plan = (
  budgets: ReadonlyArray<S.BudgetRecord>,
  delta: bigint,
  policy: "ALLOW_IF_AVAILABLE" | "ALLOW_WITH_OVERDRAFT",
  actual: bigint
): Charge | OverdraftLimitExceeded | InvalidRequest => {
  const lefts = budgets.map((budget) => budget.remaining)
  let charged = delta
  if (policy === "ALLOW_IF_AVAILABLE") {
    for (const left of lefts) charged = Amount.min(charged, Amount.max(left, 0n))
    return {
      charged,
      shares: lefts.map((left) => ({ funded: charged, deficit: 0n, overLimit: charged < delta && left < delta }))
    }
  }
  for (let i = 0; i < budgets.length; i++) {
    const left = lefts[i]!
    if (budgets[i]!.overdraftLimit === 0n && left < delta) charged = Amount.min(charged, Amount.max(left, 0n))
  }
  const shares: Array<Share> = []
  for (let i = 0; i < budgets.length; i++) {
    const budget = budgets[i]!
    const left = lefts[i]!
    const zeroLimitShort = budget.overdraftLimit === 0n && charged < delta && left < delta
    if (left >= charged) {
      shares.push({ funded: charged, deficit: 0n, overLimit: zeroLimitShort })
      continue
    }
    const funded = Amount.max(left, 0n)
    const deficit = charged - funded
    if (budget.overdraftLimit > 0n && budget.debt + deficit > budget.overdraftLimit) {
      return new OverdraftLimitExceeded({
        scope: budget.scope,
        unit: budget.unit,
        debt: budget.debt,
        shortfall: deficit,
        overdraftLimit: budget.overdraftLimit
      })
    }
    if (left - funded - deficit < Amount.MIN) {
      return invalid("actual", actual, `${budget.scope}: remaining would fall below -2^63`)
    }
    shares.push({ funded, deficit, overLimit: zeroLimitShort })
  }
  return { charged, shares }
}

/** Applies a charge: each scope's spent grows by `base + funded`, its debt by `deficit`. */
export const apply = (budgets: ReadonlyArray<S.BudgetRecord>, base: bigint, charge: Charge): void => {
  for (let i = 0; i < budgets.length; i++) {
    const budget = budgets[i]!
    const share = charge.shares[i]!
    budget.spent += base + share.funded
    budget.debt += share.deficit
    if (share.overLimit) budget.isOverLimit = true
    S.recount(budget)
  }
}
