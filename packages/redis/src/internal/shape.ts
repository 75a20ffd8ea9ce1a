/**
 * What the arguments of a reserve share with the reserve before it.
 *
 * An agent's reserves differ in their idempotency keys and little else: the
 * same tenant, subject, action, estimate, time to live, grace and policy.
 * The request's fingerprint leaves the key out, so its digest (canonical
 * JSON, then SHA-256: ~2 µs and ~2 KB of garbage per call) and the action's
 * JSON are the same as the last reserve's whenever those fields are. A
 * `Shapes` remembers the last reserve's fields, digest and action JSON, and
 * computes them again only when a field differs. Requests with metadata,
 * action tags or subject dimensions are computed every time (comparing
 * those would cost as much as the digest).
 *
 * @internal
 */
import type { LedgerStore } from "@timebox/core"
import { fingerprintDigest } from "./keys.ts"

/** What a reserve sends that depends on more than its key. @internal */
export interface Shape {
  /** The fingerprint's digest, `""` without an idempotency key. */
  readonly digest: string
  /** The action's JSON. */
  readonly action: string
}

/** The memory of the last reserve's shape (one per store). @internal */
export interface Shapes {
  /** The shape of `command`, the last one's when the fields it depends on are the same. */
  readonly of: (command: LedgerStore.ReserveCommand) => Shape
}

type Command = LedgerStore.ReserveCommand

/** Whether the shape of `command` can be remembered: nothing in it but flat fields. */
const plain = (command: Command): boolean =>
  command.metadata === undefined && command.action.tags === undefined && command.subject.dimensions === undefined

/** Whether `a` and `b` (both `plain`) have the same fields but their keys. */
const same = (a: Command, b: Command): boolean => {
  const { subject, action, estimate } = a
  return a.tenant === b.tenant &&
    estimate.amount === b.estimate.amount &&
    estimate.unit === b.estimate.unit &&
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

/** A fresh memory of reserve shapes. @internal */
export const make = (): Shapes => {
  let last: Command | undefined
  // the digest of `last` when it had a key (computed on first need)
  let digest: string | undefined
  let action = ""
  return {
    of: (command) => {
      const keyed = command.idempotencyKey !== undefined
      if (!plain(command)) {
        return { digest: fingerprintDigest(command), action: JSON.stringify(command.action) }
      }
      if (last === undefined || !same(command, last)) {
        last = command
        digest = undefined
        action = JSON.stringify(command.action)
      }
      if (keyed && digest === undefined) digest = fingerprintDigest(command)
      return { digest: keyed ? digest! : "", action }
    }
  }
}
