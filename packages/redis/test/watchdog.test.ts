// The watchdog's rules: a connection is suspect only when commands have waited
// across three looks with nothing settled, never an idle or a slow one; a
// suspect is dropped only when the probe answered and it still has not.
import { assert, describe, it } from "@effect/vitest"
import * as Watchdog from "../src/internal/watchdog.ts"

/** Looks at `counts` after each step, and answers the looks that dropped. */
const looks = (counts: Watchdog.Counts, steps: ReadonlyArray<{ readonly sent: number; readonly settled: number }>) =>
  steps.flatMap((step, i) => {
    counts.sent += step.sent
    counts.settled += step.settled
    return Watchdog.look(counts) ? [i] : []
  })

describe("Watchdog", () => {
  it("suspects a connection whose commands waited three looks with nothing settled, then counts afresh", () => {
    const counts = Watchdog.counts()
    // a command answered, then commands keep coming and none is answered
    const dropped = looks(counts, [
      { sent: 1, settled: 1 },
      { sent: 5, settled: 0 },
      { sent: 5, settled: 0 },
      { sent: 5, settled: 0 },
      { sent: 5, settled: 0 },
      { sent: 5, settled: 0 },
      { sent: 5, settled: 0 },
      { sent: 5, settled: 0 }
    ])
    // look 1 sees them waiting (nothing settled since look 0), looks 2 and 3 too: suspect at look 3;
    // the count starts again, so the next suspicion is three looks later
    assert.deepStrictEqual(dropped, [3, 6])
    assert.strictEqual(counts.suspected, 2)
    assert.strictEqual(counts.dropped, 0)
  })

  it("leaves alone a connection that settles something between looks, however slow", () => {
    const counts = Watchdog.counts()
    const steps = Array.from({ length: 50 }, () => ({ sent: 10, settled: 1 }))
    assert.deepStrictEqual(looks(counts, steps), [])
  })

  it("leaves alone an idle connection and one whose commands all settled", () => {
    const counts = Watchdog.counts()
    const steps = [
      { sent: 0, settled: 0 },
      { sent: 3, settled: 3 },
      { sent: 0, settled: 0 },
      { sent: 0, settled: 0 },
      { sent: 0, settled: 0 },
      { sent: 0, settled: 0 }
    ]
    assert.deepStrictEqual(looks(counts, steps), [])
  })

  it("a settled command in the middle of a silence starts the count again", () => {
    const counts = Watchdog.counts()
    const dropped = looks(counts, [
      { sent: 5, settled: 0 },
      { sent: 0, settled: 0 },
      { sent: 0, settled: 1 },
      { sent: 0, settled: 0 },
      { sent: 0, settled: 0 }
    ])
    assert.deepStrictEqual(dropped, [])
  })

  it("drops a suspect only when the probe answered, the client is open and nothing settled since", () => {
    const counts = Watchdog.counts()
    counts.sent = 10
    counts.settled = 4
    assert.isTrue(Watchdog.shouldDrop(counts, 4, true, true))
    // a busy or unreachable Redis: the probe got no answer either
    assert.isFalse(Watchdog.shouldDrop(counts, 4, false, true))
    // the client is closing
    assert.isFalse(Watchdog.shouldDrop(counts, 4, true, false))
    // the connection answered while the probe ran
    counts.settled = 5
    assert.isFalse(Watchdog.shouldDrop(counts, 4, true, true))
    // nothing left waiting
    counts.settled = 10
    assert.isFalse(Watchdog.shouldDrop(counts, 10, true, true))
  })
})
