/**
 * What the `Ledger` hands a store: the decoded request plus what the ledger
 * derived from it (the scopes, the idempotency fingerprint) and `now`, read
 * from `Clock`. Each command is applied by the store in one atomic step.
 * The fingerprint is computed only when a store reads it.
 *
 * @internal
 */
import * as Fingerprint from "./fingerprint.ts"
import type {
  Action,
  Amount,
  BalancesRequest,
  BudgetStatus,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ExtendRequest,
  FundOperation,
  GetReservationRequest,
  ListReservationsRequest,
  Metadata,
  OveragePolicy,
  ReleaseRequest,
  ReserveRequest,
  Subject,
  Unit
} from "./model.ts"

/** The fields every idempotent command carries. */
export interface Stamped {
  /**
   * A canonical form of the decoded request without its idempotency key
   * (`Fingerprint.requestFingerprint`): the same key with another
   * fingerprint is a mismatch. Requests that differ only in their key share
   * it. On the commands the `Ledger` builds it is a getter, computed on each
   * read.
   */
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
  /**
   * How long idempotency keys and finished reservations are kept (ms; at
   * least 0, `Infinity` to keep them for good): the sweep forgets older ones.
   */
  readonly retentionMs: number
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

// =============================================================================
// Building commands
// =============================================================================

// The Ledger builds each idempotent command as an instance of one of these
// classes: the decoded request's fields, plus what it derived and `now`.
// `fingerprint` is a getter on the prototype that builds the canonical JSON
// each time it is read, so a store that never reads it (the memory store
// compares requests itself) costs nothing for it. Optional request fields are
// set only when present, as in the decoded request.

/** A reserve command from a decoded request. */
class Reserve {
  readonly tenant: string
  readonly subject: Subject
  readonly action: Action
  readonly estimate: Amount
  readonly ttlMs: number
  readonly graceMs: number
  readonly overagePolicy: OveragePolicy
  readonly dryRun: boolean
  declare readonly idempotencyKey?: string
  declare readonly metadata?: Metadata
  readonly scopes: ReadonlyArray<string>
  readonly now: number
  constructor(request: ReserveRequest, scopes: ReadonlyArray<string>, now: number) {
    this.tenant = request.tenant
    this.subject = request.subject
    this.action = request.action
    this.estimate = request.estimate
    this.ttlMs = request.ttlMs
    this.graceMs = request.graceMs
    this.overagePolicy = request.overagePolicy
    this.dryRun = request.dryRun
    optional(this, "idempotencyKey", request.idempotencyKey)
    optional(this, "metadata", request.metadata)
    this.scopes = scopes
    this.now = now
  }
  get fingerprint(): string {
    return Fingerprint.reserveFingerprint(this)
  }
}

/** A decide command from a decoded request. */
class Decide {
  readonly tenant: string
  readonly subject: Subject
  readonly action: Action
  readonly estimate: Amount
  declare readonly idempotencyKey?: string
  readonly scopes: ReadonlyArray<string>
  readonly now: number
  constructor(request: DecideRequest, scopes: ReadonlyArray<string>, now: number) {
    this.tenant = request.tenant
    this.subject = request.subject
    this.action = request.action
    this.estimate = request.estimate
    optional(this, "idempotencyKey", request.idempotencyKey)
    this.scopes = scopes
    this.now = now
  }
  get fingerprint(): string {
    return Fingerprint.decideFingerprint(this)
  }
}

/** An event command from a decoded request. */
class Event {
  readonly tenant: string
  readonly subject: Subject
  readonly action: Action
  readonly actual: Amount
  readonly overagePolicy: OveragePolicy
  declare readonly idempotencyKey?: string
  declare readonly metadata?: Metadata
  readonly scopes: ReadonlyArray<string>
  readonly now: number
  constructor(request: EventRequest, scopes: ReadonlyArray<string>, now: number) {
    this.tenant = request.tenant
    this.subject = request.subject
    this.action = request.action
    this.actual = request.actual
    this.overagePolicy = request.overagePolicy
    optional(this, "idempotencyKey", request.idempotencyKey)
    optional(this, "metadata", request.metadata)
    this.scopes = scopes
    this.now = now
  }
  get fingerprint(): string {
    return Fingerprint.eventFingerprint(this)
  }
}

/** A commit command from a decoded request. */
class Commit {
  readonly tenant: string
  readonly reservationId: string
  readonly actual: Amount
  declare readonly idempotencyKey?: string
  declare readonly metadata?: Metadata
  readonly now: number
  constructor(request: CommitRequest, now: number) {
    this.tenant = request.tenant
    this.reservationId = request.reservationId
    this.actual = request.actual
    optional(this, "idempotencyKey", request.idempotencyKey)
    optional(this, "metadata", request.metadata)
    this.now = now
  }
  get fingerprint(): string {
    return Fingerprint.commitFingerprint(this)
  }
}

/** A release command from a decoded request. */
class Release {
  readonly tenant: string
  readonly reservationId: string
  declare readonly idempotencyKey?: string
  declare readonly reason?: string
  readonly now: number
  constructor(request: ReleaseRequest, now: number) {
    this.tenant = request.tenant
    this.reservationId = request.reservationId
    optional(this, "idempotencyKey", request.idempotencyKey)
    optional(this, "reason", request.reason)
    this.now = now
  }
  get fingerprint(): string {
    return Fingerprint.releaseFingerprint(this)
  }
}

/** An extend command from a decoded request. */
class Extend {
  readonly tenant: string
  readonly reservationId: string
  readonly extendByMs: number
  declare readonly idempotencyKey?: string
  readonly now: number
  constructor(request: ExtendRequest, now: number) {
    this.tenant = request.tenant
    this.reservationId = request.reservationId
    this.extendByMs = request.extendByMs
    optional(this, "idempotencyKey", request.idempotencyKey)
    this.now = now
  }
  get fingerprint(): string {
    return Fingerprint.extendFingerprint(this)
  }
}

/** A fund command; its request is the command without `now`, fingerprinted generically. */
class Fund {
  readonly tenant: string
  readonly scope: string
  readonly unit: Unit
  readonly operation: FundOperation
  readonly amount: bigint
  declare readonly idempotencyKey?: string
  readonly now: number
  constructor(request: Omit<FundBudgetCommand, "fingerprint" | "now">, now: number) {
    this.tenant = request.tenant
    this.scope = request.scope
    this.unit = request.unit
    this.operation = request.operation
    this.amount = request.amount
    optional(this, "idempotencyKey", request.idempotencyKey)
    this.now = now
  }
  get fingerprint(): string {
    const { now: _, ...request } = this
    return Fingerprint.requestFingerprint(request)
  }
}

/** Sets an optional field only when it has a value (so the command has the key exactly when the request does). */
const optional = <K extends string>(target: object, key: K, value: unknown): void => {
  if (value !== undefined) (target as Record<K, unknown>)[key] = value
}

/** The reserve command for a decoded request. */
export const reserve = (request: ReserveRequest, scopes: ReadonlyArray<string>, now: number): ReserveCommand =>
  new Reserve(request, scopes, now)

/** The decide command for a decoded request. */
export const decide = (request: DecideRequest, scopes: ReadonlyArray<string>, now: number): DecideCommand =>
  new Decide(request, scopes, now)

/** The event command for a decoded request. */
export const event = (request: EventRequest, scopes: ReadonlyArray<string>, now: number): EventCommand =>
  new Event(request, scopes, now)

/** The commit command for a decoded request. */
export const commit = (request: CommitRequest, now: number): CommitCommand => new Commit(request, now)

/** The release command for a decoded request. */
export const release = (request: ReleaseRequest, now: number): ReleaseCommand => new Release(request, now)

/** The extend command for a decoded request. */
export const extend = (request: ExtendRequest, now: number): ExtendCommand => new Extend(request, now)

/** The fund command for a decoded request whose scope is canonical. */
export const fund = (request: Omit<FundBudgetCommand, "fingerprint" | "now">, now: number): FundBudgetCommand =>
  new Fund(request, now)
