/**
 * The Redis key layout of the ledger.
 *
 * Every key of one tenant starts with `<prefix>:v3:{tenant:<id>}:`, whose
 * hash tag puts all of a tenant's budgets, reservations, idempotency records
 * and indexes in one Redis Cluster slot, so each ledger script touches one
 * slot only. `v3` is the layout's version (`layout`): a store never reads
 * keys written in another layout, so a layout change makes older data
 * invisible (budgets not found: calls fail closed) instead of misread (v3:
 * a budget became one string, and a reservation's fixed fields one field,
 * `terms`). The
 * scripts build the keys below that prefix (`prelude.ts`):
 *
 * | key | type | holds |
 * | --- | --- | --- |
 * | `…:budget:<scope>:<unit>` | string | one scope's budget in one unit: status, allocated, spent, reserved, debt, overdraftLimit, isOverLimit and its creation number, joined by a tab |
 * | `…:budgets` | sorted set | `<scope> <unit index>` at score 0: the budgets in scope, unit order |
 * | `…:reservation:<id>` | hash | one reservation: `terms` (what never changes, in one field), `status`, `expiresAtMs`, `extensions`, … (its affected scopes and subject levels are its scope path's prefixes and segments) |
 * | `…:reservations` | sorted set | reservation ids by creation sequence (listReservations) |
 * | `…:expiries` | sorted set | active reservation ids by `expiresAt + grace` (the sweeper) |
 * | `…:ended` | list | `<ms> <id>` of finished reservations in the order they ended (pruned after the retention, `Ledger.Retention`) |
 * | `…:idem:<operation>:<key>` | string | the request's fingerprint digest, a newline, the first answer |
 * | `…:idempotency` | list | `<ms> <operation>:<key>` in the order first used (pruned after the retention, `Ledger.Retention`) |
 * | `…:sequence` | string | the tenant's counter (reservation and event ids, budget order) |
 * | `…:pruned` | string | when the sweeper last pruned this tenant |
 * | `<prefix>:v3:tenants` | set | every tenant with ledger state (for a sweep over all tenants) |
 *
 * Scope paths, units and tenant ids use `[a-zA-Z0-9_.-:/]` only (the ledger
 * decodes them with Schema), so they cannot end the hash tag early. A `{`,
 * `}` or `%` in the prefix is written `%7B`, `%7D`, `%25`.
 *
 * @internal
 */
import { hash } from "node:crypto"

const escape = (text: string): string =>
  text.replace(/[%{}]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)

/** The keys of one store, under one prefix. @internal */
export interface Keys {
  /** `<prefix>:v3`: the start of every key of this store. */
  readonly prefix: string
  /** `<prefix>:v3:{tenant:<id>}:`: the start of every key of one tenant (`KEYS[1]` of every script). */
  readonly tenant: (tenant: string) => string
  /** The set of tenants with ledger state. */
  readonly tenants: string
}

/** The version of the key layout, the segment after the prefix. @internal */
export const layout = "v3"

/** The key layout under `prefix` (default `timebox`). @internal */
export const make = (prefix = "timebox"): Keys => {
  const escaped = `${escape(prefix)}:${layout}`
  return {
    prefix: escaped,
    tenant: (tenant) => `${escaped}:{tenant:${escape(tenant)}}:`,
    tenants: `${escaped}:tenants`
  }
}

/**
 * The tenant a reservation id names (`rsv_<tenant>_<n>`), if it is one of
 * ours; reservation ids carry their tenant so that an id of the caller's own
 * tenant needs no extra read, and one naming another tenant one `EXISTS` in
 * that tenant's slot (`Forbidden` while it exists, `NotFound` once pruned).
 *
 * @internal
 */
export const reservationTenant = (id: string): string | undefined => /^rsv_(.+)_\d+$/.exec(id)?.[1]

/**
 * What an idempotency record keeps of a request, in general: the SHA-256 of
 * its fingerprint (canonical JSON, often hundreds of bytes), base64, so that
 * every keyed call sends and stores 44 bytes instead; equal digests mean
 * equal requests (a collision is computationally out of reach). `""` for a
 * request without an idempotency key, whose fingerprint is never computed.
 * The hot operations mostly use cheaper digests of their own (`digest.ts`).
 *
 * @internal
 */
export const fingerprintDigest = (
  command: { readonly idempotencyKey?: string | undefined; readonly fingerprint: string }
): string => command.idempotencyKey === undefined ? "" : hash("sha256", command.fingerprint, "base64")

/**
 * Whether `id` is a reservation id of `tenant` (`rsv_<tenant>_<n>`): the
 * common case of `reservationTenant`, without a regular expression.
 *
 * @internal
 */
export const isReservationOf = (id: string, tenant: string): boolean => {
  const start = 5 + tenant.length
  if (id.length <= start || !id.startsWith("rsv_") || !id.startsWith(tenant, 4) || id.charCodeAt(start - 1) !== 95) {
    return false
  }
  for (let i = start; i < id.length; i++) {
    const code = id.charCodeAt(i)
    if (code < 48 || code > 57) return false
  }
  return true
}
