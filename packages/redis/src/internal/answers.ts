/**
 * The answers of the hot scripts, from their compact text (`hot.ts`): the
 * answer's own fields joined by a tab, then eight fields per budget
 * snapshot. What the request already says (the reservation id of a commit,
 * the unit of a reserve, the scopes) is taken from the command; a replay
 * has the same fingerprint, hence the same request, so its answer is
 * rebuilt identically. Each answer is built exactly as its Schema decodes
 * (amounts as `bigint`, keys in the Schema's order, `remaining` computed),
 * and anything malformed answers `undefined`: the store then fails with
 * `StoreUnavailable` rather than guess. `test/answers.test.ts` checks both.
 *
 * @internal
 */
import type { Ledger, LedgerStore } from "@timebox/core"

/** The separator of the compact answers. @internal */
export const TAB = "\t"

const MAX = 9_223_372_036_854_775_807n
const MIN = -9_223_372_036_854_775_808n
const unsignedDecimal = /^(?:0|[1-9]\d{0,18})$/
const integer = /^(?:0|[1-9]\d{0,15})$/

/**
 * The long amounts decoded lately: a snapshot repeats most of its figures
 * from one answer to the next (allocated, debt, the overdraft limit), so
 * parsing each text once saves a check and a `BigInt` from a string per
 * figure. Bounded: emptied when full. Short amounts are parsed directly
 * (`amountValue`): they are the ones that change from answer to answer
 * (spent, reserved), which would only churn this map.
 */
const recent = new Map<string, bigint>()
const recentCapacity = 4_096

/** `0n` to `9n`, shared. */
const digits: ReadonlyArray<bigint> = [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]

/** An amount (0 to 2^63 − 1) in canonical decimal. @internal */
export const amountValue = (text: string | undefined): bigint | undefined => {
  if (text === undefined) return undefined
  const length = text.length
  if (length > 0 && length < 16) {
    // below 10^15: exact in a double; canonical means no sign, no leading zero
    let value = text.charCodeAt(0) - 48
    if (value < 0 || value > 9 || (value === 0 && length > 1)) return undefined
    for (let i = 1; i < length; i++) {
      const digit = text.charCodeAt(i) - 48
      if (digit < 0 || digit > 9) return undefined
      value = value * 10 + digit
    }
    return value < 10 ? digits[value] : BigInt(value)
  }
  const known = recent.get(text)
  if (known !== undefined) return known
  if (!unsignedDecimal.test(text)) return undefined
  const value = BigInt(text)
  if (value > MAX) return undefined
  if (recent.size >= recentCapacity) recent.clear()
  recent.set(text, value)
  return value
}

/** A non-negative integer in canonical decimal, below 10^16 (times, counts). */
const count = (text: string | undefined): number | undefined =>
  text !== undefined && integer.test(text) ? Number(text) : undefined

const isBudgetStatus = (value: string): value is Ledger.BudgetStatus =>
  value === "active" || value === "frozen" || value === "closed"

const isUnit = (value: string | undefined): value is Ledger.Unit =>
  value === "USD_MICROCENTS" || value === "TOKENS" || value === "CREDITS" || value === "RISK_POINTS"

const isDenyReason = (value: string): value is Ledger.DenyReason =>
  value === "budget-exceeded" || value === "budget-frozen" || value === "budget-closed" ||
  value === "overdraft-limit-exceeded" || value === "debt-outstanding" || value === "budget-not-found"

/** The snapshots in `parts` from `from` on, eight fields each, all in `unit`. @internal */
export const balances = (
  parts: ReadonlyArray<string>,
  from: number,
  unit: Ledger.Unit
): Array<Ledger.Balance> | undefined => {
  if (from > parts.length || (parts.length - from) % 8 !== 0) return undefined
  const decoded: Array<Ledger.Balance> = []
  for (let i = from; i < parts.length; i += 8) {
    const scope = parts[i]!
    const status = parts[i + 1]!
    const allocated = amountValue(parts[i + 2])
    const spent = amountValue(parts[i + 3])
    const reserved = amountValue(parts[i + 4])
    const debt = amountValue(parts[i + 5])
    const overdraftLimit = amountValue(parts[i + 6])
    const flag = parts[i + 7]
    if (
      scope === "" || !isBudgetStatus(status) || allocated === undefined || spent === undefined ||
      reserved === undefined || debt === undefined || overdraftLimit === undefined || (flag !== "0" && flag !== "1")
    ) return undefined
    const remaining = allocated - spent - reserved - debt
    if (remaining < MIN) return undefined
    decoded.push({
      scope,
      unit,
      status,
      allocated,
      spent,
      reserved,
      debt,
      overdraftLimit,
      remaining,
      isOverLimit: flag === "1"
    })
  }
  return decoded
}

/** reserve: `decision, reasonCode, reservationId, expiresAtMs, snapshots…`. @internal */
export const reserveAnswer = (text: string, command: LedgerStore.ReserveCommand): Ledger.ReserveAnswer | undefined => {
  const parts = text.split(TAB)
  const [decision, reasonCode, reservationId, expires] = parts
  if (decision !== "allow" && decision !== "deny") return undefined
  if (reasonCode === undefined || (reasonCode !== "" && !isDenyReason(reasonCode))) return undefined
  const { unit } = command.estimate
  const decoded = balances(parts, 4, unit)
  if (decoded === undefined || reservationId === undefined) return undefined
  const answer: { -readonly [K in keyof Ledger.ReserveAnswer]?: Ledger.ReserveAnswer[K] } = { decision }
  if (reservationId !== "") {
    const expiresAtMs = count(expires)
    if (expiresAtMs === undefined) return undefined
    answer.reservationId = reservationId
    answer.reserved = { unit, amount: command.estimate.amount }
    answer.expiresAtMs = expiresAtMs
  } else if (expires !== "") {
    return undefined
  }
  if (reasonCode !== "") answer.reasonCode = reasonCode
  answer.scopePath = command.scopes.at(-1) ?? ""
  answer.affectedScopes = command.scopes
  answer.balances = decoded
  return answer as Ledger.ReserveAnswer
}

/** commit: `charged, released, snapshots…`. @internal */
export const commitAnswer = (text: string, command: LedgerStore.CommitCommand): Ledger.CommitAnswer | undefined => {
  const parts = text.split(TAB)
  const { unit } = command.actual
  const charged = amountValue(parts[0])
  const released = amountValue(parts[1])
  const decoded = balances(parts, 2, unit)
  if (charged === undefined || released === undefined || decoded === undefined) return undefined
  return {
    status: "committed",
    reservationId: command.reservationId,
    charged: { unit, amount: charged },
    released: { unit, amount: released },
    balances: decoded
  }
}

/** release: `released, unit, snapshots…`. @internal */
export const releaseAnswer = (text: string, command: LedgerStore.ReleaseCommand): Ledger.ReleaseAnswer | undefined => {
  const parts = text.split(TAB)
  const released = amountValue(parts[0])
  const unit = parts[1]
  if (released === undefined || !isUnit(unit)) return undefined
  const decoded = balances(parts, 2, unit)
  if (decoded === undefined) return undefined
  return {
    status: "released",
    reservationId: command.reservationId,
    released: { unit, amount: released },
    balances: decoded
  }
}

/** extend: `expiresAtMs, extensions, unit, snapshots…`. @internal */
export const extendAnswer = (text: string, command: LedgerStore.ExtendCommand): Ledger.ExtendAnswer | undefined => {
  const parts = text.split(TAB)
  const expiresAtMs = count(parts[0])
  const extensions = count(parts[1])
  const unit = parts[2]
  if (expiresAtMs === undefined || extensions === undefined || !isUnit(unit)) return undefined
  const decoded = balances(parts, 3, unit)
  if (decoded === undefined) return undefined
  return { status: "active", reservationId: command.reservationId, expiresAtMs, extensions, balances: decoded }
}

/** decide: `decision, reasonCode`. @internal */
export const decideAnswer = (text: string, command: LedgerStore.DecideCommand): Ledger.DecideAnswer | undefined => {
  const parts = text.split(TAB)
  const [decision, reasonCode] = parts
  if (parts.length !== 2 || (decision !== "allow" && decision !== "deny") || reasonCode === undefined) return undefined
  if (reasonCode === "") return { decision, affectedScopes: command.scopes }
  return isDenyReason(reasonCode) ? { decision, reasonCode, affectedScopes: command.scopes } : undefined
}

/** event: `eventId, charged, snapshots…`. @internal */
export const eventAnswer = (text: string, command: LedgerStore.EventCommand): Ledger.EventAnswer | undefined => {
  const parts = text.split(TAB)
  const eventId = parts[0]
  const { unit } = command.actual
  const charged = amountValue(parts[1])
  const decoded = balances(parts, 2, unit)
  if (eventId === undefined || eventId === "" || charged === undefined || decoded === undefined) return undefined
  return { status: "applied", eventId, charged: { unit, amount: charged }, balances: decoded }
}
