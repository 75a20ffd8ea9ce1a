/**
 * `LedgerError` and its reasons, in Effect's reason pattern. Each reason is a
 * Schema error with `isRetryable` and a message that states the numbers.
 *
 * @internal
 */
import { Schema } from "effect"
import { AmountValue, SignedAmountValue } from "./amount.ts"
import { ReservationStatus, Unit } from "./model.ts"

export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  scope: Schema.String,
  unit: Unit,
  requested: AmountValue,
  remaining: SignedAmountValue,
  reservationId: Schema.optionalKey(Schema.String)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return this.reservationId === undefined
      ? `${this.scope}: requested ${this.requested}, ${this.remaining} remaining`
      : `${this.scope}: commit of ${this.requested} exceeds the ${this.remaining} reserved by ${this.reservationId} (overage policy REJECT)`
  }
}

export class OverdraftLimitExceeded extends Schema.TaggedError<OverdraftLimitExceeded>()("OverdraftLimitExceeded", {
  scope: Schema.String,
  unit: Unit,
  debt: AmountValue,
  shortfall: AmountValue,
  overdraftLimit: AmountValue
}) {
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return this.shortfall === 0n
      ? `${this.scope}: over limit (debt ${this.debt}, overdraft limit ${this.overdraftLimit}); no new reservations until it is reconciled`
      : `${this.scope}: debt ${this.debt} + shortfall ${this.shortfall} exceeds the overdraft limit ${this.overdraftLimit}`
  }
}

export class DebtOutstanding extends Schema.TaggedError<DebtOutstanding>()("DebtOutstanding", {
  scope: Schema.String,
  unit: Unit,
  debt: AmountValue
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${this.scope}: debt of ${this.debt} outstanding and no overdraft allowed; repay it first`
  }
}

export class BudgetFrozen extends Schema.TaggedError<BudgetFrozen>()("BudgetFrozen", {
  scope: Schema.String,
  unit: Unit
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${this.scope}: the ${this.unit} budget is frozen`
  }
}

export class BudgetClosed extends Schema.TaggedError<BudgetClosed>()("BudgetClosed", {
  scope: Schema.String,
  unit: Unit
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${this.scope}: the ${this.unit} budget is closed`
  }
}

export class BudgetExists extends Schema.TaggedError<BudgetExists>()("BudgetExists", {
  scope: Schema.String,
  unit: Unit
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${this.scope}: a ${this.unit} budget already exists`
  }
}

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  resource: Schema.Literals(["budget", "reservation"]),
  id: Schema.String,
  unit: Schema.optionalKey(Unit)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return this.resource === "reservation"
      ? `reservation ${this.id} not found`
      : `no ${this.unit ?? ""} budget at ${this.id}`.replace("no  budget", "no budget")
  }
}

export class UnitMismatch extends Schema.TaggedError<UnitMismatch>()("UnitMismatch", {
  scope: Schema.String,
  requested: Unit,
  expected: Schema.Array(Unit)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${this.scope}: requested in ${this.requested}, expected ${this.expected.join(" or ")}`
  }
}

export class ReservationExpired extends Schema.TaggedError<ReservationExpired>()("ReservationExpired", {
  reservationId: Schema.String,
  expiresAtMs: Schema.Number,
  graceMs: Schema.Number,
  nowMs: Schema.Number
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `reservation ${this.reservationId} expired at ${this.expiresAtMs} (grace ${this.graceMs} ms), now ${this.nowMs}`
  }
}

export class ReservationFinalized extends Schema.TaggedError<ReservationFinalized>()("ReservationFinalized", {
  reservationId: Schema.String,
  status: ReservationStatus
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `reservation ${this.reservationId} is already ${this.status}`
  }
}

export class MaxExtensionsExceeded extends Schema.TaggedError<MaxExtensionsExceeded>()("MaxExtensionsExceeded", {
  reservationId: Schema.String,
  extensions: Schema.Number
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `reservation ${this.reservationId} was already extended ${this.extensions} times, the most allowed`
  }
}

export class IdempotencyMismatch extends Schema.TaggedError<IdempotencyMismatch>()("IdempotencyMismatch", {
  operation: Schema.String,
  idempotencyKey: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `idempotency key "${this.idempotencyKey}" was first used for a different ${this.operation} request`
  }
}

export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  tenant: Schema.String,
  resource: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `tenant ${this.tenant} may not touch ${this.resource}`
  }
}

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  field: Schema.String,
  value: Schema.String,
  problem: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `invalid ${this.field} (${this.value}): ${this.problem}`
  }
}

export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  store: Schema.String,
  detail: Schema.String
}) {
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return `ledger store ${this.store} unavailable: ${this.detail}`
  }
}

export const reasons = [
  BudgetExceeded,
  OverdraftLimitExceeded,
  DebtOutstanding,
  BudgetFrozen,
  BudgetClosed,
  BudgetExists,
  NotFound,
  UnitMismatch,
  ReservationExpired,
  ReservationFinalized,
  MaxExtensionsExceeded,
  IdempotencyMismatch,
  Forbidden,
  InvalidRequest,
  StoreUnavailable
] as const

export type LedgerErrorReason =
  | BudgetExceeded
  | OverdraftLimitExceeded
  | DebtOutstanding
  | BudgetFrozen
  | BudgetClosed
  | BudgetExists
  | NotFound
  | UnitMismatch
  | ReservationExpired
  | ReservationFinalized
  | MaxExtensionsExceeded
  | IdempotencyMismatch
  | Forbidden
  | InvalidRequest
  | StoreUnavailable

export class LedgerError extends Schema.TaggedError<LedgerError>()("LedgerError", {
  method: Schema.String,
  reason: Schema.Union(reasons)
}) {
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
  override get message(): string {
    return `${this.method}: ${this.reason.message}`
  }
}

/** A printable form of a request value for `InvalidRequest`. */
export const showValue = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value)
  if (value === undefined) return "undefined"
  const json = JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v))
  return json === undefined ? String(value) : json
}

export const invalid = (field: string, value: unknown, problem: string): InvalidRequest =>
  new InvalidRequest({ field, value: showValue(value), problem })
