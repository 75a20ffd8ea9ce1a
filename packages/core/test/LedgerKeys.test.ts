/**
 * The memory store's table of idempotency keys (`internal/ledger/keys.ts`)
 * and the chunked lists under it (`internal/ledger/chunked.ts`) against
 * plain `Map`s and arrays: seeded random sets, gets and `forget`s, across
 * many growths of the table and rebuilds after deletions, in tables large
 * enough that the hash tag kept in a slot shrinks to 12 bits (so tags
 * collide and the key strings decide).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunked from "../src/internal/ledger/chunked.ts"
import * as Keys from "../src/internal/ledger/keys.ts"
import { prng } from "./random.ts"

interface Value {
  readonly key: string
  readonly atMs: number
  readonly pinned: boolean
}

/** Checks every key the model knows, plus some it never saw, and the table's count. */
const agree = (table: Keys.Table<Value>, model: Map<string, Value>, seen: ReadonlyArray<string>) => {
  for (const key of seen) assert.strictEqual(Keys.get(table, key), model.get(key), key)
  for (let i = 0; i < 50; i++) assert.strictEqual(Keys.get(table, `never-${i}`), undefined)
  assert.strictEqual(table.size, model.size)
}

describe("Chunked", () => {
  it("holds what was pushed by position, across chunks, and what set replaced", () => {
    const list = Chunked.make<number>()
    const model: Array<number | undefined> = []
    const random = prng(7)
    for (let i = 0; i < 20_000; i++) {
      if (model.length > 0 && random.chance(0.1)) {
        const at = random.int(0, model.length - 1)
        const item = random.chance(0.5) ? undefined : random.int(0, 1e6)
        Chunked.set(list, at, item)
        model[at] = item
      } else {
        Chunked.push(list, i)
        model.push(i)
      }
    }
    assert.strictEqual(list.length, model.length)
    for (let i = 0; i < model.length; i++) assert.strictEqual(Chunked.get(list, i), model[i])
    assert.strictEqual(Chunked.get(list, -1), undefined)
    assert.strictEqual(Chunked.get(list, model.length), undefined)
  })
})

describe("Keys", () => {
  it("agrees with a Map through growth, replacement, forgetting and rebuilds", () => {
    const random = prng(42)
    const table = Keys.make<Value>()
    const model = new Map<string, Value>()
    const seen: Array<string> = []
    let now = 0
    for (let round = 0; round < 12; round++) {
      // new keys (some alike but for one character), some old ones set again
      const adds = random.int(500, 12_000)
      for (let i = 0; i < adds; i++) {
        now++
        const reuse = seen.length > 0 && random.chance(0.05)
        const key = reuse ? random.pick(seen) : `k${round}-${i}${random.chance(0.3) ? "x" : ""}`
        const value = { key, atMs: now, pinned: random.chance(0.02) }
        const known = model.get(key)
        if (known === undefined) seen.push(key)
        // a known key keeps its place (and its first-use time, as `forget` reads it)
        const kept = known === undefined ? value : { ...value, atMs: known.atMs }
        Keys.set(table, key, kept)
        model.set(key, kept)
      }
      agree(table, model, seen)
      // forget the oldest part: in first-use order, stopping at the first key used after the cutoff
      const cutoff = now - random.int(0, now)
      Keys.forget(table, cutoff, (value) => value.atMs, (value) => value.pinned)
      for (const [key, value] of [...model].sort((a, b) => a[1].atMs - b[1].atMs)) {
        if (value.atMs > cutoff) break
        if (!value.pinned) model.delete(key)
      }
      agree(table, model, seen)
    }
    assert.isAbove(seen.length, 40_000)
  })

  it("renumbers the entries when it grows after forgetting a prefix (nothing deleted after it)", () => {
    const table = Keys.make<number>()
    for (let i = 0; i < 400; i++) Keys.set(table, `key-${i}`, i)
    // the first 100 keys go; the table keeps its slots until it next grows
    Keys.forget(table, 99, (value) => value, () => false)
    for (let i = 400; i < 5_000; i++) Keys.set(table, `key-${i}`, i)
    for (let i = 0; i < 100; i++) assert.strictEqual(Keys.get(table, `key-${i}`), undefined)
    for (let i = 100; i < 5_000; i++) assert.strictEqual(Keys.get(table, `key-${i}`), i)
    assert.strictEqual(table.size, 4_900)
  })

  it("finds every key of a table grown past 2^18 slots (a slot keeps at most 13 bits of tag)", () => {
    const table = Keys.make<number>()
    const count = 70_000
    for (let i = 0; i < count; i++) Keys.set(table, `key-${i}`, i)
    assert.isAtLeast(table.mask + 1, 2 ** 18)
    for (let i = 0; i < count; i++) assert.strictEqual(Keys.get(table, `key-${i}`), i)
    for (let i = count; i < count + 1_000; i++) assert.strictEqual(Keys.get(table, `key-${i}`), undefined)
  })
})
