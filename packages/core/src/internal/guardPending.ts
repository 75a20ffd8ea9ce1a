/**
 * What guarded calls could not settle because the ledger did not answer
 * (`StoreUnavailable`): a commit, a release, or a reserve whose answer was
 * lost (it may have been applied). Kept per ledger and tenant, in this
 * process, and taken by the next guarded call of that tenant on that ledger,
 * which tries each again with the same idempotency keys before it reserves
 * (`guard.ts`).
 */
import type * as Ledger from "../Ledger.ts"
import * as Kept from "./guardKept.ts"

/** What every settlement carries: whose it is, and how often it was tried. */
interface Common {
  readonly tenant: string
  readonly unit: string
  readonly model: string
  readonly amount: bigint
  /** Tries so far, the first included. */
  readonly attempts: number
  /** When the call that owes it began (`Clock`): past the ledger's retention, its keys may be forgotten. */
  readonly atMs: number
}

/** One settlement still owed to the ledger. */
export type Settlement =
  | Common & {
    readonly _tag: "commit"
    readonly reservationId: string
    readonly commit: typeof Ledger.CommitRequest.Encoded
    /** The event that charges the call if its reservation expired meanwhile. */
    readonly late: typeof Ledger.EventRequest.Encoded
    /**
     * For usage above the reservation: the commit of exactly the amount held,
     * and the event that charges the rest, used when the reservation's
     * overage policy refuses the whole commit (`REJECT`, or an overdraft
     * past its limit): the call was made, so what it cost is charged as far
     * as the budget allows.
     */
    readonly held: typeof Ledger.CommitRequest.Encoded | undefined
    readonly extra: typeof Ledger.EventRequest.Encoded | undefined
    /** The provider reported no usage: `amount` is the call's worst case. */
    readonly estimated: boolean
    /** Set once the commit answered that the reservation expired: only the event is left to do. */
    expired?: true
    /** Set once that event was refused past the overdraft limit: it is charged capped (`ALLOW_IF_AVAILABLE`). */
    lateCapped?: true
    /**
     * Set once the commit was refused by the overage policy: `held` then
     * `extra` are left to do (`"extra"` once `held` was committed).
     */
    refused?: "held" | "extra"
  }
  | Common & {
    readonly _tag: "release"
    readonly reservationId: string
    readonly release: typeof Ledger.ReleaseRequest.Encoded
  }
  | Common & {
    readonly _tag: "reserve"
    /** The reserve as first sent: replayed with its key, it answers the reservation it made, if any. */
    readonly reserve: typeof Ledger.ReserveRequest.Encoded
    /** The key of the release that gives that reservation back. */
    readonly releaseKey: string
    /** When its answer was lost: a reservation created after that is the replay's own. */
    readonly lostAtMs: number
  }

/** The most settlements kept per ledger and tenant; beyond, the oldest is dropped. */
export const capacity = 1_000

/** The most tries of one settlement while the ledger answers other calls; after the last, it is given up. */
export const maxAttempts = 5

/** Keeps `settlement` for the next guarded call of its tenant on `ledger`; answers the one dropped to make room. */
export const add = (ledger: Ledger.Service, settlement: Settlement): Settlement | undefined => {
  const tenants = Kept.of<Settlement>(ledger)
  let list = tenants.get(settlement.tenant)
  if (list === undefined) {
    list = []
    tenants.set(settlement.tenant, list)
  }
  list.push(settlement)
  return list.length > capacity ? list.shift() : undefined
}

const none: ReadonlyArray<Settlement> = []

/** Takes every settlement kept for `tenant` on `ledger` (each is then tried by one caller only). */
export const take = (ledger: Ledger.Service, tenant: string): ReadonlyArray<Settlement> => {
  const tenants = Kept.of<Settlement>(ledger)
  const list = tenants.get(tenant)
  if (list === undefined || list.length === 0) return none
  tenants.delete(tenant)
  return list
}
