/**
 * event: debit `actual` directly, without a reservation, on every budgeted
 * derived scope, under the same overage policies as commit.
 *
 * @internal
 */
import type { Result } from "effect"
import type { EventCommand } from "./commands.ts"
import { BudgetClosed, BudgetExceeded, BudgetFrozen, type LedgerErrorReason } from "./errors.ts"
import { mismatch, sameValue } from "./idempotency.ts"
import * as Intern from "./intern.ts"
import * as Keys from "./keys.ts"
import type { Balance, EventAnswer, Unit } from "./model.ts"
import * as Overage from "./overage.ts"
import { isFound, lookup } from "./reserve.ts"
import * as Snapshots from "./snapshots.ts"
import * as S from "./state.ts"

/** The answer of an event, as first given and as replayed. */
const applied = (unit: Unit, sequence: number, charged: bigint, balances: Array<Balance>): EventAnswer => ({
  status: "applied",
  eventId: S.eventIdOf(sequence),
  charged: { unit, amount: charged },
  balances
})

/**
 * Whether `command` is the request `record` remembers: what `sameRequest`
 * compares (all but `now` and `scopes`; the tenant is the key table's).
 */
const madeBy = (record: S.EventRecord, command: EventCommand): boolean =>
  record.unit === command.actual.unit &&
  record.amount === command.actual.amount &&
  record.overagePolicy === command.overagePolicy &&
  sameValue(record.subject, command.subject) &&
  sameValue(record.action, command.action) &&
  sameValue(record.metadata, command.metadata)

/**
 * event: debit `actual` on every budgeted derived scope. With an idempotency
 * key, the key keeps an `EventRecord`, from which a replay rebuilds the
 * first answer.
 */
export const event = (state: S.State, command: EventCommand): Result.Result<EventAnswer, LedgerErrorReason> => {
  const tenant = S.tenantState(state, command.tenant)
  const key = command.idempotencyKey
  if (key !== undefined) {
    const first = Keys.get(tenant.eventKeys, key)
    if (first !== undefined) {
      return madeBy(first, command)
        ? S.ok(
          applied(first.unit, first.sequence, first.charged, Snapshots.read(first.snapshot, first.row, first.budgets))
        )
        : S.fail(mismatch("event", key))
    }
  }
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
  const sequence = S.nextEventSequence(state)
  if (key !== undefined) {
    const snapshots = state.snapshots
    const row = Snapshots.save(snapshots, budgets)
    Keys.set(tenant.eventKeys, key, {
      atMs: command.now,
      subject: Intern.subject(state.interned, command.subject, command.scopes.at(-1) ?? ""),
      action: Intern.action(state.interned, command.action),
      unit: actual.unit,
      amount: actual.amount,
      overagePolicy: command.overagePolicy,
      metadata: command.metadata,
      sequence,
      charged,
      budgets,
      snapshot: snapshots.chunk,
      row
    })
  }
  return S.ok(applied(actual.unit, sequence, charged, budgets.map(S.snapshot)))
}
