/**
 * What the `Ledger` hands a store: the decoded request plus what the ledger
 * derived from it (the scopes, the idempotency fingerprint) and `now`, read
 * from `Clock`. Each command is applied by the store in one atomic step.
 *
 * @internal
 */
import type {
  BalancesRequest,
  BudgetStatus,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ExtendRequest,
  FundOperation,
  GetReservationRequest,
  ListReservationsRequest,
  ReleaseRequest,
  ReserveRequest,
  Unit
} from "./model.ts"

/** The fields every idempotent command carries. */
export interface Stamped {
  /** A canonical form of the decoded request: the same key with another fingerprint is a mismatch. */
  readonly fingerprint: string
  /** Epoch milliseconds from `Clock`. */
  readonly now: number
}

/** The derived scopes of the subject, shortest first (`tenant:acme`, `tenant:acme/app:support`). */
export interface Scoped {
  readonly scopes: ReadonlyArray<string>
}

export interface ReserveCommand extends ReserveRequest, Stamped, Scoped {}

export interface DecideCommand extends DecideRequest, Stamped, Scoped {}

export interface EventCommand extends EventRequest, Stamped, Scoped {}

export interface CommitCommand extends CommitRequest, Stamped {}

export interface ReleaseCommand extends ReleaseRequest, Stamped {}

export interface ExtendCommand extends ExtendRequest, Stamped {}

export interface BalancesQuery extends BalancesRequest, Scoped {}

export interface GetReservationQuery extends GetReservationRequest {
  readonly now: number
}

export interface ListReservationsQuery extends ListReservationsRequest {}

export interface SweepCommand {
  readonly tenant?: string
  readonly limit: number
  readonly now: number
}

export interface CreateBudgetCommand {
  readonly tenant: string
  /** The canonical scope path. */
  readonly scope: string
  readonly unit: Unit
  readonly allocated: bigint
  readonly overdraftLimit: bigint
  readonly now: number
}

export interface FundBudgetCommand extends Stamped {
  readonly tenant: string
  readonly scope: string
  readonly unit: Unit
  readonly operation: FundOperation
  readonly amount: bigint
  readonly idempotencyKey?: string
}

export interface BudgetStatusCommand {
  readonly tenant: string
  readonly scope: string
  readonly unit: Unit
  /** The status to move to: `frozen` (freeze), `active` (unfreeze) or `closed` (close). */
  readonly status: BudgetStatus
  readonly now: number
}

export interface OverdraftLimitCommand {
  readonly tenant: string
  readonly scope: string
  readonly unit: Unit
  readonly overdraftLimit: bigint
  readonly now: number
}
