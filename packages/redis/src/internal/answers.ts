/**
 * Fast decoding of the answers of the hot scripts (reserve, commit, release,
 * extend, decide, event): the JSON the script wrote, already parsed, checked
 * by hand and converted exactly as the answer's Schema decodes it (amounts
 * from decimal strings to `bigint`, keys in the Schema's order, unknown keys
 * dropped). Anything it is not sure of answers `undefined`, and the store
 * decodes the text with the Schema, which then says what is wrong.
 *
 * The Schema interpreter costs about as much as the rest of a call on the
 * Node side; the scripts' answers are well formed, so this skips it.
 * `test/answers.test.ts` checks both agree.
 *
 * @internal
 */
import type { Ledger } from "@timebox/core"

type Input = { readonly [key: string]: unknown }

const MAX = 9_223_372_036_854_775_807n
const MIN = -9_223_372_036_854_775_808n
const unsignedDecimal = /^\d+$/
const signedDecimal = /^-?\d+$/

const isObject = (value: unknown): value is Input =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** An `AmountValue` (0 to 2^63 − 1), as the Schema decodes it. */
const amountValue = (value: unknown): bigint | undefined => {
  if (typeof value === "string" && unsignedDecimal.test(value)) {
    const parsed = BigInt(value)
    return parsed <= MAX ? parsed : undefined
  }
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined
  if (typeof value === "bigint") return value >= 0n && value <= MAX ? value : undefined
  return undefined
}

/** A `SignedAmountValue` (−2^63 to 2^63 − 1), as the Schema decodes it. */
const signedAmountValue = (value: unknown): bigint | undefined => {
  if (typeof value === "string" && signedDecimal.test(value)) {
    const parsed = BigInt(value)
    return parsed >= MIN && parsed <= MAX ? parsed : undefined
  }
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : undefined
  if (typeof value === "bigint") return value >= MIN && value <= MAX ? value : undefined
  return undefined
}

const isUnit = (value: unknown): value is Ledger.Unit =>
  value === "USD_MICROCENTS" || value === "TOKENS" || value === "CREDITS" || value === "RISK_POINTS"

const isBudgetStatus = (value: unknown): value is Ledger.BudgetStatus =>
  value === "active" || value === "frozen" || value === "closed"

const isDecision = (value: unknown): value is Ledger.Decision => value === "allow" || value === "deny"

const isDenyReason = (value: unknown): value is Ledger.DenyReason =>
  value === "budget-exceeded" || value === "budget-frozen" || value === "budget-closed" ||
  value === "overdraft-limit-exceeded" || value === "debt-outstanding" || value === "budget-not-found"

const amount = (value: unknown): Ledger.Amount | undefined => {
  if (!isObject(value)) return undefined
  const unit = value.unit
  const parsed = amountValue(value.amount)
  return isUnit(unit) && parsed !== undefined ? { unit, amount: parsed } : undefined
}

const balance = (value: unknown): Ledger.Balance | undefined => {
  if (!isObject(value)) return undefined
  const { isOverLimit, scope, status, unit } = value
  if (typeof scope !== "string" || !isUnit(unit) || !isBudgetStatus(status) || typeof isOverLimit !== "boolean") {
    return undefined
  }
  const allocated = amountValue(value.allocated)
  const spent = amountValue(value.spent)
  const reserved = amountValue(value.reserved)
  const debt = amountValue(value.debt)
  const overdraftLimit = amountValue(value.overdraftLimit)
  const remaining = signedAmountValue(value.remaining)
  if (
    allocated === undefined || spent === undefined || reserved === undefined || debt === undefined ||
    overdraftLimit === undefined || remaining === undefined
  ) return undefined
  return { scope, unit, status, allocated, spent, reserved, debt, overdraftLimit, remaining, isOverLimit }
}

const balances = (value: unknown): Array<Ledger.Balance> | undefined => {
  if (!Array.isArray(value)) return undefined
  const decoded: Array<Ledger.Balance> = []
  for (const item of value) {
    const one = balance(item)
    if (one === undefined) return undefined
    decoded.push(one)
  }
  return decoded
}

const strings = (value: unknown): Array<string> | undefined => {
  if (!Array.isArray(value)) return undefined
  for (const item of value) if (typeof item !== "string") return undefined
  return value.slice() as Array<string>
}

/** Marks "present but not acceptable": the store falls back to the Schema. */
const invalid: unique symbol = Symbol("invalid")

/** An optional key: `undefined` when absent, `invalid` when present and rejected by `check`. */
const optional = <A>(
  input: Input,
  key: string,
  check: (value: unknown) => A | undefined
): A | undefined | typeof invalid => {
  const value = input[key]
  if (value === undefined) return key in input ? invalid : undefined
  const checked = check(value)
  return checked === undefined ? invalid : checked
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)
const numeric = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined)
const denyReason = (value: unknown): Ledger.DenyReason | undefined => (isDenyReason(value) ? value : undefined)

export const reserveAnswer = (value: unknown): Ledger.ReserveAnswer | undefined => {
  if (!isObject(value)) return undefined
  const { decision, scopePath } = value
  if (!isDecision(decision) || typeof scopePath !== "string") return undefined
  const reservationId = optional(value, "reservationId", text)
  const reserved = optional(value, "reserved", amount)
  const expiresAtMs = optional(value, "expiresAtMs", numeric)
  const reasonCode = optional(value, "reasonCode", denyReason)
  if (reservationId === invalid || reserved === invalid || expiresAtMs === invalid || reasonCode === invalid) {
    return undefined
  }
  const affectedScopes = strings(value.affectedScopes)
  const decodedBalances = balances(value.balances)
  if (affectedScopes === undefined || decodedBalances === undefined) return undefined
  // built in the Schema's key order: decision, reservationId, reserved, expiresAtMs, reasonCode, scopePath, …
  const answer: { -readonly [K in keyof Ledger.ReserveAnswer]?: Ledger.ReserveAnswer[K] } = { decision }
  if (reservationId !== undefined) answer.reservationId = reservationId
  if (reserved !== undefined) answer.reserved = reserved
  if (expiresAtMs !== undefined) answer.expiresAtMs = expiresAtMs
  if (reasonCode !== undefined) answer.reasonCode = reasonCode
  answer.scopePath = scopePath
  answer.affectedScopes = affectedScopes
  answer.balances = decodedBalances
  return answer as Ledger.ReserveAnswer
}

export const commitAnswer = (value: unknown): Ledger.CommitAnswer | undefined => {
  if (!isObject(value)) return undefined
  const { reservationId, status } = value
  if (status !== "committed" || typeof reservationId !== "string") return undefined
  const charged = amount(value.charged)
  const released = amount(value.released)
  const decodedBalances = balances(value.balances)
  if (charged === undefined || released === undefined || decodedBalances === undefined) return undefined
  return { status, reservationId, charged, released, balances: decodedBalances }
}

export const releaseAnswer = (value: unknown): Ledger.ReleaseAnswer | undefined => {
  if (!isObject(value)) return undefined
  const { reservationId, status } = value
  if (status !== "released" || typeof reservationId !== "string") return undefined
  const released = amount(value.released)
  const decodedBalances = balances(value.balances)
  if (released === undefined || decodedBalances === undefined) return undefined
  return { status, reservationId, released, balances: decodedBalances }
}

export const extendAnswer = (value: unknown): Ledger.ExtendAnswer | undefined => {
  if (!isObject(value)) return undefined
  const { expiresAtMs, extensions, reservationId, status } = value
  if (
    status !== "active" || typeof reservationId !== "string" || typeof expiresAtMs !== "number" ||
    typeof extensions !== "number"
  ) return undefined
  const decodedBalances = balances(value.balances)
  if (decodedBalances === undefined) return undefined
  return { status, reservationId, expiresAtMs, extensions, balances: decodedBalances }
}

export const decideAnswer = (value: unknown): Ledger.DecideAnswer | undefined => {
  if (!isObject(value)) return undefined
  const { decision } = value
  if (!isDecision(decision)) return undefined
  const reasonCode = optional(value, "reasonCode", denyReason)
  const affectedScopes = strings(value.affectedScopes)
  if (reasonCode === invalid || affectedScopes === undefined) return undefined
  return reasonCode === undefined ? { decision, affectedScopes } : { decision, reasonCode, affectedScopes }
}

export const eventAnswer = (value: unknown): Ledger.EventAnswer | undefined => {
  if (!isObject(value)) return undefined
  const { eventId, status } = value
  if (status !== "applied" || typeof eventId !== "string") return undefined
  const charged = amount(value.charged)
  const decodedBalances = balances(value.balances)
  if (charged === undefined || decodedBalances === undefined) return undefined
  return { status, eventId, charged, balances: decodedBalances }
}
