/**
 * What guarded calls could not settle because the ledger did not answer
 * (`StoreUnavailable`): a commit, a release, or a reserve whose answer was
 * lost (it may have been applied). Kept per ledger, in this process, and
 * taken by the next guarded call on that ledger, which tries each again with
 * the same idempotency keys before it reserves (`guard.ts`).
 */
import type * as Ledger from "../Ledger.ts"

/** One settlement still owed to the ledger. */
export type Settlement =
  | {
    readonly _tag: "commit"
    readonly model: string
    readonly reservationId: string
    readonly commit: typeof Ledger.CommitRequest.Encoded
    /** The event that charges the call if its reservation expired meanwhile. */
    readonly late: typeof Ledger.EventRequest.Encoded
    readonly amount: bigint
  }
  | {
    readonly _tag: "release"
    readonly model: string
    readonly reservationId: string
    readonly release: typeof Ledger.ReleaseRequest.Encoded
    readonly amount: bigint
  }
  | {
    readonly _tag: "reserve"
    readonly model: string
    readonly tenant: string
    /** The reserve's idempotency key: the reservation it made, if any, is found by it. */
    readonly idempotencyKey: string
    /** The key of the release that gives it back. */
    readonly releaseKey: string
    readonly amount: bigint
  }

/** The most settlements kept per ledger; beyond, the oldest is dropped (its hold still expires). */
export const capacity = 1_000

const byLedger = new WeakMap<Ledger.Service, Array<Settlement>>()

/** Keeps `settlement` for the next guarded call on `ledger`. */
export const add = (ledger: Ledger.Service, settlement: Settlement): void => {
  let list = byLedger.get(ledger)
  if (list === undefined) {
    list = []
    byLedger.set(ledger, list)
  }
  list.push(settlement)
  if (list.length > capacity) list.shift()
}

const none: ReadonlyArray<Settlement> = []

/** Takes every settlement kept for `ledger` (each is then tried by one caller only). */
export const take = (ledger: Ledger.Service): ReadonlyArray<Settlement> => {
  const list = byLedger.get(ledger)
  if (list === undefined || list.length === 0) return none
  byLedger.delete(ledger)
  return list
}
