/**
 * The store builds each hot answer from the script's compact text and the
 * request (`internal/answers.ts`). On seeded random answers, written here in
 * the format the scripts use, the built answer must equal the expected one,
 * with the keys in the order the answer Schema decodes them; on texts broken
 * in one of many ways, the store must either refuse (`undefined`, which
 * becomes `StoreUnavailable`) or build an answer its Schema accepts, never
 * anything else.
 */
import { assert, describe, it } from "@effect/vitest"
import { Ledger, type LedgerStore } from "@timebox/core"
import { Exit, Schema } from "effect"
import { prng, type Random } from "timebox-test/random"
import * as Answers from "../src/internal/answers.ts"

const MAX = 2n ** 63n - 1n
const amounts = [0n, 7n, 420_000n, 2n ** 53n + 1n, 2n ** 62n, MAX]
const oddities = ["", "x", "-1", "-0", "01", "1.5", " 1", "9223372036854775808", "TOKENS", "allow", "\n", "1e3"]
const scopeSets: ReadonlyArray<ReadonlyArray<string>> = [["tenant:a"], ["tenant:a", "tenant:a/app:b"], [
  "tenant:a",
  "tenant:a/app:b",
  "tenant:a/app:b/agent:c"
]]

interface Budget {
  readonly scope: string
  readonly status: Ledger.BudgetStatus
  readonly allocated: bigint
  readonly spent: bigint
  readonly reserved: bigint
  readonly debt: bigint
  readonly overdraftLimit: bigint
  readonly isOverLimit: boolean
}

const budget = (random: Random): Budget => ({
  scope: random.pick(["tenant:a", "tenant:a/app:b"]),
  status: random.pick(["active", "frozen", "closed"] as const),
  allocated: random.pick(amounts),
  spent: random.pick(amounts),
  reserved: random.pick(amounts),
  debt: random.pick(amounts),
  overdraftLimit: random.pick(amounts),
  isOverLimit: random.chance(0.5)
})

/** The eight snapshot fields of a budget, as `hot_snapshot` writes them. */
const snapshotFields = (b: Budget): Array<string> => [
  b.scope,
  b.status,
  String(b.allocated),
  String(b.spent),
  String(b.reserved),
  String(b.debt),
  String(b.overdraftLimit),
  b.isOverLimit ? "1" : "0"
]

/** The balance the Schema decodes for a snapshot (remaining computed), or undefined when out of range. */
const balanceOf = (b: Budget, unit: Ledger.Unit): Ledger.Balance => ({
  scope: b.scope,
  unit,
  status: b.status,
  allocated: b.allocated,
  spent: b.spent,
  reserved: b.reserved,
  debt: b.debt,
  overdraftLimit: b.overdraftLimit,
  remaining: b.allocated - b.spent - b.reserved - b.debt,
  isOverLimit: b.isOverLimit
})

const inSignedRange = (b: Budget) => b.allocated - b.spent - b.reserved - b.debt >= -(2n ** 63n)

interface Case {
  readonly fields: Array<string>
  readonly command: unknown
  readonly expected: unknown
}

const unit = (random: Random): Ledger.Unit => random.pick(["TOKENS", "USD_MICROCENTS", "CREDITS", "RISK_POINTS"])

const wellFormed = (random: Random, kind: Kind): Case => {
  const budgets = Array.from({ length: random.pick([1, 2, 3]) }, () => budget(random)).filter(inSignedRange)
  const snapshots = budgets.flatMap(snapshotFields)
  const u = unit(random)
  const balances = budgets.map((b) => balanceOf(b, u))
  switch (kind) {
    case "reserve": {
      const scopes = random.pick(scopeSets)
      const estimate = { unit: u, amount: random.pick(amounts) }
      const command = { tenant: "a", estimate, scopes }
      const base = { scopePath: scopes.at(-1)!, affectedScopes: scopes, balances }
      switch (random.int(0, 2)) {
        case 0:
          return {
            fields: ["allow", "", "rsv_a_1", "1764000060000", ...snapshots],
            command,
            expected: {
              decision: "allow",
              reservationId: "rsv_a_1",
              reserved: estimate,
              expiresAtMs: 1_764_000_060_000,
              ...base
            }
          }
        case 1:
          return { fields: ["allow", "", "", "", ...snapshots], command, expected: { decision: "allow", ...base } }
        default: {
          const reasonCode = random.pick(["budget-exceeded", "debt-outstanding", "budget-frozen"] as const)
          return {
            fields: ["deny", reasonCode, "", "", ...snapshots],
            command,
            expected: { decision: "deny", reasonCode, ...base }
          }
        }
      }
    }
    case "commit": {
      const [charged, released] = [random.pick(amounts), random.pick(amounts)]
      return {
        fields: [String(charged), String(released), ...snapshots],
        command: { tenant: "a", reservationId: "rsv_a_2", actual: { unit: u, amount: 1n } },
        expected: {
          status: "committed",
          reservationId: "rsv_a_2",
          charged: { unit: u, amount: charged },
          released: { unit: u, amount: released },
          balances
        }
      }
    }
    case "release": {
      const released = random.pick(amounts)
      return {
        fields: [String(released), u, ...snapshots],
        command: { tenant: "a", reservationId: "rsv_a_3" },
        expected: { status: "released", reservationId: "rsv_a_3", released: { unit: u, amount: released }, balances }
      }
    }
    case "extend": {
      const extensions = random.pick([1, 10])
      return {
        fields: ["120000", String(extensions), u, ...snapshots],
        command: { tenant: "a", reservationId: "rsv_a_4" },
        expected: { status: "active", reservationId: "rsv_a_4", expiresAtMs: 120_000, extensions, balances }
      }
    }
    case "decide": {
      const scopes = random.pick(scopeSets)
      const reasonCode = random.pick(["", "debt-outstanding", "budget-not-found"] as const)
      const decision = reasonCode === "" ? random.pick(["allow", "deny"] as const) : "deny"
      return {
        fields: [decision, reasonCode],
        command: { tenant: "a", scopes },
        expected: reasonCode === ""
          ? { decision, affectedScopes: scopes }
          : { decision, reasonCode, affectedScopes: scopes }
      }
    }
    case "event": {
      const charged = random.pick(amounts)
      return {
        fields: ["evt_a_5", String(charged), ...snapshots],
        command: { tenant: "a", actual: { unit: u, amount: 3n } },
        expected: { status: "applied", eventId: "evt_a_5", charged: { unit: u, amount: charged }, balances }
      }
    }
  }
}

/** Breaks one field: replaced by an oddity, dropped, or one more added. */
const breakOne = (random: Random, fields: Array<string>): Array<string> => {
  const copy = fields.slice()
  const at = random.int(0, copy.length)
  const roll = random.int(0, 2)
  if (roll === 0 && at < copy.length) copy[at] = random.pick(oddities)
  else if (roll === 1 && at < copy.length) copy.splice(at, 1)
  else copy.splice(at, 0, random.pick(oddities))
  return copy
}

type Kind = "reserve" | "commit" | "release" | "extend" | "decide" | "event"

type Build = (text: string, command: never) => unknown

const cases: Record<Kind, { readonly schema: Schema.Codec<unknown, unknown>; readonly build: Build }> = {
  reserve: { schema: Ledger.ReserveAnswer as Schema.Codec<unknown, unknown>, build: Answers.reserveAnswer },
  commit: { schema: Ledger.CommitAnswer as Schema.Codec<unknown, unknown>, build: Answers.commitAnswer },
  release: { schema: Ledger.ReleaseAnswer as Schema.Codec<unknown, unknown>, build: Answers.releaseAnswer },
  extend: { schema: Ledger.ExtendAnswer as Schema.Codec<unknown, unknown>, build: Answers.extendAnswer },
  decide: { schema: Ledger.DecideAnswer as Schema.Codec<unknown, unknown>, build: Answers.decideAnswer },
  event: { schema: Ledger.EventAnswer as Schema.Codec<unknown, unknown>, build: Answers.eventAnswer }
}

/** Keys in order, at every depth: the shape `deepStrictEqual` does not compare. */
const shape = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(shape)
    : value !== null && typeof value === "object"
    ? Object.entries(value).map(([key, item]) => [key, shape(item)])
    : typeof value

describe("RedisLedgerStore compact answers", () => {
  for (const kind of Object.keys(cases) as Array<Kind>) {
    it(`${kind}: builds the expected answer, as its Schema decodes it, or refuses a broken text`, () => {
      const { build, schema } = cases[kind]
      const encode = Schema.encodeUnknownExit(schema)
      const decode = Schema.decodeUnknownExit(schema)
      /** The answer as the Schema decodes its own encoding: a valid value, keys in the Schema's order. */
      const canonical = (value: unknown) => {
        const encoded = encode(value)
        return Exit.isSuccess(encoded) ? decode(encoded.value) : encoded
      }
      const random = prng(kind.length * 104_729)
      let refused = 0
      for (let i = 0; i < 3_000; i++) {
        const { command, expected, fields } = wellFormed(random, kind)
        const built = (build as (text: string, command: unknown) => unknown)(fields.join(Answers.TAB), command)
        assert.deepStrictEqual(built, expected, fields.join(" | "))
        const decoded = canonical(built)
        assert.isTrue(Exit.isSuccess(decoded), `the Schema rejects ${fields.join(" | ")}`)
        if (Exit.isSuccess(decoded)) assert.deepStrictEqual(shape(built), shape(decoded.value))

        const broken = breakOne(random, fields)
        const fromBroken = (build as (text: string, command: unknown) => unknown)(broken.join(Answers.TAB), command)
        if (fromBroken === undefined) refused++
        else assert.isTrue(Exit.isSuccess(canonical(fromBroken)), `accepted an invalid answer: ${broken.join(" | ")}`)
      }
      assert.isAbove(refused, 1_000, "broken texts are refused")
    })
  }

  it("amountValue reads exactly the canonical decimals from 0 to 2^63 - 1", () => {
    const reference = (text: string): bigint | undefined =>
      /^(?:0|[1-9]\d{0,18})$/.test(text) && BigInt(text) <= MAX ? BigInt(text) : undefined
    const random = prng(90_001)
    const alphabet = ["0", "1", "5", "9", "0", "7", "-", "+", " ", ".", "e", "x", "٣", "１"]
    const texts = ["", "0", "00", "01", "9", "10", String(MAX), String(MAX + 1n), "999999999999999", "1000000000000000"]
    for (let i = 0; i < 20_000; i++) {
      const length = random.int(1, 21)
      let text = ""
      for (let j = 0; j < length; j++) text += random.chance(0.85) ? String(random.int(0, 9)) : random.pick(alphabet)
      texts.push(text)
    }
    for (const text of texts) assert.strictEqual(Answers.amountValue(text), reference(text), JSON.stringify(text))
    // twice: the second read of a long amount comes from the memory of recent ones
    for (const text of texts) assert.strictEqual(Answers.amountValue(text), reference(text), JSON.stringify(text))
  })

  it("a snapshot whose remaining would fall below -2^63 is refused", () => {
    const command = { tenant: "a", reservationId: "rsv_a_2", actual: { unit: "TOKENS", amount: 1n } }
    const text = ["0", "0", "tenant:a", "active", "0", String(MAX), String(MAX), "0", "0", "0"].join(Answers.TAB)
    assert.isUndefined(Answers.commitAnswer(text, command as unknown as LedgerStore.CommitCommand))
  })
})
