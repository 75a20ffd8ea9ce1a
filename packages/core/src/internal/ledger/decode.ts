/**
 * Fast decoding of the hot requests (reserve, commit, release, extend,
 * decide, event, and the reads balances and getReservation): a hand-written check that accepts a request only when it is
 * already well formed, and then returns exactly what the request's Schema
 * decodes it to (defaults applied, amounts as `bigint`, unknown keys dropped,
 * fresh objects). Anything it is not sure of (a missing field, a value out of
 * range, `undefined` in an optional key, an exotic record) answers `undefined`,
 * and the caller decodes with the Schema, which then names the problem.
 *
 * So the Schema stays the definition: this only skips its interpreter for the
 * requests our own code builds (the guard, the CLI, typed callers), which are
 * almost all of them. `test/LedgerDecode.test.ts` checks both agree.
 *
 * @internal
 */
import { MAX } from "./amount.ts"
import type {
  Action,
  Amount,
  BalancesRequest,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ExtendRequest,
  GetReservationRequest,
  Metadata,
  OveragePolicy,
  ReleaseRequest,
  ReserveRequest,
  Subject,
  Unit
} from "./model.ts"
import { levelPattern, levels } from "./scope.ts"

type Input = { readonly [key: string]: unknown }

const isObject = (value: unknown): value is Input =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isText = (value: unknown, maxLength: number): value is string =>
  typeof value === "string" && value.length >= 1 && value.length <= maxLength

/** Level values already found well formed (a few tenants and subjects recur in almost every request). */
const knownLevels = new Set<string>()

const isLevel = (value: unknown): value is string => {
  if (typeof value !== "string") return false
  if (knownLevels.has(value)) return true
  if (value.length > 128 || !levelPattern.test(value)) return false
  if (knownLevels.size >= 4_096) knownLevels.clear()
  knownLevels.add(value)
  return true
}

const isUnit = (value: unknown): value is Unit =>
  value === "USD_MICROCENTS" || value === "TOKENS" || value === "CREDITS" || value === "RISK_POINTS"

const isPolicy = (value: unknown): value is OveragePolicy =>
  value === "ALLOW_IF_AVAILABLE" || value === "REJECT" || value === "ALLOW_WITH_OVERDRAFT"

const isIntBetween = (value: unknown, minimum: number, maximum: number): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= minimum && value <= maximum

const unsignedDecimal = /^\d+$/

/** A non-negative amount (`bigint`, safe-integer number or decimal string) as a `bigint`, if in range. */
const amountValue = (value: unknown): bigint | undefined => {
  if (typeof value === "bigint") return value >= 0n && value <= MAX ? value : undefined
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined
  if (typeof value === "string" && unsignedDecimal.test(value)) {
    const parsed = BigInt(value)
    return parsed <= MAX ? parsed : undefined
  }
  return undefined
}

const amount = (value: unknown): Amount | undefined => {
  if (!isObject(value)) return undefined
  const unit = value.unit
  const parsed = amountValue(value.amount)
  return isUnit(unit) && parsed !== undefined ? { unit, amount: parsed } : undefined
}

/** Marks "present but not acceptable here": the caller falls back to the Schema. */
const invalid: unique symbol = Symbol("invalid")

/**
 * An optional key whose value (`input[key]`, read by the caller) is `value`:
 * `undefined` when absent, `invalid` when present as `undefined` (the Schema
 * rejects that) or when `check` rejects the value.
 */
const optional = <A>(
  value: unknown,
  input: Input,
  key: string,
  check: (value: unknown) => A | undefined
): A | undefined | typeof invalid => {
  if (value === undefined) return key in input ? invalid : undefined
  const checked = check(value)
  return checked === undefined ? invalid : checked
}

const objectPrototype = Object.prototype

/**
 * A record of strings (metadata, dimensions), copied: only a plain object
 * with enumerable string keys, at most `maxProperties` of them, each value a
 * string of at most `maxLength`.
 */
const stringRecord = (value: unknown, maxLength: number, maxProperties: number): Record<string, string> | undefined => {
  if (!isObject(value)) return undefined
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== objectPrototype && prototype !== null) return undefined
  const keys = Object.keys(value)
  if (keys.length > maxProperties) return undefined
  if (Object.getOwnPropertyNames(value).length !== keys.length) return undefined
  if (Object.getOwnPropertySymbols(value).length > 0) return undefined
  const copy: Record<string, string> = {}
  for (const key of keys) {
    const item = value[key]
    if (typeof item !== "string" || item.length > maxLength) return undefined
    copy[key] = item
  }
  return copy
}

const metadata = (value: unknown): Metadata | undefined => stringRecord(value, 1024, 32)

const dimensions = (value: unknown): Record<string, string> | undefined => stringRecord(value, 256, 16)

/** A subject: its levels (at least one) and dimensions, in the Schema's key order. */
export const subject = (value: unknown): Subject | undefined => {
  if (!isObject(value)) return undefined
  const decoded: { -readonly [K in keyof Subject]: Subject[K] } = {}
  let named = false
  for (const level of levels) {
    const item = value[level]
    if (item === undefined) {
      if (level in value) return undefined
      continue
    }
    if (!isLevel(item)) return undefined
    decoded[level] = item
    named = true
  }
  const extra = optional(value.dimensions, value, "dimensions", dimensions)
  if (extra === invalid) return undefined
  if (extra !== undefined) decoded.dimensions = extra
  return named ? decoded : undefined
}

const tags = (value: unknown): Array<string> | undefined => {
  if (!Array.isArray(value) || value.length > 10) return undefined
  const copy: Array<string> = []
  for (let i = 0; i < value.length; i++) {
    const tag: unknown = value[i]
    if (!isText(tag, 64)) return undefined
    copy.push(tag)
  }
  return copy
}

export const action = (value: unknown): Action | undefined => {
  if (!isObject(value)) return undefined
  const { kind, name } = value
  if (!isText(kind, 64) || !isText(name, 256)) return undefined
  const tagged = optional(value.tags, value, "tags", tags)
  if (tagged === invalid) return undefined
  return tagged === undefined ? { kind, name } : { kind, name, tags: tagged }
}

const idempotencyKey = (value: unknown): string | undefined => (isText(value, 256) ? value : undefined)

/**
 * A key with a decoding default whose value (`input[key]`, read by the
 * caller) is `value`: the default when absent, `invalid` when present and not
 * acceptable.
 */
const withDefault = <A>(
  value: unknown,
  input: Input,
  key: string,
  check: (value: unknown) => value is A,
  fallback: A
): A | typeof invalid => {
  if (value === undefined) return key in input ? invalid : fallback
  return check(value) ? value : invalid
}

const isTtl = (value: unknown): value is number => isIntBetween(value, 1_000, 86_400_000)
const isGrace = (value: unknown): value is number => isIntBetween(value, 0, 60_000)
const isBoolean = (value: unknown): value is boolean => typeof value === "boolean"

export const reserveRequest = (input: unknown): ReserveRequest | undefined => {
  if (!isObject(input)) return undefined
  const tenant = input.tenant
  if (!isLevel(tenant)) return undefined
  const decodedSubject = subject(input.subject)
  if (decodedSubject === undefined) return undefined
  const decodedAction = action(input.action)
  if (decodedAction === undefined) return undefined
  const estimate = amount(input.estimate)
  if (estimate === undefined) return undefined
  const ttlMs = withDefault(input.ttlMs, input, "ttlMs", isTtl, 60_000)
  const graceMs = withDefault(input.graceMs, input, "graceMs", isGrace, 5_000)
  const overagePolicy = withDefault(input.overagePolicy, input, "overagePolicy", isPolicy, "ALLOW_IF_AVAILABLE")
  const dryRun = withDefault(input.dryRun, input, "dryRun", isBoolean, false)
  if (ttlMs === invalid || graceMs === invalid || overagePolicy === invalid || dryRun === invalid) return undefined
  const key = optional(input.idempotencyKey, input, "idempotencyKey", idempotencyKey)
  const extra = optional(input.metadata, input, "metadata", metadata)
  if (key === invalid || extra === invalid) return undefined
  const request: { -readonly [K in keyof ReserveRequest]: ReserveRequest[K] } = {
    tenant,
    subject: decodedSubject,
    action: decodedAction,
    estimate,
    ttlMs,
    graceMs,
    overagePolicy,
    dryRun
  }
  if (key !== undefined) request.idempotencyKey = key
  if (extra !== undefined) request.metadata = extra
  return request
}

export const decideRequest = (input: unknown): DecideRequest | undefined => {
  if (!isObject(input)) return undefined
  const tenant = input.tenant
  if (!isLevel(tenant)) return undefined
  const decodedSubject = subject(input.subject)
  if (decodedSubject === undefined) return undefined
  const decodedAction = action(input.action)
  if (decodedAction === undefined) return undefined
  const estimate = amount(input.estimate)
  if (estimate === undefined) return undefined
  const key = optional(input.idempotencyKey, input, "idempotencyKey", idempotencyKey)
  if (key === invalid) return undefined
  return key === undefined
    ? { tenant, subject: decodedSubject, action: decodedAction, estimate }
    : { tenant, subject: decodedSubject, action: decodedAction, estimate, idempotencyKey: key }
}

export const eventRequest = (input: unknown): EventRequest | undefined => {
  if (!isObject(input)) return undefined
  const tenant = input.tenant
  if (!isLevel(tenant)) return undefined
  const decodedSubject = subject(input.subject)
  if (decodedSubject === undefined) return undefined
  const decodedAction = action(input.action)
  if (decodedAction === undefined) return undefined
  const actual = amount(input.actual)
  if (actual === undefined) return undefined
  const overagePolicy = withDefault(input.overagePolicy, input, "overagePolicy", isPolicy, "ALLOW_IF_AVAILABLE")
  const key = optional(input.idempotencyKey, input, "idempotencyKey", idempotencyKey)
  const extra = optional(input.metadata, input, "metadata", metadata)
  if (overagePolicy === invalid || key === invalid || extra === invalid) return undefined
  const request: { -readonly [K in keyof EventRequest]: EventRequest[K] } = {
    tenant,
    subject: decodedSubject,
    action: decodedAction,
    actual,
    overagePolicy
  }
  if (key !== undefined) request.idempotencyKey = key
  if (extra !== undefined) request.metadata = extra
  return request
}

export const commitRequest = (input: unknown): CommitRequest | undefined => {
  if (!isObject(input)) return undefined
  const { tenant, reservationId } = input
  if (!isLevel(tenant) || !isText(reservationId, 256)) return undefined
  const actual = amount(input.actual)
  if (actual === undefined) return undefined
  const key = optional(input.idempotencyKey, input, "idempotencyKey", idempotencyKey)
  const extra = optional(input.metadata, input, "metadata", metadata)
  if (key === invalid || extra === invalid) return undefined
  const request: { -readonly [K in keyof CommitRequest]: CommitRequest[K] } = { tenant, reservationId, actual }
  if (key !== undefined) request.idempotencyKey = key
  if (extra !== undefined) request.metadata = extra
  return request
}

const reason = (value: unknown): string | undefined =>
  typeof value === "string" && value.length <= 256 ? value : undefined

export const releaseRequest = (input: unknown): ReleaseRequest | undefined => {
  if (!isObject(input)) return undefined
  const { tenant, reservationId } = input
  if (!isLevel(tenant) || !isText(reservationId, 256)) return undefined
  const key = optional(input.idempotencyKey, input, "idempotencyKey", idempotencyKey)
  const why = optional(input.reason, input, "reason", reason)
  if (key === invalid || why === invalid) return undefined
  const request: { -readonly [K in keyof ReleaseRequest]: ReleaseRequest[K] } = { tenant, reservationId }
  if (key !== undefined) request.idempotencyKey = key
  if (why !== undefined) request.reason = why
  return request
}

export const extendRequest = (input: unknown): ExtendRequest | undefined => {
  if (!isObject(input)) return undefined
  const { tenant, reservationId, extendByMs } = input
  if (!isLevel(tenant) || !isText(reservationId, 256) || !isIntBetween(extendByMs, 1, 86_400_000)) return undefined
  const key = optional(input.idempotencyKey, input, "idempotencyKey", idempotencyKey)
  if (key === invalid) return undefined
  return key === undefined
    ? { tenant, reservationId, extendByMs }
    : { tenant, reservationId, extendByMs, idempotencyKey: key }
}

const isPageLimit = (value: unknown): value is number => isIntBetween(value, 1, 200)

const cursor = (value: unknown): string | undefined => (isText(value, 1024) ? value : undefined)

export const balancesRequest = (input: unknown): BalancesRequest | undefined => {
  if (!isObject(input)) return undefined
  const tenant = input.tenant
  if (!isLevel(tenant)) return undefined
  const decodedSubject = subject(input.subject)
  if (decodedSubject === undefined) return undefined
  const unit = optional(input.unit, input, "unit", (value) => (isUnit(value) ? value : undefined))
  const includeChildren = withDefault(input.includeChildren, input, "includeChildren", isBoolean, false)
  const limit = withDefault(input.limit, input, "limit", isPageLimit, 50)
  const after = optional(input.cursor, input, "cursor", cursor)
  if (unit === invalid || includeChildren === invalid || limit === invalid || after === invalid) return undefined
  // built in the Schema's key order: tenant, subject, unit, includeChildren, limit, cursor
  const request: { -readonly [K in keyof BalancesRequest]?: BalancesRequest[K] } = { tenant, subject: decodedSubject }
  if (unit !== undefined) request.unit = unit
  request.includeChildren = includeChildren
  request.limit = limit
  if (after !== undefined) request.cursor = after
  return request as BalancesRequest
}

export const getReservationRequest = (input: unknown): GetReservationRequest | undefined => {
  if (!isObject(input)) return undefined
  const { tenant, reservationId } = input
  return isLevel(tenant) && isText(reservationId, 256) ? { tenant, reservationId } : undefined
}
