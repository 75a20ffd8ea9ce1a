/**
 * The ledger's models as Schemas: units, amounts, subjects, balances,
 * reservations, the requests the `Ledger` decodes at its boundary and the
 * answers every store returns. Shared by `Ledger.ts` (which documents and
 * re-exports them) and `LedgerStore.ts`.
 *
 * @internal
 */
import { Effect, Option, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { AmountValue, SignedAmountValue } from "./amount.ts"
import * as Scope from "./scope.ts"

// =============================================================================
// Vocabulary
// =============================================================================

export const Unit = Schema.Literals(["USD_MICROCENTS", "TOKENS", "CREDITS", "RISK_POINTS"])
export type Unit = typeof Unit.Type

export const OveragePolicy = Schema.Literals(["REJECT", "ALLOW_IF_AVAILABLE", "ALLOW_WITH_OVERDRAFT"])
export type OveragePolicy = typeof OveragePolicy.Type

export const BudgetStatus = Schema.Literals(["active", "frozen", "closed"])
export type BudgetStatus = typeof BudgetStatus.Type

export const ReservationStatus = Schema.Literals(["active", "committed", "released", "expired"])
export type ReservationStatus = typeof ReservationStatus.Type

export const Decision = Schema.Literals(["allow", "deny"])
export type Decision = typeof Decision.Type

export const DenyReason = Schema.Literals([
  "budget-exceeded",
  "budget-frozen",
  "budget-closed",
  "overdraft-limit-exceeded",
  "debt-outstanding",
  "budget-not-found"
])
export type DenyReason = typeof DenyReason.Type

export const FundOperation = Schema.Literals(["credit", "debit", "reset", "repay-debt"])
export type FundOperation = typeof FundOperation.Type

export const Amount = Schema.Struct({ unit: Unit, amount: AmountValue })
export type Amount = typeof Amount.Type

const text = (maxLength: number) => Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(maxLength))

export const LevelValue = Schema.String.check(
  Schema.isPattern(Scope.levelPattern, { expected: "1 to 128 characters from [a-zA-Z0-9_.-]" }),
  Schema.isMaxLength(128)
)

export const Tenant = LevelValue

export const IdempotencyKey = text(256)

export const ReservationId = text(256)

export const Metadata = Schema.Record(Schema.String, Schema.String.check(Schema.isMaxLength(1024))).check(
  Schema.isMaxProperties(32)
)
export type Metadata = typeof Metadata.Type

const subjectFields = {
  tenant: Schema.optionalKey(LevelValue),
  workspace: Schema.optionalKey(LevelValue),
  app: Schema.optionalKey(LevelValue),
  workflow: Schema.optionalKey(LevelValue),
  agent: Schema.optionalKey(LevelValue),
  toolset: Schema.optionalKey(LevelValue),
  dimensions: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.String.check(Schema.isMaxLength(256))).check(Schema.isMaxProperties(16))
  )
}

export const SubjectFilter = Schema.Struct(subjectFields)
export type SubjectFilter = typeof SubjectFilter.Type

export const Subject = Schema.Struct(subjectFields).check(
  Schema.makeFilter((subject: Scope.Levels) => Scope.levels.some((level) => subject[level] !== undefined), {
    expected: "a subject naming at least one of tenant, workspace, app, workflow, agent, toolset"
  })
)
export type Subject = typeof Subject.Type

export const ScopeFromString = Schema.String.pipe(
  Schema.decodeTo(
    Subject,
    SchemaTransformation.transformEffect({
      decode: (path: string) => {
        const parsed = Scope.parse(path)
        return "problem" in parsed
          ? Effect.fail(new SchemaIssue.InvalidValue({ message: parsed.problem }, Option.some(path)))
          : Effect.succeed(parsed.subject as Subject)
      },
      encode: (subject: Subject) => Effect.succeed(Scope.derive(subject).at(-1) ?? "")
    })
  )
)

export const ScopeInput = Schema.Union([ScopeFromString, Subject])

export const Action = Schema.Struct({
  kind: text(64),
  name: text(256),
  tags: Schema.optionalKey(Schema.Array(text(64)).check(Schema.isMaxLength(10)))
})
export type Action = typeof Action.Type

export const Balance = Schema.Struct({
  scope: Schema.String,
  unit: Unit,
  status: BudgetStatus,
  allocated: AmountValue,
  spent: AmountValue,
  reserved: AmountValue,
  debt: AmountValue,
  overdraftLimit: AmountValue,
  remaining: SignedAmountValue,
  isOverLimit: Schema.Boolean
})
export type Balance = typeof Balance.Type

export const Reservation = Schema.Struct({
  reservationId: Schema.String,
  status: ReservationStatus,
  subject: Subject,
  action: Action,
  reserved: Amount,
  committed: Schema.optionalKey(Amount),
  createdAtMs: Schema.Number,
  expiresAtMs: Schema.Number,
  finalizedAtMs: Schema.optionalKey(Schema.Number),
  graceMs: Schema.Number,
  overagePolicy: OveragePolicy,
  extensions: Schema.Number,
  scopePath: Schema.String,
  affectedScopes: Schema.Array(Schema.String),
  idempotencyKey: Schema.optionalKey(Schema.String),
  metadata: Schema.optionalKey(Metadata)
})
export type Reservation = typeof Reservation.Type

// =============================================================================
// Requests
// =============================================================================

const Int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))
const withDefault = <S extends Schema.Top>(value: S["Encoded"]) =>
  Schema.withDecodingDefaultKey<S>(Effect.succeed(value))

const TtlMs = Int(1_000, 86_400_000).pipe(withDefault(60_000))
const GraceMs = Int(0, 60_000).pipe(withDefault(5_000))
const PageLimit = Int(1, 200).pipe(withDefault(50))
const Policy = OveragePolicy.pipe(withDefault("ALLOW_IF_AVAILABLE"))

export const ReserveRequest = Schema.Struct({
  tenant: Tenant,
  subject: Subject,
  action: Action,
  estimate: Amount,
  ttlMs: TtlMs,
  graceMs: GraceMs,
  overagePolicy: Policy,
  dryRun: Schema.Boolean.pipe(withDefault(false)),
  idempotencyKey: Schema.optionalKey(IdempotencyKey),
  metadata: Schema.optionalKey(Metadata)
})
export type ReserveRequest = typeof ReserveRequest.Type

export const CommitRequest = Schema.Struct({
  tenant: Tenant,
  reservationId: ReservationId,
  actual: Amount,
  idempotencyKey: Schema.optionalKey(IdempotencyKey),
  metadata: Schema.optionalKey(Metadata)
})
export type CommitRequest = typeof CommitRequest.Type

export const ReleaseRequest = Schema.Struct({
  tenant: Tenant,
  reservationId: ReservationId,
  idempotencyKey: Schema.optionalKey(IdempotencyKey),
  reason: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(256)))
})
export type ReleaseRequest = typeof ReleaseRequest.Type

export const ExtendRequest = Schema.Struct({
  tenant: Tenant,
  reservationId: ReservationId,
  extendByMs: Int(1, 86_400_000),
  idempotencyKey: Schema.optionalKey(IdempotencyKey)
})
export type ExtendRequest = typeof ExtendRequest.Type

export const DecideRequest = Schema.Struct({
  tenant: Tenant,
  subject: Subject,
  action: Action,
  estimate: Amount,
  idempotencyKey: Schema.optionalKey(IdempotencyKey)
})
export type DecideRequest = typeof DecideRequest.Type

export const EventRequest = Schema.Struct({
  tenant: Tenant,
  subject: Subject,
  action: Action,
  actual: Amount,
  overagePolicy: Policy,
  idempotencyKey: Schema.optionalKey(IdempotencyKey),
  metadata: Schema.optionalKey(Metadata)
})
export type EventRequest = typeof EventRequest.Type

export const BalancesRequest = Schema.Struct({
  tenant: Tenant,
  subject: Subject,
  unit: Schema.optionalKey(Unit),
  includeChildren: Schema.Boolean.pipe(withDefault(false)),
  limit: PageLimit,
  cursor: Schema.optionalKey(text(1024))
})
export type BalancesRequest = typeof BalancesRequest.Type

export const GetReservationRequest = Schema.Struct({ tenant: Tenant, reservationId: ReservationId })
export type GetReservationRequest = typeof GetReservationRequest.Type

export const ListReservationsRequest = Schema.Struct({
  tenant: Tenant,
  status: Schema.optionalKey(ReservationStatus),
  subject: Schema.optionalKey(SubjectFilter),
  idempotencyKey: Schema.optionalKey(IdempotencyKey),
  limit: PageLimit,
  cursor: Schema.optionalKey(text(1024))
})
export type ListReservationsRequest = typeof ListReservationsRequest.Type

export const SweepRequest = Schema.Struct({
  tenant: Schema.optionalKey(Tenant),
  limit: Int(1, 10_000).pipe(withDefault(1_000))
})
export type SweepRequest = typeof SweepRequest.Type

export const CreateBudgetRequest = Schema.Struct({
  tenant: Tenant,
  scope: ScopeInput,
  unit: Unit,
  allocated: AmountValue,
  overdraftLimit: AmountValue.pipe(withDefault(0))
})
export type CreateBudgetRequest = typeof CreateBudgetRequest.Type

export const FundBudgetRequest = Schema.Struct({
  tenant: Tenant,
  scope: ScopeInput,
  unit: Unit,
  operation: FundOperation,
  amount: AmountValue,
  idempotencyKey: Schema.optionalKey(IdempotencyKey)
})
export type FundBudgetRequest = typeof FundBudgetRequest.Type

export const BudgetStatusRequest = Schema.Struct({ tenant: Tenant, scope: ScopeInput, unit: Unit })
export type BudgetStatusRequest = typeof BudgetStatusRequest.Type

export const OverdraftLimitRequest = Schema.Struct({
  tenant: Tenant,
  scope: ScopeInput,
  unit: Unit,
  overdraftLimit: AmountValue
})
export type OverdraftLimitRequest = typeof OverdraftLimitRequest.Type

// =============================================================================
// Answers
// =============================================================================

export const ReserveAnswer = Schema.Struct({
  decision: Decision,
  reservationId: Schema.optionalKey(Schema.String),
  reserved: Schema.optionalKey(Amount),
  expiresAtMs: Schema.optionalKey(Schema.Number),
  reasonCode: Schema.optionalKey(DenyReason),
  scopePath: Schema.String,
  affectedScopes: Schema.Array(Schema.String),
  balances: Schema.Array(Balance)
})
export type ReserveAnswer = typeof ReserveAnswer.Type

export const CommitAnswer = Schema.Struct({
  status: Schema.Literal("committed"),
  reservationId: Schema.String,
  charged: Amount,
  released: Amount,
  balances: Schema.Array(Balance)
})
export type CommitAnswer = typeof CommitAnswer.Type

export const ReleaseAnswer = Schema.Struct({
  status: Schema.Literal("released"),
  reservationId: Schema.String,
  released: Amount,
  balances: Schema.Array(Balance)
})
export type ReleaseAnswer = typeof ReleaseAnswer.Type

export const ExtendAnswer = Schema.Struct({
  status: Schema.Literal("active"),
  reservationId: Schema.String,
  expiresAtMs: Schema.Number,
  extensions: Schema.Number,
  balances: Schema.Array(Balance)
})
export type ExtendAnswer = typeof ExtendAnswer.Type

export const DecideAnswer = Schema.Struct({
  decision: Decision,
  reasonCode: Schema.optionalKey(DenyReason),
  affectedScopes: Schema.Array(Schema.String)
})
export type DecideAnswer = typeof DecideAnswer.Type

export const EventAnswer = Schema.Struct({
  status: Schema.Literal("applied"),
  eventId: Schema.String,
  charged: Amount,
  balances: Schema.Array(Balance)
})
export type EventAnswer = typeof EventAnswer.Type

export const BalancesAnswer = Schema.Struct({
  balances: Schema.Array(Balance),
  hasMore: Schema.Boolean,
  nextCursor: Schema.optionalKey(Schema.String)
})
export type BalancesAnswer = typeof BalancesAnswer.Type

export const ReservationsAnswer = Schema.Struct({
  reservations: Schema.Array(Reservation),
  hasMore: Schema.Boolean,
  nextCursor: Schema.optionalKey(Schema.String)
})
export type ReservationsAnswer = typeof ReservationsAnswer.Type

export const SweepAnswer = Schema.Struct({ expired: Schema.Array(Schema.String) })
export type SweepAnswer = typeof SweepAnswer.Type

export const BudgetAnswer = Schema.Struct({ balances: Schema.Array(Balance) })
export type BudgetAnswer = typeof BudgetAnswer.Type

export const FundAnswer = Schema.Struct({
  operation: FundOperation,
  previous: Balance,
  balances: Schema.Array(Balance)
})
export type FundAnswer = typeof FundAnswer.Type
