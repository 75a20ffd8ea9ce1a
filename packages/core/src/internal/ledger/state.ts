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
import * as Chunked from "./chunked.ts"
import type { LedgerErrorReason } from "./errors.ts"
import * as Expiries from "./expiries.ts"
import { mismatch, Remembered, sameRequest } from "./idempotency.ts"
import * as Intern from "./intern.ts"
import * as Keys from "./keys.ts"
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
import * as Reservations from "./reservations.ts"
import * as Snapshots from "./snapshots.ts"

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
  /**
   * allocated − spent − reserved − debt (may be negative), kept in step by
   * whatever changes those (`recount` after a rare change), so that checks
   * and answers read it without bigint arithmetic.
   */
  remaining: bigint
  /** Where answer snapshots share its rarely changing figures (`Snapshots.write`). */
  fixed: Snapshots.Fixed | undefined
}

/**
 * What a reserve request fixed: the same for every reservation made with the
 * same terms, so consecutive reservations share one copy (`termsOf`) and a
 * reservation record, which lives for 24 hours, stays small.
 */
export interface Terms {
  readonly tenant: string
  readonly subject: Subject
  readonly action: Action
  /** The unit, and the amount held (the estimate). */
  readonly unit: Unit
  readonly estimated: bigint
  /** The requested time to live (the reserve answer's `expiresAtMs` is `createdAtMs + ttlMs`). */
  readonly ttlMs: number
  readonly graceMs: number
  readonly overagePolicy: OveragePolicy
  readonly affectedScopes: ReadonlyArray<string>
  /** The affected scopes that had a budget in the unit when it was made: the ones it holds money in. */
  readonly budgets: ReadonlyArray<BudgetRecord>
  readonly metadata: Metadata | undefined
}

/** What few reservations need: set on first need (`extrasOf`). */
export interface Extras {
  extensions: number
  /** What a commit charged, when not its `actual` amount (an overage). */
  charged: bigint | undefined
  /** The commit request's `metadata`, or the release request's `reason` (for replays). */
  settledMetadata: Metadata | undefined
  settledReason: string | undefined
  /** Where a keyed settle answer's balances are kept when its reserve had no key (so no rows). */
  settleSnapshot: Snapshots.Chunk | undefined
  settleRow: number
}

/**
 * One reservation. Its identifier is `rsv_<seq>` (`Reservations.idOf`), its
 * scope path the last of `affectedScopes`, and a committed or released one
 * was finalized when it ended: none of these is kept twice.
 */
export interface ReservationRecord {
  /** Its number, in creation order (the list cursor). */
  readonly seq: number
  readonly terms: Terms
  readonly createdAtMs: number
  readonly idempotencyKey: string | undefined
  /**
   * With an idempotency key: where the answers' balances are kept, the
   * reserve answer's at rows `row`, …, and a keyed commit or release
   * answer's at `row + budgets.length`, … (both allocated by reserve).
   */
  readonly snapshot: Snapshots.Chunk | undefined
  readonly row: number
  status: ReservationStatus
  expiresAtMs: number
  /** When it stopped being active (committed, released or expired). */
  endedAtMs: number | undefined
  /** The commit request's `actual` amount (in `unit`), which is what it charged unless `extras` says otherwise. */
  actual: bigint | undefined
  extras: Extras | undefined
}

/**
 * A keyed event as its key remembers it for 24 hours: the request, with its
 * subject and action shared (`Intern`), and the answer's figures, its
 * balances in snapshot rows. A replay rebuilds the answer (`event.ts`).
 * About a fifth of what keeping the request and the answer as objects took.
 */
export interface EventRecord {
  readonly atMs: number
  readonly subject: Subject
  readonly action: Action
  readonly unit: Unit
  readonly amount: bigint
  readonly overagePolicy: OveragePolicy
  readonly metadata: Metadata | undefined
  /** The event's number: its id is `evt_<sequence>`. */
  readonly sequence: number
  readonly charged: bigint
  /** The budgets it debited, whose balances rows `row`, … of `snapshot` hold. */
  readonly budgets: ReadonlyArray<BudgetRecord>
  readonly snapshot: Snapshots.Chunk
  readonly row: number
}

/**
 * A keyed extension as its key remembers it for 24 hours: the reservation it
 * extended (its id and budgets), the request's `extendByMs`, and the
 * answer's figures, its balances in snapshot rows (`settle.ts`).
 */
export interface ExtendRecord {
  readonly atMs: number
  readonly reservation: ReservationRecord
  readonly extendByMs: number
  readonly expiresAtMs: number
  readonly extensions: number
  readonly snapshot: Snapshots.Chunk
  readonly row: number
}

/** Everything one tenant owns. */
export interface TenantState {
  /** scope → unit → budget. */
  readonly budgets: Map<string, Map<Unit, BudgetRecord>>
  /**
   * `budgetsIn` as found before: a subject's own scope (which names all its
   * derived scopes) → unit → the budgets, one array shared by every
   * reservation that holds them; forgotten whenever a budget is created.
   */
  readonly budgetsFound: Map<string, Map<Unit, ReadonlyArray<BudgetRecord>>>
  /** Reservations in creation order. */
  reservations: Chunked.Chunked<ReservationRecord>
  /** Its reservations by when they are due for the sweeper (stale entries included). */
  readonly expiries: Expiries.Heap<ReservationRecord>
  /** The terms of the last reservation made, shared by the next one when the same. */
  lastTerms: Terms | undefined
  /** reserve's idempotency keys: the reservation each made, or a dry run's answer. */
  readonly reserveKeys: Keys.Table<ReservationRecord | Remembered>
  /** commit's idempotency keys: the reservation each committed. */
  readonly commitKeys: Keys.Table<ReservationRecord>
  /** release's idempotency keys: the reservation each released. */
  readonly releaseKeys: Keys.Table<ReservationRecord>
  /** event's and extend's idempotency keys: what each did (the tenant is this one, so the records do not repeat it). */
  readonly eventKeys: Keys.Table<EventRecord>
  readonly extendKeys: Keys.Table<ExtendRecord>
  /**
   * The other operations' keys: operation → idempotency key → the first
   * answer (a map per operation, so that looking a key up builds no
   * composite key).
   */
  readonly remembered: Map<string, Keys.Table<Remembered>>
  /** When the sweeper last pruned this tenant (at most once a minute). */
  lastPruneMs: number
}

/** The whole ledger. */
export interface State {
  readonly tenants: Map<string, TenantState>
  /** Every reservation by identifier. */
  readonly reservations: Reservations.Index<ReservationRecord>
  /** Where answers' balances are kept for replay. */
  readonly snapshots: Snapshots.Arena
  /** The subjects and actions reservations share. */
  readonly interned: Intern.Table
  /** The last event number. */
  sequence: number
}

/** The most extensions a reservation accepts. */
export const maxExtensions = 10

/** An empty ledger. */
export const make = (): State => ({
  tenants: new Map(),
  reservations: Reservations.make(),
  snapshots: Snapshots.make(),
  interned: Intern.make(),
  sequence: 0
})

/** The state of `tenant`, created on first use. */
export const tenantState = (state: State, tenant: string): TenantState => {
  let found = state.tenants.get(tenant)
  if (found === undefined) {
    found = emptyTenant()
    state.tenants.set(tenant, found)
  }
  return found
}

/**
 * The state of `tenant` for a read: its own, or an empty one that is not
 * kept (a read of a tenant the ledger does not know leaves nothing behind).
 * Never write to it.
 */
export const tenantView = (state: State, tenant: string): TenantState => state.tenants.get(tenant) ?? emptyTenant()

const emptyTenant = (): TenantState => ({
  budgets: new Map(),
  budgetsFound: new Map(),
  reservations: Chunked.make(),
  expiries: Expiries.make(),
  lastTerms: undefined,
  reserveKeys: Keys.make(),
  commitKeys: Keys.make(),
  releaseKeys: Keys.make(),
  eventKeys: Keys.make(),
  extendKeys: Keys.make(),
  remembered: new Map(),
  lastPruneMs: Number.NEGATIVE_INFINITY
})

/** When a reservation is due for the sweeper: `expiresAt + grace` (it expires once `now` is past it). */
export const dueAt = (reservation: ReservationRecord): number => reservation.expiresAtMs + reservation.terms.graceMs

/** Whether an expiry-index entry due at `due` is still its reservation's (active, not extended since). */
export const isDue = (reservation: ReservationRecord, due: number): boolean =>
  reservation.status === "active" && dueAt(reservation) === due

/** Enters a reservation made or extended just now in its tenant's expiry index. */
export const expiring = (tenant: TenantState, reservation: ReservationRecord): void => {
  const heap = tenant.expiries
  Expiries.push(heap, dueAt(reservation), reservation.seq, reservation)
  if (Expiries.needsCompaction(heap)) Expiries.compact(heap, isDue)
}

/** The identifier of a reservation. */
export const idOf = (reservation: ReservationRecord): string => Reservations.idOf(reservation.seq)

/** The scope path of a reservation: the subject's own scope. */
export const scopePathOf = (reservation: ReservationRecord): string => reservation.terms.affectedScopes.at(-1) ?? ""

/** The estimate a reservation holds. */
export const estimateOf = (reservation: ReservationRecord): Amount => ({
  unit: reservation.terms.unit,
  amount: reservation.terms.estimated
})

/** When a committed or released reservation was finalized. */
export const finalizedAtOf = (reservation: ReservationRecord): number | undefined =>
  reservation.status === "committed" || reservation.status === "released" ? reservation.endedAtMs : undefined

/** What a committed reservation charged. */
export const chargedOf = (reservation: ReservationRecord): bigint | undefined =>
  reservation.extras?.charged ?? reservation.actual

/** How many times a reservation was extended. */
export const extensionsOf = (reservation: ReservationRecord): number => reservation.extras?.extensions ?? 0

/** A reservation's extras, created on first need. */
export const extrasOf = (reservation: ReservationRecord): Extras =>
  reservation.extras ??= {
    extensions: 0,
    charged: undefined,
    settledMetadata: undefined,
    settledReason: undefined,
    settleSnapshot: undefined,
    settleRow: 0
  }

/** The next event's number (its identifier is `eventIdOf` it: `evt_1`, `evt_2`, …). */
export const nextEventSequence = (state: State): number => ++state.sequence

/** The identifier of event `sequence`. */
export const eventIdOf = (sequence: number): string => `evt_${sequence}`

/** Sets a budget's `remaining` from its figures, after a change other than the hot ones. */
export const recount = (budget: BudgetRecord): void => {
  budget.remaining = budget.allocated - budget.spent - budget.reserved - budget.debt
}

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
  remaining: budget.remaining,
  isOverLimit: budget.isOverLimit
})

/** How many subjects' budgets `budgetsIn` remembers per tenant before it starts afresh. */
const budgetsFoundCapacity = 4_096

/**
 * The budgets of `scopes` (a subject's derived scopes) in `unit`, in the
 * order of `scopes`: an array shared by every call for the same subject and
 * unit until a budget is created (`budgetCreated`). Never mutate it.
 */
export const budgetsIn = (
  tenant: TenantState,
  scopes: ReadonlyArray<string>,
  unit: Unit
): ReadonlyArray<BudgetRecord> => {
  const leaf = scopes.at(-1) ?? ""
  let units = tenant.budgetsFound.get(leaf)
  const known = units?.get(unit)
  if (known !== undefined) return known
  const found: Array<BudgetRecord> = []
  for (const scope of scopes) {
    const budget = tenant.budgets.get(scope)?.get(unit)
    if (budget !== undefined) found.push(budget)
  }
  if (units === undefined) {
    if (tenant.budgetsFound.size >= budgetsFoundCapacity) tenant.budgetsFound.clear()
    units = new Map()
    tenant.budgetsFound.set(leaf, units)
  }
  units.set(unit, found)
  return found
}

/** Forgets what `budgetsIn` found for `tenant`: a budget was created. */
export const budgetCreated = (tenant: TenantState): void => tenant.budgetsFound.clear()

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
 * The remembered answer for `(operation, key)` (decide and fund):
 * `undefined` when the key is new (or absent), the first answer when the
 * request is the same, and an idempotency mismatch otherwise.
 */
export const recall = <A>(
  tenant: TenantState,
  operation: string,
  key: string | undefined,
  request: object
): Result.Result<A, LedgerErrorReason> | undefined => {
  if (key === undefined) return undefined
  const keys = tenant.remembered.get(operation)
  const record = keys === undefined ? undefined : Keys.get(keys, key)
  if (record === undefined) return undefined
  return sameRequest(record.request, request) ? ok(record.answer as A) : fail(mismatch(operation, key))
}

/** Remembers the request and answer for `(operation, key)`, and returns the answer. */
export const remember = <A>(
  tenant: TenantState,
  operation: string,
  key: string | undefined,
  request: object,
  answer: A,
  now: number
): Result.Result<A, LedgerErrorReason> => {
  if (key !== undefined) {
    let keys = tenant.remembered.get(operation)
    if (keys === undefined) {
      keys = Keys.make()
      tenant.remembered.set(operation, keys)
    }
    Keys.set(keys, key, new Remembered(request, answer, now))
  }
  return ok(answer)
}

const usedAt = (value: ReservationRecord | Remembered): number =>
  value instanceof Remembered ? value.atMs : value.createdAtMs

const settledAt = (reservation: ReservationRecord): number => reservation.endedAtMs ?? reservation.createdAtMs

/**
 * Whether a reserve key made before `cutoff` is kept: as long as its
 * reservation is (active, or ended after `cutoff`), so a late replay never
 * reserves twice.
 */
const keptWith = (cutoff: number) => (value: ReservationRecord | Remembered): boolean =>
  !(value instanceof Remembered) && (value.endedAtMs === undefined || value.endedAtMs > cutoff)

const never = (): boolean => false

const rememberedAt = (value: Remembered | EventRecord | ExtendRecord): number => value.atMs

/**
 * Forgets the idempotency keys of `tenant` (of every tenant when `undefined`)
 * first used at or before `now − retentionMs`, and the reservations that
 * ended at or before it (a reserve key lives as long as its reservation);
 * runs at most once a minute per tenant (from the sweeper), and never when
 * `retentionMs` is infinite. Then forgets the tenant itself when nothing of
 * it is left.
 */
export const prune = (state: State, now: number, retentionMs: number, tenant: string | undefined): void => {
  if (tenant === undefined) {
    for (const [name, each] of state.tenants) pruneAndForget(state, name, each, now, retentionMs)
  } else {
    const found = state.tenants.get(tenant)
    if (found !== undefined) pruneAndForget(state, tenant, found, now, retentionMs)
  }
}

/**
 * Prunes a tenant, then forgets it when nothing of it is left (no budget, no
 * reservation, no key): a call naming a tenant that never had a budget
 * (a typo, a probe) leaves nothing behind for longer than a sweep interval.
 */
const pruneAndForget = (state: State, name: string, tenant: TenantState, now: number, retentionMs: number): void => {
  if (retentionMs !== Number.POSITIVE_INFINITY) pruneTenant(state, tenant, now, retentionMs)
  if (isEmpty(tenant)) state.tenants.delete(name)
}

const isEmpty = (tenant: TenantState): boolean => {
  if (
    tenant.budgets.size > 0 || tenant.reservations.length > 0 || tenant.reserveKeys.size > 0 ||
    tenant.commitKeys.size > 0 || tenant.releaseKeys.size > 0 || tenant.eventKeys.size > 0 ||
    tenant.extendKeys.size > 0
  ) return false
  for (const keys of tenant.remembered.values()) if (keys.size > 0) return false
  return true
}

const pruneTenant = (state: State, tenant: TenantState, now: number, retentionMs: number): void => {
  if (now - tenant.lastPruneMs < 60_000) return
  tenant.lastPruneMs = now
  const cutoff = now - retentionMs
  Keys.forget(tenant.reserveKeys, cutoff, usedAt, keptWith(cutoff))
  Keys.forget(tenant.commitKeys, cutoff, settledAt, never)
  Keys.forget(tenant.releaseKeys, cutoff, settledAt, never)
  Keys.forget(tenant.eventKeys, cutoff, rememberedAt, never)
  Keys.forget(tenant.extendKeys, cutoff, rememberedAt, never)
  for (const keys of tenant.remembered.values()) Keys.forget(keys, cutoff, rememberedAt, never)
  const all = tenant.reservations
  const old = (r: ReservationRecord): boolean => r.endedAtMs !== undefined && r.endedAtMs <= cutoff
  let first = 0
  while (first < all.length && !old(Chunked.get(all, first)!)) first++
  // the list is copied only when something is dropped
  if (first === all.length) return
  const dropped: Array<ReservationRecord> = []
  const kept = Chunked.make<ReservationRecord>()
  for (let i = 0; i < all.length; i++) {
    const r = Chunked.get(all, i)!
    if (old(r)) dropped.push(r)
    else Chunked.push(kept, r)
  }
  Reservations.drop(state.reservations, dropped)
  tenant.reservations = kept
}
