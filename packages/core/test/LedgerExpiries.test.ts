/**
 * The memory store's expiry index (`internal/ledger/expiries.ts`) against a
 * sorted array: seeded random pushes and pops, with ties on the due time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Expiries from "../src/internal/ledger/expiries.ts"
import { prng } from "./random.ts"

describe("Expiries", () => {
  it("pops in (due, seq) order through any mix of pushes and pops", () => {
    const random = prng(11)
    const heap = Expiries.make<string>()
    const model: Array<{ readonly due: number; readonly seq: number }> = []
    let seq = 0
    for (let i = 0; i < 20_000; i++) {
      if (model.length > 0 && random.chance(0.45)) {
        model.sort((a, b) => a.due - b.due || a.seq - b.seq)
        const expected = model.shift()!
        assert.strictEqual(Expiries.firstDue(heap), expected.due)
        assert.strictEqual(Expiries.first(heap), `r${expected.seq}`)
        Expiries.pop(heap)
      } else {
        // few distinct due times, so ties are common
        const due = random.int(0, 50) * 1_000
        seq++
        Expiries.push(heap, due, seq, `r${seq}`)
        model.push({ due, seq })
      }
      assert.strictEqual(Expiries.size(heap), model.length)
    }
    model.sort((a, b) => a.due - b.due || a.seq - b.seq)
    for (const expected of model) {
      assert.strictEqual(Expiries.first(heap), `r${expected.seq}`)
      Expiries.pop(heap)
    }
    assert.strictEqual(Expiries.firstDue(heap), Number.POSITIVE_INFINITY)
  })

  it("compact keeps the live entries in order and sets the next compaction at twice them", () => {
    const heap = Expiries.make<number>()
    for (let seq = 1; seq <= 5_000; seq++) Expiries.push(heap, 10_000 - (seq % 100), seq, seq)
    assert.isTrue(Expiries.needsCompaction(heap))
    Expiries.compact(heap, (seq) => seq % 10 === 0)
    assert.strictEqual(Expiries.size(heap), 500)
    assert.strictEqual(heap.compactAt, 1_024)
    const popped: Array<number> = []
    while (Expiries.size(heap) > 0) {
      popped.push(Expiries.first(heap))
      Expiries.pop(heap)
    }
    const expected = Array.from({ length: 500 }, (_, i) => 10 * (i + 1))
      .sort((a, b) => (10_000 - (a % 100)) - (10_000 - (b % 100)) || a - b)
    assert.deepStrictEqual(popped, expected)
  })
})
