/**
 * Redis for the ledger bench: the connection, the ceiling (a trivial
 * `EVALSHA`, `return 1`, on the same Redis in the same run), the server's
 * own CPU time, and clean-up of every key under the run's prefix.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Effect } from "effect"
import * as Redis from "effect/persistence/Redis"
import { Recorder } from "./stats.ts"

/** `REDIS_URL`, or the machine's default Redis. */
export const url = process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== ""
  ? process.env.REDIS_URL
  : "redis://127.0.0.1:6379"

/**
 * The client every Redis case shares: the store's `Redis` service over one
 * node-redis connection, configured as `RedisLedgerStore.layerUrl`'s (the
 * store times its commands itself, so node-redis's per-command timeout is
 * off; the ceiling runs on the same client).
 */
export const layer = NodeRedis.layer({ url, disableOfflineQueue: true, commandOptions: { timeout: 0 } })

/** The trivial script of the ceiling. */
const trivial = Redis.script(() => [], { numberOfKeys: 0, lua: "return 1" }).withReturnType<number>()

export interface CeilingResult {
  /** `effect`: through the same `Redis` service the store uses; `raw`: node-redis `sendCommand`, no Effect. */
  readonly path: "effect" | "raw"
  readonly clients: number
  readonly calls: number
  readonly elapsedMs: number
  readonly samples: Array<number>
}

/** `clients` fibers calling the trivial script back to back for `ms`. */
export const ceiling = (path: "effect" | "raw", clients: number, ms: number) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const { client } = yield* NodeRedis.NodeRedis
    const sha = yield* redis.send<string>("SCRIPT", "LOAD", trivial.lua)
    const call: Effect.Effect<unknown, unknown> = path === "effect"
      ? redis.eval(trivial)()
      : Effect.promise(() => client.sendCommand(["EVALSHA", sha, "0"]))
    const samples = new Recorder()
    const start = performance.now()
    const until = start + ms
    const counts = yield* Effect.forEach(
      Array.from({ length: clients }, (_, i) => i),
      () =>
        Effect.gen(function*() {
          let calls = 0
          while (performance.now() < until) {
            const begin = performance.now()
            yield* call
            samples.record(performance.now() - begin)
            calls++
          }
          return calls
        }),
      { concurrency: "unbounded" }
    )
    return {
      path,
      clients,
      calls: counts.reduce((a, b) => a + b, 0),
      elapsedMs: performance.now() - start,
      samples: samples.values()
    } satisfies CeilingResult
  })

/** The Redis server's CPU seconds so far (user + system, `INFO cpu`). */
export const serverCpuSeconds = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  const info = yield* redis.send<string>("INFO", "cpu")
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, "m").exec(info)?.[1] ?? Number.NaN)
  return field("used_cpu_user") + field("used_cpu_sys")
})

/** How many `EVALSHA` calls the server has run so far (`INFO commandstats`; 0 before the first). */
export const serverScriptCalls = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  const info = yield* redis.send<string>("INFO", "commandstats")
  return Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0)
})

/** The server's CPU seconds and script calls so far, for a case's per-step figures. */
export const serverStats = Effect.all({ cpuSeconds: serverCpuSeconds, scriptCalls: serverScriptCalls })

/** The server's version, for the header. */
export const serverVersion = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  const info = yield* redis.send<string>("INFO", "server")
  return /^redis_version:(\S+)/m.exec(info)?.[1] ?? "?"
})

/** Runs `each` on every batch of keys that start with `prefix` (SCAN), and sums what it returns. */
const scanKeys = <E>(
  prefix: string,
  each: (keys: Array<string>, redis: Redis.Redis["Service"]) => Effect.Effect<number, E>
) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    let cursor = "0"
    let total = 0
    do {
      const [next, keys] = yield* redis.send<[string, Array<string>]>(
        "SCAN",
        cursor,
        "MATCH",
        `${prefix}*`,
        "COUNT",
        "1000"
      )
      cursor = next
      if (keys.length > 0) total += yield* each(keys, redis)
    } while (cursor !== "0")
    return total
  })

/** How many keys start with `prefix`. */
export const countKeys = (prefix: string) => scanKeys(prefix, (keys) => Effect.succeed(keys.length))

/** Deletes every key that starts with `prefix` (SCAN + UNLINK); returns how many. */
export const deleteKeys = (prefix: string) => scanKeys(prefix, (keys, redis) => redis.send<number>("UNLINK", ...keys))
