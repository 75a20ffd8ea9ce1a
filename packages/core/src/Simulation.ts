/**
 * Seeded, Clock-driven latencies for simulated work: example agents and
 * tests draw each stage's latency from a range, deterministically per seed and
 * stage name, and any stage's latency can be forced (`--latency rag=400ms`).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { dual } from "effect/Function"
import * as Budget from "./Budget.ts"

/**
 * The seed of every simulated draw.
 *
 * **Example** (Reading the seed)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Simulation } from "@timebox/core"
 *
 * const draw = Effect.gen(function*() {
 *   const seed = yield* Simulation.Seed // 1 unless provided
 *   return Simulation.uniform(seed, "rag")
 * }).pipe(Simulation.withSeed(42))
 * ```
 *
 * @default 1
 * @category services
 * @since 0.1.0
 */
export const Seed = Context.Reference<number>("@timebox/core/Simulation/Seed", { defaultValue: () => 1 })

/**
 * Forced latencies in milliseconds, by stage name; they win over the ranges.
 *
 * **Details**
 *
 * Keys are the names given to `Simulation.sleep` and `latencyMillis` (by
 * convention the stage's name, never its path): forcing `rag` forces every
 * simulated call named `rag`.
 *
 * **Example** (Reading the forced latencies)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Simulation } from "@timebox/core"
 *
 * const forcedRag = Effect.map(Simulation.Overrides, (overrides) => overrides.get("rag")).pipe(
 *   Simulation.withLatencies({ rag: 400 })
 * ) // 400
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Overrides = Context.Reference<ReadonlyMap<string, number>>("@timebox/core/Simulation/Overrides", {
  defaultValue: () => new Map()
})

/**
 * A latency range: uniform between `min` and `max` (durations or ms).
 *
 * **Gotchas**
 *
 * `min` and `max` are typed as allocations, but a percentage means nothing
 * here: `"40%"` reads as 0 ms.
 *
 * **Example** (A retrieval between 20 and 60 ms)
 *
 * ```ts
 * import { Simulation } from "@timebox/core"
 *
 * const retrieval: Simulation.Range = { min: "20 millis", max: "60 millis" }
 * const retrieve = Simulation.sleep("rag", retrieval)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Range {
  readonly min: Budget.DurationText
  readonly max: Budget.DurationText
}

const fnv1a = (text: string, seed: number): number => {
  // the seed's low 32 bits, then its bits above them (when any), so that
  // every safe integer draws its own values (n and n + 2^32 used to agree)
  let hash = (0x811c9dc5 ^ seed) >>> 0
  const high = Math.floor(seed / 4294967296)
  if (high !== 0 && Number.isFinite(high)) {
    hash = Math.imul(Math.imul(hash, 0x01000193) ^ (high >>> 0), 0x01000193) >>> 0
  }
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/**
 * A number in [0, 1) determined by `seed` and `key` alone (mulberry32 over an
 * FNV-1a hash), so parallel stages draw the same values in any order.
 *
 * **Example** (Reproducible draws)
 *
 * ```ts
 * import { Simulation } from "@timebox/core"
 *
 * Simulation.uniform(42, "rag") === Simulation.uniform(42, "rag") // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const uniform = (seed: number, key: string): number => {
  let t = (fnv1a(key, seed) + 0x6d2b79f5) >>> 0
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * The simulated latency of `name` in milliseconds: its override if one is
 * set, else a seeded draw from `range`, rounded to whole milliseconds.
 *
 * **Example** (Drawing a latency)
 *
 * ```ts
 * import { Simulation } from "@timebox/core"
 *
 * const ms = Simulation.latencyMillis("rag", { min: "20 millis", max: "60 millis" })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const latencyMillis = (name: string, range: Range): Effect.Effect<number> =>
  Effect.withFiber((fiber) => {
    const forced = fiber.getRef(Overrides).get(name)
    if (forced !== undefined) return Effect.succeed(forced)
    const min = Budget.toMillis(range.min) ?? 0
    const max = Budget.toMillis(range.max) ?? min
    return Effect.succeed(Math.round(min + uniform(fiber.getRef(Seed), name) * (max - min)))
  })

/**
 * Sleeps for the simulated latency of `name` through `Clock` (so `TestClock`
 * drives it), then succeeds with the milliseconds slept.
 *
 * **Example** (A simulated retrieval)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Simulation } from "@timebox/core"
 *
 * const retrieve = Simulation.sleep("rag", { min: 20, max: 60 }).pipe(Effect.as(["doc-1"]))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const sleep = (name: string, range: Range): Effect.Effect<number> =>
  Effect.flatMap(latencyMillis(name, range), (ms) => Effect.as(Effect.sleep(ms), ms))

/**
 * Runs `self` with another seed.
 *
 * **Example** (Another draw of the support agent's latencies)
 *
 * ```ts
 * import { Agent, Simulation } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const seeded = Agent.run(SupportAgent.agent, "Where is my order?").pipe(Simulation.withSeed(42))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withSeed: {
  (seed: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, seed: number): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, seed: number) => Effect.provideService(self, Seed, seed))

/**
 * Runs `self` with forced latencies (milliseconds by stage name), added to
 * those already forced.
 *
 * **Example** (Making RAG slow)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Simulation } from "@timebox/core"
 *
 * const slowRag = <A, E, R>(self: Effect.Effect<A, E, R>) => self.pipe(Simulation.withLatencies({ rag: 400 }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLatencies: {
  (latencies: Readonly<Record<string, number>>): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, latencies: Readonly<Record<string, number>>): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, latencies: Readonly<Record<string, number>>) =>
    Effect.flatMap(Overrides, (current) => {
      const merged = new Map(current)
      for (const [name, ms] of Object.entries(latencies)) merged.set(name, ms)
      return Effect.provideService(self, Overrides, merged)
    })
)

/**
 * A layer setting the seed and forced latencies for everything it provides.
 *
 * **Gotchas**
 *
 * Unlike `withLatencies`, which adds to the latencies already forced, the
 * layer replaces them.
 *
 * **Example** (A slow RAG for a whole program)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Simulation } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const slowRag = Simulation.layer({ seed: 7, latencies: { rag: 400 } })
 * const program = Agent.run(SupportAgent.agent, "Where is my order?").pipe(Effect.provide(slowRag))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: {
  readonly seed?: number | undefined
  readonly latencies?: Readonly<Record<string, number>> | undefined
}): Layer.Layer<never> =>
  Layer.mergeAll(
    Layer.succeed(Seed, options.seed ?? 1),
    Layer.succeed(Overrides, new Map(Object.entries(options.latencies ?? {})))
  )
