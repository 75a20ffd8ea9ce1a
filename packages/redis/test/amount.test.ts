import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Redis from "effect/persistence/Redis"
import { inject } from "vitest"
import { amountLua } from "../src/internal/amount.ts"

// One tiny script that applies one helper to its arguments, so the helpers run
// inside the real Redis Lua interpreter (doubles only).
const calculate = Redis.script((operation: string, a: string, b: string) => [operation, a, b], {
  numberOfKeys: 0,
  lua: `${amountLua}
local operation = ARGV[1]
local a = amount_parse(ARGV[2])
local b = amount_parse(ARGV[3])
if a == nil or b == nil then return "invalid" end
if operation == "add" then
  local sum = amount_add(a, b)
  if not amount_fits(sum) then return "overflow" end
  return amount_string(sum)
elseif operation == "sub" then
  local difference = amount_sub(a, b)
  if not amount_fits(difference) then return "overflow" end
  return amount_string(difference)
elseif operation == "cmp" then
  return tostring(amount_cmp(a, b))
elseif operation == "min" then
  return amount_string(amount_min(a, b))
elseif operation == "max" then
  return amount_string(amount_max(a, b))
elseif operation == "echo" then
  return amount_string(a)
end
return "unknown"
`
}).withReturnType<string>()

// The same over the hot scripts' form (`amt_*`): numbers below 10^15, pairs above. Each result
// also reports its form, which must be a number exactly when it is below 10^15 in magnitude.
const calculateFast = Redis.script((operation: string, a: string, b: string) => [operation, a, b], {
  numberOfKeys: 0,
  lua: `${amountLua}
local operation = ARGV[1]
local a = amt_parse(ARGV[2])
local b = amt_parse(ARGV[3])
local function show(x)
  if type(x) == "number" then return "n:" .. amt_str(x) end
  return "p:" .. amt_str(x)
end
if operation == "add" then
  local sum = amt_add(a, b)
  if type(sum) == "table" and not amount_fits(sum) then return "overflow" end
  return show(sum)
elseif operation == "sub" then
  local difference = amt_sub(a, b)
  if type(difference) == "table" and not amount_fits(difference) then return "overflow" end
  return show(difference)
elseif operation == "cmp" then
  return tostring(amt_cmp(a, b))
elseif operation == "min" then
  return show(amt_min(a, b))
elseif operation == "max" then
  return show(amt_max(a, b))
elseif operation == "neg" then
  local negated = amt_neg(a)
  if type(negated) == "table" and not amount_fits(negated) then return "overflow" end
  return show(negated)
elseif operation == "echo" then
  return show(a)
end
return "unknown"
`
}).withReturnType<string>()

const MAX = 2n ** 63n - 1n
const MIN = -(2n ** 63n)
const SAFE = 2n ** 53n

const inRange = (value: bigint) => value >= MIN && value <= MAX

// Values around 2^53 (where doubles stop being exact), 10^9 (the limb
// boundary) and 2^63−1, and a few ordinary ones.
const samples: ReadonlyArray<bigint> = [
  0n,
  1n,
  7n,
  999_999_999n,
  1_000_000_000n,
  1_000_000_001n,
  SAFE - 1n,
  SAFE,
  SAFE + 1n,
  SAFE + 3n,
  10n ** 18n,
  MAX - 1_000_000_000n,
  MAX - 1n,
  MAX,
  -1n,
  -(SAFE + 1n),
  MIN + 1n,
  MIN
]

layer(NodeRedis.layer({ url: inject("redisUrl") }), { excludeTestServices: true })(
  "amount (Lua, exact int64)",
  (it) => {
    it.effect("parses and prints every sample exactly, with leading zeros dropped", () =>
      Effect.gen(function*() {
        const run = (yield* Redis.Redis).eval(calculate)
        for (const a of samples) {
          assert.strictEqual(yield* run("echo", a.toString(), "0"), a.toString())
        }
        assert.strictEqual(yield* run("echo", "000009007199254740993", "0"), "9007199254740993")
        assert.strictEqual(yield* run("echo", "-0", "0"), "0")
      }))

    it.effect("rejects what is not an int64 decimal string", () =>
      Effect.gen(function*() {
        const run = (yield* Redis.Redis).eval(calculate)
        for (
          const bad of [
            "9223372036854775808",
            "-9223372036854775809",
            "12345678901234567890",
            "1.5",
            "1e3",
            "x",
            " 1",
            "",
            "-",
            "+1"
          ]
        ) {
          assert.strictEqual(yield* run("echo", bad, "0"), "invalid", bad)
        }
      }))

    it.effect("add, sub, cmp, min and max agree with bigint on every pair of samples", () =>
      Effect.gen(function*() {
        const run = (yield* Redis.Redis).eval(calculate)
        for (const a of samples) {
          for (const b of samples) {
            const [x, y] = [a.toString(), b.toString()]
            const sum = a + b
            const difference = a - b
            assert.strictEqual(yield* run("add", x, y), inRange(sum) ? sum.toString() : "overflow", `${x} + ${y}`)
            assert.strictEqual(
              yield* run("sub", x, y),
              inRange(difference) ? difference.toString() : "overflow",
              `${x} - ${y}`
            )
            assert.strictEqual(yield* run("cmp", x, y), a < b ? "-1" : a > b ? "1" : "0", `${x} cmp ${y}`)
            assert.strictEqual(yield* run("min", x, y), (a < b ? a : b).toString(), `min(${x}, ${y})`)
            assert.strictEqual(yield* run("max", x, y), (a > b ? a : b).toString(), `max(${x}, ${y})`)
          }
        }
      }))

    it.effect("the hot form (numbers below 10^15, pairs above) agrees with bigint on every pair of samples", () =>
      Effect.gen(function*() {
        const run = (yield* Redis.Redis).eval(calculateFast)
        const SMALL = 10n ** 15n
        const shown = (value: bigint) => `${value > -SMALL && value < SMALL ? "n" : "p"}:${value}`
        const fast = [
          ...samples,
          SMALL - 1n,
          SMALL,
          SMALL + 1n,
          -(SMALL - 1n),
          -SMALL,
          SMALL - 1_000_000_000n,
          -SMALL + 1_000_000_000n,
          -SMALL + 1_000_000_001n,
          4n * SMALL
        ]
        for (const a of fast) {
          assert.strictEqual(yield* run("echo", a.toString(), "0"), shown(a), `echo ${a}`)
          assert.strictEqual(yield* run("neg", a.toString(), "0"), inRange(-a) ? shown(-a) : "overflow", `neg ${a}`)
          for (const b of fast) {
            const [x, y] = [a.toString(), b.toString()]
            const sum = a + b
            const difference = a - b
            assert.strictEqual(yield* run("add", x, y), inRange(sum) ? shown(sum) : "overflow", `${x} + ${y}`)
            assert.strictEqual(
              yield* run("sub", x, y),
              inRange(difference) ? shown(difference) : "overflow",
              `${x} - ${y}`
            )
            assert.strictEqual(yield* run("cmp", x, y), a < b ? "-1" : a > b ? "1" : "0", `${x} cmp ${y}`)
            assert.strictEqual(yield* run("min", x, y), shown(a < b ? a : b), `min(${x}, ${y})`)
            assert.strictEqual(yield* run("max", x, y), shown(a > b ? a : b), `max(${x}, ${y})`)
          }
        }
      }))

    it.effect("2^53 + 1 survives where a double would round it", () =>
      Effect.gen(function*() {
        const run = (yield* Redis.Redis).eval(calculate)
        assert.strictEqual(yield* run("add", SAFE.toString(), "1"), "9007199254740993")
        assert.strictEqual(yield* run("sub", MAX.toString(), (SAFE + 1n).toString()), (MAX - SAFE - 1n).toString())
        assert.strictEqual(yield* run("cmp", (SAFE + 1n).toString(), SAFE.toString()), "1")
        assert.strictEqual(yield* run("add", (MAX - 1n).toString(), "1"), MAX.toString())
        assert.strictEqual(yield* run("add", MAX.toString(), "1"), "overflow")
      }))
  }
)
