/**
 * The store's fast decoding of script answers (`internal/answers.ts`) must
 * agree with the answer Schemas it skips: on seeded random answers, mostly
 * well formed and the rest broken in one of many ways, whenever the fast
 * path returns a value the Schema decodes the same JSON to the same value
 * (same keys in the same order), and it never accepts what the Schema
 * rejects.
 */
import { assert, describe, it } from "@effect/vitest"
import { Ledger } from "@timebox/core"
import { Exit, Schema } from "effect"
import * as Answers from "../src/internal/answers.ts"

/** mulberry32. */
const prng = (seed: number) => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!
  return { pick, chance: (p: number) => next() < p }
}

type Random = ReturnType<typeof prng>

const amounts = ["0", "7", "420000", "9223372036854775807", 5, 0]
const signedAmounts = [...amounts, "-1", "-9223372036854775808", -3]
const oddities: ReadonlyArray<unknown> = [
  null,
  "",
  "x",
  "-0",
  "9223372036854775808",
  "-9223372036854775809",
  "1.5",
  " 1",
  1.5,
  -1,
  2 ** 53,
  true,
  [],
  {},
  ["a", 1],
  "TOKENS",
  "allow",
  "committed",
  "budget-exceeded"
]

const amount = (random: Random) => ({
  unit: random.pick(["TOKENS", "USD_MICROCENTS", "CREDITS", "RISK_POINTS"]),
  amount: random.pick(amounts)
})

const balance = (random: Random) => ({
  scope: random.pick(["tenant:a", "tenant:a/app:b"]),
  unit: random.pick(["TOKENS", "USD_MICROCENTS"]),
  status: random.pick(["active", "frozen", "closed"]),
  allocated: random.pick(amounts),
  spent: random.pick(amounts),
  reserved: random.pick(amounts),
  debt: random.pick(amounts),
  overdraftLimit: random.pick(amounts),
  remaining: random.pick(signedAmounts),
  isOverLimit: random.chance(0.5),
  ...(random.chance(0.05) ? { extra: 1 } : {})
})

const balances = (random: Random) => Array.from({ length: random.pick([0, 1, 3]) }, () => balance(random))

const wellFormed = (random: Random, kind: Kind): Record<string, unknown> => {
  switch (kind) {
    case "reserve":
      return {
        decision: random.pick(["allow", "deny"]),
        ...(random.chance(0.7) ? { reservationId: "rsv_a_1" } : {}),
        ...(random.chance(0.7) ? { reserved: amount(random) } : {}),
        ...(random.chance(0.7) ? { expiresAtMs: random.pick([60_000, 1_764_000_000_000]) } : {}),
        ...(random.chance(0.3) ? { reasonCode: random.pick(["budget-exceeded", "budget-not-found"]) } : {}),
        scopePath: "tenant:a",
        affectedScopes: random.pick([[], ["tenant:a"], ["tenant:a", "tenant:a/app:b"]]),
        balances: balances(random)
      }
    case "commit":
      return {
        status: "committed",
        reservationId: "rsv_a_2",
        charged: amount(random),
        released: amount(random),
        balances: balances(random)
      }
    case "release":
      return { status: "released", reservationId: "rsv_a_3", released: amount(random), balances: balances(random) }
    case "extend":
      return {
        status: "active",
        reservationId: "rsv_a_4",
        expiresAtMs: 120_000,
        extensions: random.pick([1, 10]),
        balances: balances(random)
      }
    case "decide":
      return {
        decision: random.pick(["allow", "deny"]),
        ...(random.chance(0.4) ? { reasonCode: random.pick(["debt-outstanding", "budget-frozen"]) } : {}),
        affectedScopes: ["tenant:a"]
      }
    case "event":
      return { status: "applied", eventId: "evt_a_5", charged: amount(random), balances: balances(random) }
  }
}

/** Replaces or deletes one value somewhere in a JSON value (any depth). */
const breakOne = (random: Random, value: unknown): unknown => {
  if (Array.isArray(value)) {
    if (value.length === 0 || random.chance(0.2)) return random.pick(oddities)
    const copy = value.slice()
    const index = Math.floor(random.chance(0.5) ? 0 : copy.length - 1)
    copy[index] = breakOne(random, copy[index])
    return copy
  }
  if (value !== null && typeof value === "object") {
    const copy: Record<string, unknown> = { ...value }
    const keys = Object.keys(copy)
    if (keys.length === 0 || random.chance(0.1)) return random.pick(oddities)
    const key = random.pick(keys)
    if (random.chance(0.2)) delete copy[key]
    else copy[key] = breakOne(random, copy[key])
    return copy
  }
  return random.pick(oddities)
}

type Kind = "reserve" | "commit" | "release" | "extend" | "decide" | "event"

const cases = {
  reserve: { schema: Ledger.ReserveAnswer, fast: Answers.reserveAnswer },
  commit: { schema: Ledger.CommitAnswer, fast: Answers.commitAnswer },
  release: { schema: Ledger.ReleaseAnswer, fast: Answers.releaseAnswer },
  extend: { schema: Ledger.ExtendAnswer, fast: Answers.extendAnswer },
  decide: { schema: Ledger.DecideAnswer, fast: Answers.decideAnswer },
  event: { schema: Ledger.EventAnswer, fast: Answers.eventAnswer }
} as const

const shape = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(shape)
    : value !== null && typeof value === "object"
    ? Object.entries(value).map(([key, item]) => [key, shape(item)])
    : typeof value

describe("RedisLedgerStore fast answer decoding", () => {
  for (const kind of Object.keys(cases) as Array<Kind>) {
    it(`${kind}: agrees with the answer Schema`, () => {
      const { fast, schema } = cases[kind]
      const decode = Schema.decodeUnknownExit(Schema.fromJsonString(schema as Schema.Codec<unknown, unknown>))
      const random = prng(kind.length * 104_729)
      let valid = 0
      let accepted = 0
      for (let i = 0; i < 3_000; i++) {
        let value: unknown = wellFormed(random, kind)
        if (random.chance(0.5)) value = breakOne(random, value)
        const json = JSON.stringify(value)
        const slow = decode(json)
        const quick = (fast as (parsed: unknown) => unknown)(JSON.parse(json))
        if (Exit.isSuccess(slow)) valid++
        if (quick === undefined) continue
        accepted++
        assert.isTrue(Exit.isSuccess(slow), `the fast path accepted what the Schema rejects: ${json}`)
        if (Exit.isSuccess(slow)) {
          assert.deepStrictEqual(quick, slow.value)
          assert.deepStrictEqual(shape(quick), shape(slow.value))
        }
      }
      assert.isAbove(valid, 1_000)
      assert.strictEqual(accepted, valid, "every answer the Schema accepts takes the fast path")
    })
  }
})
