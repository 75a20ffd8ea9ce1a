/**
 * event: debit `actual` directly, without a reservation, on every budgeted
 * derived scope, under the same overage policies as commit.
 *
 * @internal
 */
import type { Result } from "effect"
import type { EventCommand } from "./commands.ts"
import { BudgetClosed, BudgetExceeded, BudgetFrozen, type LedgerErrorReason } from "./errors.ts"
import type { EventAnswer } from "./model.ts"
import * as Overage from "./overage.ts"
import { isFound, lookup } from "./reserve.ts"
import * as S from "./state.ts"

export const event = (state: S.State, command: EventCommand): Result.Result<EventAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const replayed = S.recall<EventAnswer>(tenant, "event", command.idempotencyKey, command)
  if (replayed !== undefined) return replayed
  const { actual } = command
  const budgets = lookup(tenant, command.scopes, actual.unit)
  if (!isFound(budgets)) return S.fail(budgets)
  for (const budget of budgets) {
    const { scope, unit } = budget
    if (budget.status === "frozen") return S.fail(new BudgetFrozen({ scope, unit }))
    if (budget.status === "closed") return S.fail(new BudgetClosed({ scope, unit }))
  }
  let charged = actual.amount
  if (command.overagePolicy === "REJECT") {
    for (const budget of budgets) {
      const left = budget.remaining
      if (left < actual.amount) {
        return S.fail(
          new BudgetExceeded({ scope: budget.scope, unit: budget.unit, requested: actual.amount, remaining: left })
        )
      }
    }
    for (const budget of budgets) {
      budget.spent += actual.amount
      budget.remaining -= actual.amount
    }
  } else if (actual.amount > 0n) {
    const charge = Overage.plan(budgets, actual.amount, command.overagePolicy, actual.amount)
    if ("_tag" in charge) return S.fail(charge)
    Overage.apply(budgets, 0n, charge)
    charged = charge.charged
  }
  const answer: EventAnswer = {
    status: "applied",
    eventId: S.nextEventId(state),
    charged: { unit: actual.unit, amount: charged },
    balances: budgets.map(S.snapshot)
  }
  return S.remember(tenant, "event", command.idempotencyKey, command, answer, command.now)
}
