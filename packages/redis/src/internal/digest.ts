/**
 * The idempotency digests of the hot operations, and what a reserve shares
 * with the reserve before it.
 *
 * An idempotency record keeps a digest of the request that made it; a second
 * use of the key replays the first answer when the digests are equal, and is
 * a mismatch otherwise (`hot.ts`). The general digest is the SHA-256 of the
 * request's fingerprint (canonical JSON without the key, `fingerprintDigest`):
 * ~1–2 µs and ~1–2 KB of garbage per call. The hot requests mostly avoid it:
 *
 * - **reserve**: an agent's reserves differ in their keys and estimates and
 *   little else (same tenant, subject, action, unit, time to live, grace,
 *   policy). Its digest is the SHA-256 of the fingerprint with the estimate
 *   amount set to 0, then `:` and the amount; a `Shapes` remembers the last
 *   reserve's fields and that hash (and the action's JSON, an argument of
 *   its own), and computes them again only when one of them changes.
 * - **commit, release, extend** of one of the tenant's own reservation ids
 *   (`rsv_<tenant>_<n>`): what the request says, in clear
 *   (`<unit>:<amount>:<id>`, `release:<id>`, `extend:<ms>:<id>`); the tenant
 *   is the record's own.
 *
 * Requests with metadata, a release reason, action tags or subject dimensions
 * take the general digest. The forms cannot be confused: a SHA-256 in base64
 * is 44 characters without `:`, the others have a `:` or are longer, none
 * has a newline (the record's separator; the clear forms hold only units,
 * digits and ids of the tenant's own form, whose tenant the `Ledger` has
 * decoded), and within each form equal digests mean equal requests.
 *
 * Records written before these digests (SHA-256 of the fingerprint with the
 * key) no longer match: a retry, within the retention (24 hours by default), of a
 * request first made by an earlier version of the store answers
 * `IdempotencyMismatch`.
 *
 * @internal
 */
import type { LedgerStore } from "@timebox/core"
import { fingerprintDigest, isReservationOf } from "./keys.ts"

/** What a reserve sends that depends on more than its key. @internal */
export interface Shape {
  /** The digest, `""` without an idempotency key. */
  readonly digest: string
  /** The action's JSON. */
  readonly action: string
}

/** The memory of the last reserve's shape (one per store). @internal */
export interface Shapes {
  /** The shape of `command`, from the last one's when the fields it depends on are the same. */
  readonly of: (command: LedgerStore.ReserveCommand) => Shape
}

type Reserve = LedgerStore.ReserveCommand

/**
 * Whether the shape of `command` can be remembered: nothing in it but flat
 * fields, and a fingerprint computed from its fields when read (the
 * `Ledger`'s commands: a getter on their prototype), so that the same
 * command with its amount set to 0 has the fingerprint of that request. A
 * command whose fingerprint is a value of its own (built by hand) takes the
 * general digest.
 */
const plain = (command: Reserve): boolean =>
  command.metadata === undefined && command.action.tags === undefined &&
  command.subject.dimensions === undefined && !Object.hasOwn(command, "fingerprint")

/** Whether `a` and `b` (both `plain`) have the same fields but their keys and estimate amounts. */
const same = (a: Reserve, b: Reserve): boolean => {
  const { subject, action } = a
  return a.tenant === b.tenant &&
    a.estimate.unit === b.estimate.unit &&
    action.kind === b.action.kind &&
    action.name === b.action.name &&
    a.ttlMs === b.ttlMs &&
    a.graceMs === b.graceMs &&
    a.overagePolicy === b.overagePolicy &&
    a.dryRun === b.dryRun &&
    subject.tenant === b.subject.tenant &&
    subject.workspace === b.subject.workspace &&
    subject.app === b.subject.app &&
    subject.workflow === b.subject.workflow &&
    subject.agent === b.subject.agent &&
    subject.toolset === b.subject.toolset
}

/** The hash of a reserve's fingerprint with its estimate amount set to 0 (the same for every amount). */
const hashWithoutAmount = (command: Reserve): string => {
  const { estimate } = command
  // the fingerprint of the same request but its amount (the command's getter reads its own fields)
  const zeroed: Reserve = Object.create(command, { estimate: { value: { unit: estimate.unit, amount: 0n } } })
  return fingerprintDigest(zeroed)
}

/** A fresh memory of reserve shapes. @internal */
export const shapes = (): Shapes => {
  let last: Reserve | undefined
  // the hash of `last` without its amount, when it had a key (computed on first need)
  let hash: string | undefined
  let action = ""
  return {
    of: (command) => {
      const keyed = command.idempotencyKey !== undefined
      if (!plain(command)) {
        return { digest: fingerprintDigest(command), action: JSON.stringify(command.action) }
      }
      if (last === undefined || !same(command, last)) {
        last = command
        hash = undefined
        action = JSON.stringify(command.action)
      }
      if (!keyed) return { digest: "", action }
      hash ??= hashWithoutAmount(command)
      return { digest: `${hash}:${command.estimate.amount}`, action }
    }
  }
}

/** The digest of a commit: in clear for one of the tenant's own reservations without metadata. @internal */
export const commit = (command: LedgerStore.CommitCommand): string =>
  command.idempotencyKey === undefined
    ? ""
    : command.metadata === undefined && isReservationOf(command.reservationId, command.tenant)
    ? `${command.actual.unit}:${command.actual.amount}:${command.reservationId}`
    : fingerprintDigest(command)

/** The digest of a release: in clear for one of the tenant's own reservations without a reason. @internal */
export const release = (command: LedgerStore.ReleaseCommand): string =>
  command.idempotencyKey === undefined
    ? ""
    : command.reason === undefined && isReservationOf(command.reservationId, command.tenant)
    ? `release:${command.reservationId}`
    : fingerprintDigest(command)

/** The digest of an extension: in clear for one of the tenant's own reservations. @internal */
export const extend = (command: LedgerStore.ExtendCommand): string =>
  command.idempotencyKey === undefined
    ? ""
    : isReservationOf(command.reservationId, command.tenant)
    ? `extend:${command.extendByMs}:${command.reservationId}`
    : fingerprintDigest(command)
