/**
 * The memory lifecycle's baseline, measured in the same run: reserve +
 * commit written as plain JavaScript, with none of what the ledger adds (no
 * Effect, no request validation, no tenancy, no overage policies, no expiry,
 * one fixed subject), on the bench's own shape: three scopes with a budget
 * each, bigint figures, idempotency keys on both calls, and answers that
 * carry a balance snapshot per scope.
 *
 * Two variants tell where a lifecycle's time goes:
 * - `kept`: what the protocol must keep is kept, in `Map`s: every
 *   reservation by its id (a commit, a replay or a sweep finds it later) and
 *   every idempotency key (for 24 hours, so a retry never debits twice).
 * - `forgotten`: the same arithmetic and answers, keeping nothing.
 *
 * The gap between them is the cost of keeping state that only grows during a
 * case (hash tables resizing, young objects copied and promoted by the
 * garbage collector), kept the naive way; it puts the memory target in
 * context. Each variant is measured in a process of its own (see
 * `ledger.ts`): run one after the other in one process, the second
 * inherited the first's allocation-site pretenuring.
 */
import { Effect } from "effect"

/** A budget's figures, as the plain version keeps them. */
interface Budget {
  readonly scope: string
  readonly unit: string
  readonly status: "active"
  readonly allocated: bigint
  spent: bigint
  reserved: bigint
  readonly debt: bigint
  readonly overdraftLimit: bigint
  readonly isOverLimit: boolean
  remaining: bigint
}

type Snapshot = Readonly<Budget>

interface Reservation {
  readonly id: string
  readonly estimate: bigint
  readonly expiresAtMs: number
  status: "active" | "committed"
  actual: bigint
}

interface ReserveAnswer {
  readonly reservationId: string
  readonly reserved: { readonly unit: string; readonly amount: bigint }
  readonly expiresAtMs: number
  readonly balances: ReadonlyArray<Snapshot>
}

interface CommitAnswer {
  readonly reservationId: string
  readonly charged: { readonly unit: string; readonly amount: bigint }
  readonly balances: ReadonlyArray<Snapshot>
}

/** Which variant: keep reservations and keys, or forget them. */
export type Variant = "kept" | "forgotten"

const snapshot = (b: Budget): Snapshot => ({
  scope: b.scope,
  unit: b.unit,
  status: b.status,
  allocated: b.allocated,
  spent: b.spent,
  reserved: b.reserved,
  debt: b.debt,
  overdraftLimit: b.overdraftLimit,
  remaining: b.remaining,
  isOverLimit: b.isOverLimit
})

/** A fresh plain ledger on `scopes`, each funded with `allocated`. */
const make = (variant: Variant, scopes: ReadonlyArray<string>, unit: string, allocated: bigint) => {
  const keep = variant === "kept"
  const budgets: Array<Budget> = scopes.map((scope) => ({
    scope,
    unit,
    status: "active",
    allocated,
    spent: 0n,
    reserved: 0n,
    debt: 0n,
    overdraftLimit: 0n,
    isOverLimit: false,
    remaining: allocated
  }))
  const reservations = new Map<string, Reservation>()
  const reserveKeys = new Map<string, ReserveAnswer>()
  const commitKeys = new Map<string, CommitAnswer>()
  let sequence = 0
  let last: Reservation | undefined

  const reserve = (amount: bigint, ttlMs: number, key: string): ReserveAnswer | undefined => {
    const replay = reserveKeys.get(key)
    if (replay !== undefined) return replay
    for (const b of budgets) if (b.isOverLimit || b.remaining < amount) return undefined
    for (const b of budgets) {
      b.reserved += amount
      b.remaining -= amount
    }
    const reservation: Reservation = {
      id: `rsv_${++sequence}`,
      estimate: amount,
      expiresAtMs: Date.now() + ttlMs,
      status: "active",
      actual: 0n
    }
    const answer: ReserveAnswer = {
      reservationId: reservation.id,
      reserved: { unit, amount },
      expiresAtMs: reservation.expiresAtMs,
      balances: budgets.map(snapshot)
    }
    if (keep) {
      reservations.set(reservation.id, reservation)
      reserveKeys.set(key, answer)
    } else {
      last = reservation
    }
    return answer
  }

  const commit = (reservationId: string, amount: bigint, key: string): CommitAnswer | undefined => {
    const replay = commitKeys.get(key)
    if (replay !== undefined) return replay
    const reservation = keep ? reservations.get(reservationId) : last
    if (reservation === undefined || reservation.status !== "active") return undefined
    const back = reservation.estimate - amount
    for (const b of budgets) {
      b.reserved -= reservation.estimate
      b.spent += amount
      b.remaining += back
    }
    reservation.status = "committed"
    reservation.actual = amount
    const answer: CommitAnswer = { reservationId, charged: { unit, amount }, balances: budgets.map(snapshot) }
    if (keep) commitKeys.set(key, answer)
    return answer
  }

  return { reserve, commit }
}

/** What one run of the baseline did. */
export interface FloorRun {
  readonly lifecycles: number
  readonly elapsedMs: number
}

/**
 * Runs keyed reserve + commit lifecycles back to back for `ms` of wall time
 * on a fresh plain ledger, checking the clock every 64 lifecycles. Fails if
 * a reserve is denied or a commit finds nothing (the bench's budgets cannot
 * run out, so either means the baseline is broken).
 */
export const run = (
  variant: Variant,
  scopes: ReadonlyArray<string>,
  unit: string,
  allocated: bigint,
  estimate: bigint,
  actual: bigint,
  ms: number
): Effect.Effect<FloorRun, Error> =>
  Effect.suspend(() => {
    const ledger = make(variant, scopes, unit, allocated)
    const start = performance.now()
    const until = start + ms
    let n = 0
    while (performance.now() < until) {
      for (let i = 0; i < 64; i++) {
        n++
        const reserved = ledger.reserve(estimate, 60_000, `floor-r${n}`)
        if (reserved === undefined) return Effect.fail(new Error(`plain baseline: reserve ${n} denied`))
        if (ledger.commit(reserved.reservationId, actual, `floor-c${n}`) === undefined) {
          return Effect.fail(new Error(`plain baseline: commit ${n} found no active reservation`))
        }
      }
    }
    return Effect.succeed({ lifecycles: n, elapsedMs: performance.now() - start })
  })
