/**
 * The in-memory ledger state and the small helpers every operation uses.
 *
 * Each operation (in `reserve.ts`, `settle.ts`, `event.ts`, `admin.ts`,
 * `query.ts`) is a deterministic function of `(state, command)`, where the
 * command carries `now`: it first checks everything and returns a failure
 * without touching the state, or applies all of its changes and returns the
 * answer. The memory store runs each one synchronously, so each is atomic; a
 * Redis script has the same shape.
 *
 * @internal
 */
import { Result } from "effect"
import type { LedgerErrorReason } from "./errors.ts"
import { IdempotencyMismatch } from "./errors.ts"
import type {
  Action,
  Amount,
  Balance,
  BudgetStatus,
  Metadata,
  OveragePolicy,
  ReservationStatus,
  Subject,
  Unit
} from "./model.ts"

/** One budget: a scope and a unit. */
export interface BudgetRecord {
  readonly scope: string
  readonly unit: Unit
  status: BudgetStatus
  allocated: bigint
  spent: bigint
  reserved: bigint
  debt: bigint
  overdraftLimit: bigint
  isOverLimit: boolean
}

/** One reservation. */
export interface ReservationRecord {
  readonly id: string
  /** Its place in creation order (the list cursor). */
  readonly seq: number
  readonly tenant: string
  readonly subject: Subject
  readonly action: Action
  readonly estimate: Amount
  readonly createdAtMs: number
  readonly graceMs: number
  readonly overagePolicy: OveragePolicy
  readonly scopePath: string
  readonly affectedScopes: ReadonlyArray<string>
  /** The affected scopes that had a budget in the unit when it was made: the ones it holds money in. */
  readonly budgets: ReadonlyArray<BudgetRecord>
  readonly idempotencyKey: string | undefined
  readonly metadata: Metadata | undefined
  status: ReservationStatus
  expiresAtMs: number
  extensions: number
  committed: Amount | undefined
  finalizedAtMs: number | undefined
  /** When it stopped being active (committed, released or expired). */
  endedAtMs: number | undefined
}

/** A remembered answer for an idempotency key. */
export interface IdempotencyRecord {
  readonly fingerprint: string
  readonly answer: unknown
  readonly atMs: number
}

/** Everything one tenant owns. */
export interface TenantState {
  /** scope → unit → budget. */
  readonly budgets: Map<string, Map<Unit, BudgetRecord>>
  /** Reservations in creation order. */
  reservations: Array<ReservationRecord>
  /**
   * operation → idempotency key → the first answer (a map per operation, so
   * that looking a key up builds no composite key).
   */
  readonly idempotency: Map<string, Map<string, IdempotencyRecord>>
}

/** The whole ledger. */
export interface State {
  readonly tenants: Map<string, TenantState>
  readonly reservations: Map<string, ReservationRecord>
  /** Active reservations, in creation order: what the sweeper looks at. */
  readonly active: Set<ReservationRecord>
  sequence: number
  lastPruneMs: number
}

/** How long the memory store remembers idempotency keys and finished reservations. */
export const retentionMs = 24 * 60 * 60 * 1000

/** The most extensions a reservation accepts. */
export const maxExtensions = 10

/** An empty ledger. */
export const make = (): State => ({
  tenants: new Map(),
  reservations: new Map(),
  active: new Set(),
  sequence: 0,
  lastPruneMs: Number.NEGATIVE_INFINITY
})

/** The state of `tenant`, created on first use. */
export const tenantState = (state: State, tenant: string): TenantState => {
  let found = state.tenants.get(tenant)
  if (found === undefined) {
    found = { budgets: new Map(), reservations: [], idempotency: new Map() }
    state.tenants.set(tenant, found)
  }
  return found
}

/** The next identifier with `prefix` (`rsv_1`, `evt_2`). */
export const nextId = (state: State, prefix: string): string => `${prefix}_${++state.sequence}`

/** What a budget has left: allocated − spent − reserved − debt (may be negative). */
export const remaining = (budget: BudgetRecord): bigint =>
  budget.allocated - budget.spent - budget.reserved - budget.debt

/** A snapshot of a budget, as answers carry it. */
export const snapshot = (budget: BudgetRecord): Balance => ({
  scope: budget.scope,
  unit: budget.unit,
  status: budget.status,
  allocated: budget.allocated,
  spent: budget.spent,
  reserved: budget.reserved,
  debt: budget.debt,
  overdraftLimit: budget.overdraftLimit,
  remaining: remaining(budget),
  isOverLimit: budget.isOverLimit
})

/** The budgets of `scopes` in `unit`, in the order of `scopes`. */
export const budgetsIn = (
  tenant: TenantState,
  scopes: ReadonlyArray<string>,
  unit: Unit
): Array<BudgetRecord> => {
  const found: Array<BudgetRecord> = []
  for (const scope of scopes) {
    const budget = tenant.budgets.get(scope)?.get(unit)
    if (budget !== undefined) found.push(budget)
  }
  return found
}

/** The units other than `unit` that `scope` has budgets in. */
export const otherUnits = (tenant: TenantState, scope: string, unit: Unit): Array<Unit> => {
  const units = tenant.budgets.get(scope)
  return units === undefined ? [] : [...units.keys()].filter((other) => other !== unit)
}

/** A success. */
export const ok = <A>(value: A): Result.Result<A, LedgerErrorReason> => Result.succeed(value)

/** A failure. */
export const fail = <A = never>(reason: LedgerErrorReason): Result.Result<A, LedgerErrorReason> => Result.fail(reason)

/**
 * The remembered answer for `(operation, key)`: `undefined` when the key is
 * new (or absent), the first answer when the request is the same, and an
 * idempotency mismatch otherwise.
 */
export const recall = <A>(
  tenant: TenantState,
  operation: string,
  key: string | undefined,
  fingerprint: string
): Result.Result<A, LedgerErrorReason> | undefined => {
  if (key === undefined) return undefined
  const record = tenant.idempotency.get(operation)?.get(key)
  if (record === undefined) return undefined
  return record.fingerprint === fingerprint
    ? ok(record.answer as A)
    : fail(new IdempotencyMismatch({ operation, idempotencyKey: key }))
}

/** Remembers the answer for `(operation, key)`, and returns it. */
export const remember = <A>(
  tenant: TenantState,
  operation: string,
  key: string | undefined,
  fingerprint: string,
  answer: A,
  now: number
): Result.Result<A, LedgerErrorReason> => {
  if (key !== undefined) {
    // A fingerprint built by concatenation is a tree of string pieces until
    // something reads it; reading a character flattens it into one string,
    // so the 24 hours it is kept here hold one string, not the whole tree.
    fingerprint.charCodeAt(0)
    let keys = tenant.idempotency.get(operation)
    if (keys === undefined) {
      keys = new Map()
      tenant.idempotency.set(operation, keys)
    }
    keys.set(key, { fingerprint, answer, atMs: now })
  }
  return ok(answer)
}

/**
 * Forgets idempotency keys older than `retentionMs` (a reserve key lives as
 * long as its reservation is active) and reservations that ended more than
 * `retentionMs` ago; runs at most once a minute (from the sweeper).
 */
export const prune = (state: State, now: number): void => {
  if (now - state.lastPruneMs < 60_000) return
  state.lastPruneMs = now
  const cutoff = now - retentionMs
  for (const tenant of state.tenants.values()) {
    for (const [operation, keys] of tenant.idempotency) {
      for (const [key, record] of keys) {
        if (record.atMs > cutoff) break
        // a reserve answer is kept while its reservation is active, so a late replay never reserves twice
        const id = (record.answer as { readonly reservationId?: unknown }).reservationId
        if (operation === "reserve" && typeof id === "string" && state.reservations.get(id)?.status === "active") {
          continue
        }
        keys.delete(key)
      }
    }
    if (tenant.reservations.some((r) => r.endedAtMs !== undefined && r.endedAtMs <= cutoff)) {
      tenant.reservations = tenant.reservations.filter((r) => {
        const old = r.endedAtMs !== undefined && r.endedAtMs <= cutoff
        if (old) state.reservations.delete(r.id)
        return !old
      })
    }
  }
}
