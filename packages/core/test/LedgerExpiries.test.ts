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
})
