/**
 * The idempotency fingerprint of a decoded request: canonical JSON (keys
 * sorted, bigints as decimal strings) of the request without its idempotency
 * key, so that requests equal after decoding (defaults applied, `5` and `"5"`
 * alike) have the same fingerprint. The key is left out because it is what
 * finds the first request: two fingerprints are only ever compared under the
 * same key, and requests that differ only in their key (an agent's calls)
 * share one fingerprint, which a store can then digest once.
 *
 * @internal
 */
import type {
  Action,
  Amount,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ExtendRequest,
  ReleaseRequest,
  ReserveRequest,
  Subject
} from "./model.ts"

const write = (value: unknown, out: Array<string>): void => {
  if (typeof value === "bigint") {
    out.push(`"${value}"`)
  } else if (Array.isArray(value)) {
    out.push("[")
    value.forEach((item, index) => {
      if (index > 0) out.push(",")
      write(item, out)
    })
    out.push("]")
  } else if (value !== null && typeof value === "object") {
    out.push("{")
    let first = true
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key]
      if (item === undefined) continue
      if (!first) out.push(",")
      first = false
      out.push(JSON.stringify(key), ":")
      write(item, out)
    }
    out.push("}")
  } else {
    out.push(JSON.stringify(value) ?? "null")
  }
}

/** Canonical JSON of a value (a decoded request, or a part of one). */
export const fingerprint = (value: unknown): string => {
  const out: Array<string> = []
  write(value, out)
  return out.join("")
}

/** The fingerprint of a decoded request: the canonical JSON of its fields but its idempotency key. */
export const requestFingerprint = (request: object): string => fingerprint({ ...request, idempotencyKey: undefined })

// =============================================================================
// The hot requests
// =============================================================================

// The same canonical JSON as `requestFingerprint`, written field by field for
// the requests of the hot path (their keys in sorted order, optional ones
// only when present), so that no key list is built or sorted per call.
// `test/LedgerDecode.test.ts` checks they agree with `requestFingerprint`.

const text = JSON.stringify

const amountJson = (amount: Amount): string => `{"amount":"${amount.amount}","unit":${text(amount.unit)}}`

const actionJson = (action: Action): string =>
  action.tags === undefined
    ? `{"kind":${text(action.kind)},"name":${text(action.name)}}`
    : `{"kind":${text(action.kind)},"name":${text(action.name)},"tags":${fingerprint(action.tags)}}`

/** Subject keys in sorted order. */
const subjectKeys = ["agent", "app", "dimensions", "tenant", "toolset", "workflow", "workspace"] as const

const subjectJson = (subject: Subject): string => {
  let out = "{"
  for (const key of subjectKeys) {
    const value = subject[key]
    if (value === undefined) continue
    if (out.length > 1) out += ","
    out += `"${key}":${typeof value === "string" ? text(value) : fingerprint(value)}`
  }
  return `${out}}`
}

const optionalField = (name: string, value: unknown): string =>
  value === undefined ? "" : `"${name}":${typeof value === "string" ? text(value) : fingerprint(value)},`

/** `requestFingerprint` of a decoded reserve request. */
export const reserveFingerprint = (request: ReserveRequest): string =>
  `{"action":${actionJson(request.action)},"dryRun":${request.dryRun},"estimate":${
    amountJson(request.estimate)
  },"graceMs":${text(request.graceMs)},${optionalField("metadata", request.metadata)}"overagePolicy":${
    text(request.overagePolicy)
  },"subject":${subjectJson(request.subject)},"tenant":${text(request.tenant)},"ttlMs":${text(request.ttlMs)}}`

/** `requestFingerprint` of a decoded decide request. */
export const decideFingerprint = (request: DecideRequest): string =>
  `{"action":${actionJson(request.action)},"estimate":${amountJson(request.estimate)},"subject":${
    subjectJson(request.subject)
  },"tenant":${text(request.tenant)}}`

/** `requestFingerprint` of a decoded event request. */
export const eventFingerprint = (request: EventRequest): string =>
  `{"action":${actionJson(request.action)},"actual":${amountJson(request.actual)},${
    optionalField("metadata", request.metadata)
  }"overagePolicy":${text(request.overagePolicy)},"subject":${subjectJson(request.subject)},"tenant":${
    text(request.tenant)
  }}`

/** `requestFingerprint` of a decoded commit request. */
export const commitFingerprint = (request: CommitRequest): string =>
  `{"actual":${amountJson(request.actual)},${optionalField("metadata", request.metadata)}"reservationId":${
    text(request.reservationId)
  },"tenant":${text(request.tenant)}}`

/** `requestFingerprint` of a decoded release request. */
export const releaseFingerprint = (request: ReleaseRequest): string =>
  `{${optionalField("reason", request.reason)}"reservationId":${text(request.reservationId)},"tenant":${
    text(request.tenant)
  }}`

/** `requestFingerprint` of a decoded extend request. */
export const extendFingerprint = (request: ExtendRequest): string =>
  `{"extendByMs":${text(request.extendByMs)},"reservationId":${text(request.reservationId)},"tenant":${
    text(request.tenant)
  }}`
