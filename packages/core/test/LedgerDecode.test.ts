/**
 * The ledger's fast path for its hot requests (`internal/ledger/decode.ts`,
 * the hand-written fingerprints in `internal/ledger/fingerprint.ts`) must
 * agree with the Schemas and the generic fingerprint it skips: on seeded
 * random requests, mostly well formed and the rest broken in one of many
 * ways, whenever the fast check accepts a request the Schema decodes it to
 * the same value (same keys, same order), and never fails it; the fast
 * fingerprint of every decoded request equals `fingerprint`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { Ledger } from "../src/index.ts"
import * as Decode from "../src/internal/ledger/decode.ts"
import * as Fingerprint from "../src/internal/ledger/fingerprint.ts"
import { prng, type Random } from "./random.ts"

/** Values that break some field somewhere (or, by luck, fit it). */
const oddities: ReadonlyArray<unknown> = [
  undefined,
  null,
  "",
  " ",
  "é",
  "a/b",
  "a:b",
  "x".repeat(129),
  "x".repeat(257),
  "x".repeat(1025),
  0,
  -1,
  -0,
  1.5,
  999,
  1_000,
  60_001,
  86_400_001,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  -5n,
  2n ** 63n,
  2n ** 63n - 1n,
  "9223372036854775807",
  "9223372036854775808",
  "007",
  "-5",
  "1e3",
  true,
  false,
  [],
  ["a"],
  {},
  { tenant: "acme" },
  new String("acme"),
  Object.create({ inherited: "x" }),
  "TOKENS",
  "REJECT"
]

const levelValue = (random: Random) => random.pick(["acme", "a.b_c-1", "x".repeat(128), "support", "bot", "T0", "1"])

const randomSubject = (random: Random): Record<string, unknown> => {
  const value: Record<string, unknown> = {}
  for (const level of ["tenant", "workspace", "app", "workflow", "agent", "toolset"]) {
    if (random.chance(0.45)) value[level] = levelValue(random)
  }
  if (random.chance(0.15)) value.dimensions = record(random, 3)
  if (random.chance(0.05)) value.extra = "ignored"
  return value
}

const record = (random: Random, size: number): Record<string, unknown> => {
  const value: Record<string, unknown> = {}
  for (let i = 0; i < random.int(0, size); i++) {
    value[random.pick(["b", "a", "10", "2", "Z", "key with space", "ü"])] = random.pick(["v", "", "x".repeat(40)])
  }
  return value
}

const amount = (random: Random): unknown => ({
  unit: random.pick(["TOKENS", "USD_MICROCENTS", "CREDITS", "RISK_POINTS"]),
  amount: random.pick<unknown>([0n, 5n, 1_000_000n, 2n ** 62n, 0, 7, 123_456, "0", "42", "9223372036854775807"])
})

const randomAction = (random: Random): unknown => {
  const value: Record<string, unknown> = { kind: random.pick(["llm.completion", "tool", "k".repeat(64)]), name: "m" }
  if (random.chance(0.2)) value.tags = random.pick([[], ["a"], ["a", "b"], Array.from({ length: 10 }, () => "t")])
  return value
}

const optionalFields = {
  ttlMs: [1_000, 60_000, 86_400_000],
  graceMs: [0, 5_000, 60_000],
  overagePolicy: ["REJECT", "ALLOW_IF_AVAILABLE", "ALLOW_WITH_OVERDRAFT"],
  dryRun: [true, false],
  idempotencyKey: ["k", "key-1", "x".repeat(256)],
  extendByMs: [1, 1_000, 86_400_000],
  reason: ["", "done", "x".repeat(256)],
  unit: ["TOKENS", "USD_MICROCENTS"],
  includeChildren: [true, false],
  limit: [1, 50, 200],
  cursor: ["tenant:a#TOKENS", "x".repeat(1024)]
} as const

/** A well-formed request of each kind (the fields each Schema knows). */
const wellFormed = (random: Random, kind: Kind): Record<string, unknown> => {
  const tenant = levelValue(random)
  const own = { tenant, subject: random.chance(0.8) ? { ...randomSubject(random), tenant } : randomSubject(random) }
  const maybe = (name: keyof typeof optionalFields, into: Record<string, unknown>) => {
    if (random.chance(0.5)) into[name] = random.pick<unknown>(optionalFields[name])
  }
  const maybeMetadata = (into: Record<string, unknown>) => {
    if (random.chance(0.2)) into.metadata = record(random, 4)
  }
  const value: Record<string, unknown> = { tenant }
  switch (kind) {
    case "reserve":
      Object.assign(value, own, { action: randomAction(random), estimate: amount(random) })
      for (const name of ["ttlMs", "graceMs", "overagePolicy", "dryRun", "idempotencyKey"] as const) maybe(name, value)
      maybeMetadata(value)
      break
    case "decide":
      Object.assign(value, own, { action: randomAction(random), estimate: amount(random) })
      maybe("idempotencyKey", value)
      break
    case "event":
      Object.assign(value, own, { action: randomAction(random), actual: amount(random) })
      maybe("overagePolicy", value)
      maybe("idempotencyKey", value)
      maybeMetadata(value)
      break
    case "commit":
      Object.assign(value, { reservationId: "rsv_1", actual: amount(random) })
      maybe("idempotencyKey", value)
      maybeMetadata(value)
      break
    case "release":
      value.reservationId = "rsv_acme_12"
      maybe("idempotencyKey", value)
      maybe("reason", value)
      break
    case "extend":
      Object.assign(value, { reservationId: "rsv_2", extendByMs: random.pick(optionalFields.extendByMs) })
      maybe("idempotencyKey", value)
      break
    case "balances":
      Object.assign(value, own)
      for (const name of ["unit", "includeChildren", "limit", "cursor"] as const) maybe(name, value)
      break
    case "getReservation":
      value.reservationId = random.pick(["rsv_1", "x".repeat(256)])
      break
  }
  if (random.chance(0.05)) value.unknownField = 1
  return value
}

/** Breaks one field somewhere in `value` (top level or one level down), or deletes it. */
const breakOne = (random: Random, value: Record<string, unknown>): Record<string, unknown> => {
  const keys = Object.keys(value)
  const key = random.pick(keys.length > 0 ? keys : ["tenant"])
  const inner = value[key]
  if (inner !== null && typeof inner === "object" && !Array.isArray(inner) && random.chance(0.5)) {
    const innerKeys = Object.keys(inner)
    const innerKey = random.pick(innerKeys.length > 0 ? innerKeys : ["tenant", "unit", "kind"])
    const copy: Record<string, unknown> = { ...(inner as Record<string, unknown>) }
    if (random.chance(0.2)) delete copy[innerKey]
    else copy[innerKey] = random.pick(oddities)
    return { ...value, [key]: copy }
  }
  const copy = { ...value }
  if (random.chance(0.2)) delete copy[key]
  else copy[key] = random.pick(oddities)
  return copy
}

type Kind = "reserve" | "decide" | "event" | "commit" | "release" | "extend" | "balances" | "getReservation"

const cases = {
  reserve: { schema: Ledger.ReserveRequest, fast: Decode.reserveRequest, print: Fingerprint.reserveFingerprint },
  decide: { schema: Ledger.DecideRequest, fast: Decode.decideRequest, print: Fingerprint.decideFingerprint },
  event: { schema: Ledger.EventRequest, fast: Decode.eventRequest, print: Fingerprint.eventFingerprint },
  commit: { schema: Ledger.CommitRequest, fast: Decode.commitRequest, print: Fingerprint.commitFingerprint },
  release: { schema: Ledger.ReleaseRequest, fast: Decode.releaseRequest, print: Fingerprint.releaseFingerprint },
  extend: { schema: Ledger.ExtendRequest, fast: Decode.extendRequest, print: Fingerprint.extendFingerprint },
  balances: { schema: Ledger.BalancesRequest, fast: Decode.balancesRequest, print: undefined },
  getReservation: { schema: Ledger.GetReservationRequest, fast: Decode.getReservationRequest, print: undefined }
} as const

/** The key order of a value, all the way down. */
const shape = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(shape)
    : value !== null && typeof value === "object"
    ? Object.entries(value).map(([key, item]) => [key, shape(item)])
    : typeof value

describe("Ledger fast decoding", () => {
  for (const kind of Object.keys(cases) as Array<Kind>) {
    it(`${kind}: the fast check agrees with the Schema, the fast fingerprint with fingerprint`, () => {
      const { schema, fast, print } = cases[kind]
      const decode = Schema.decodeUnknownExit(schema as Schema.Codec<unknown, unknown>)
      const random = prng(kind.length * 7919)
      let accepted = 0
      let valid = 0
      for (let i = 0; i < 4_000; i++) {
        let input: unknown = wellFormed(random, kind)
        if (random.chance(0.5)) input = breakOne(random, input as Record<string, unknown>)
        if (random.chance(0.1)) input = breakOne(random, input as Record<string, unknown>)
        if (random.chance(0.01)) input = random.pick(oddities)
        const slow = decode(input)
        const quick = (fast as (input: unknown) => unknown)(input)
        if (Exit.isSuccess(slow)) {
          valid++
          const decoded = slow.value
          if (print !== undefined) {
            assert.strictEqual(
              (print as (request: unknown) => string)(decoded),
              Fingerprint.requestFingerprint(decoded as object),
              `fingerprint of ${Fingerprint.fingerprint(decoded)}`
            )
            assert.notInclude((print as (request: unknown) => string)(decoded), "idempotencyKey")
          }
        }
        if (quick === undefined) continue
        accepted++
        assert.isTrue(Exit.isSuccess(slow), `the fast check accepted what the Schema rejects: ${String(input)}`)
        if (Exit.isSuccess(slow)) {
          assert.deepStrictEqual(quick, slow.value)
          assert.deepStrictEqual(shape(quick), shape(slow.value))
          assert.strictEqual(Fingerprint.fingerprint(quick), Fingerprint.fingerprint(slow.value))
        }
      }
      // most well-formed requests take the fast path; the broken ones exercise the fallback
      assert.isAbove(valid, 1_000)
      assert.isAbove(accepted, valid * 0.9, `${accepted} of ${valid} valid ${kind} requests took the fast path`)
    })
  }

  it("the fast check copies what it returns (a caller mutating its request later changes nothing)", () => {
    const subject = { tenant: "acme", app: "support", dimensions: { region: "eu" } }
    const action = { kind: "llm.completion", name: "m", tags: ["a"] }
    const metadata = { run: "1" }
    const estimate = { unit: "TOKENS", amount: 5n } as const
    const request = Decode.reserveRequest({ tenant: "acme", subject, action, estimate, metadata })!
    assert.notStrictEqual(request.subject, subject)
    assert.notStrictEqual(request.subject.dimensions, subject.dimensions)
    assert.notStrictEqual(request.action, action)
    assert.notStrictEqual(request.action.tags, action.tags)
    assert.notStrictEqual(request.metadata, metadata)
    assert.notStrictEqual(request.estimate, estimate)
  })

  it("falls back to the Schema on exotic input: present-but-undefined keys, records with symbols or a prototype", () => {
    const base = {
      tenant: "acme",
      subject: { tenant: "acme" },
      action: { kind: "k", name: "n" },
      estimate: { unit: "TOKENS", amount: 5n }
    }
    assert.isDefined(Decode.reserveRequest(base))
    assert.isUndefined(Decode.reserveRequest({ ...base, ttlMs: undefined }))
    assert.isUndefined(Decode.reserveRequest({ ...base, idempotencyKey: undefined }))
    assert.isUndefined(Decode.reserveRequest({ ...base, metadata: { [Symbol("s")]: "x" } }))
    assert.isUndefined(
      Decode.reserveRequest({ ...base, metadata: Object.assign(Object.create({ a: "1" }), { b: "2" }) })
    )
    assert.isUndefined(Decode.reserveRequest({ ...base, subject: {} }))
  })
})
