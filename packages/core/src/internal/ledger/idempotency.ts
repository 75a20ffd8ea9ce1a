/**
 * Idempotency in the memory store: what a key remembers and how a repeated
 * request is told apart from a different one.
 *
 * A store compares a request with the one that first used its key. The Redis
 * store compares digests of their fingerprints (canonical JSON without the
 * key, `fingerprint.ts`); the memory store keeps the first request itself,
 * or finds it in the reservation the key made, and compares the two with
 * `sameRequest`, which, for two requests under one key, holds exactly when
 * their fingerprints are equal. So it builds no fingerprint, and keeps no
 * string of one for 24 hours.
 *
 * reserve, commit and release remember nothing of their own: their key
 * points at the reservation, whose record holds the request and, off the
 * heap, the balances of the answer (see `reserve.ts`, `settle.ts`). event
 * and extend remember a compact record of the same kind (`EventRecord`,
 * `ExtendRecord` in `state.ts`), compared field by field as `sameRequest`
 * would. The other operations (decide, fund, and a dry-run reserve)
 * remember a `Remembered`: the request and the answer as they are.
 *
 * @internal
 */
import type { LedgerErrorReason } from "./errors.ts"
import { IdempotencyMismatch } from "./errors.ts"

/** A remembered answer: the first request with its key and what it answered. */
export class Remembered {
  readonly request: object
  readonly answer: unknown
  readonly atMs: number
  constructor(request: object, answer: unknown, atMs: number) {
    this.request = request
    this.answer = answer
    this.atMs = atMs
  }
}

/**
 * Whether two decoded values have the same canonical JSON (`fingerprint`):
 * `bigint`s, strings, numbers and booleans by value, arrays item by item,
 * objects key by key in any order, a key holding `undefined` as absent.
 */
export const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  return sameFields(a as Record<string, unknown>, b as Record<string, unknown>, noKeys)
}

const noKeys: ReadonlySet<string> = new Set()

const sameFields = (
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  skipped: ReadonlySet<string>
): boolean => {
  let count = 0
  for (const key of Object.keys(a)) {
    if (skipped.has(key) || a[key] === undefined) continue
    if (!sameValue(a[key], b[key])) return false
    count++
  }
  for (const key of Object.keys(b)) {
    if (!skipped.has(key) && b[key] !== undefined) count--
  }
  return count === 0
}

/** What a command carries beyond its request: derived or stamped by the ledger, never part of a fingerprint. */
const stamped: ReadonlySet<string> = new Set(["now", "scopes", "fingerprint"])

/**
 * Whether two commands of one operation carry the same request: equal
 * fingerprints, ignoring `now`, the derived `scopes` and the fingerprint
 * itself.
 */
export const sameRequest = (a: object, b: object): boolean =>
  sameFields(a as Record<string, unknown>, b as Record<string, unknown>, stamped)

/** The failure of a key first used for another request. */
export const mismatch = (operation: string, idempotencyKey: string): LedgerErrorReason =>
  new IdempotencyMismatch({ operation, idempotencyKey })
