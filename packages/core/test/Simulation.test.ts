/**
 * `Simulation.uniform`: draws fixed by the seed and the key alone, a
 * different stream for every safe-integer seed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Simulation } from "../src/index.ts"

describe("Simulation.uniform", () => {
  it("is fixed by seed and key: the draws of seeds 0 to 2^32 − 1 are those the docs were measured with", () => {
    assert.strictEqual(Simulation.uniform(1, "rag"), 0.38120118947699666)
    assert.strictEqual(Simulation.uniform(42, "rag"), 0.16186544857919216)
    assert.strictEqual(Simulation.uniform(4294967295, "rag"), 0.8694434056524187)
    assert.notStrictEqual(Simulation.uniform(1, "rag"), Simulation.uniform(1, "auth"))
  })

  it("gives seeds that agree in their low 32 bits draws of their own", () => {
    const seeds = [
      0,
      2 ** 32,
      -(2 ** 32),
      1,
      2 ** 32 + 1,
      4294967295,
      -1,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER
    ]
    const draws = seeds.map((seed) => Simulation.uniform(seed, "rag"))
    assert.strictEqual(new Set(draws).size, seeds.length, draws.join(", "))
    for (const draw of draws) assert.isTrue(draw >= 0 && draw < 1, String(draw))
  })
})
