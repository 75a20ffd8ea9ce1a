/**
 * A small, fast, seeded PRNG (mulberry32) for the property and differential
 * tests: the same seed gives the same sequence on every machine.
 */
export const prng = (seed: number) => {
  let state = seed >>> 0
  /** A number in [0, 1). */
  const next = () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  return {
    next,
    /** An integer in [min, max]. */
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    /** One of `items`. */
    pick: <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!,
    /** True with probability `p`. */
    chance: (p: number) => next() < p
  }
}

/** What `prng` returns. */
export type Random = ReturnType<typeof prng>
