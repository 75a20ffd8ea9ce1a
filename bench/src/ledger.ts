/**
 * `pnpm bench:ledger`: the cost ledger on the memory store and on Redis.
 * For each store and for 1, 8, 16 and 32 concurrent clients: p50/p95/p99 of
 * each operation and of a reserve + commit lifecycle, and lifecycles per
 * second; alongside, a trivial `EVALSHA` on the same Redis (the ceiling) and
 * the ratio. Prints the tables, then one line `BENCH_LEDGER_JSON {...}`.
 * `--quick` shortens every case (for trying changes; noisier).
 *
 * Each store is measured in a process of its own (this script again, with
 * `--part=memory` or `--part=redis`, which prints one line
 * `BENCH_LEDGER_PART {...}`), so that neither inherits the other's compiled
 * code or heap: in alternating runs on the same minutes, the Redis cases run
 * after the memory cases in one process did 10–25% fewer lifecycles/s at
 * 32 clients than alone (13,282 / 17,905 / 17,943 / 19,586 against 14,168 /
 * 23,391 / 21,661 / 22,426).
 *
 * Benchmarks are not tests: nothing here fails on a slow figure; the targets
 * are printed next to the results. A case that leaves money reserved fails
 * the run, though: then it measured something else.
 */
import { Ledger, LedgerStore } from "@timebox/core"
import { RedisLedgerStore } from "@timebox/redis"
import { Context, Effect, Exit, Layer } from "effect"
import { spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import * as Alloc from "./ledgerAlloc.ts"
import * as Driver from "./ledgerDriver.ts"
import * as Floor from "./ledgerFloor.ts"
import * as RedisBench from "./ledgerRedis.ts"
import { percentile, type Recorder, round, sortNumbers, table } from "./stats.ts"

const quick = process.argv.includes("--quick")

/** `--store=memory|redis`, `--kind=<kind>`, `--clients=<n>`: run only those cases (for profiling a change). */
const option = (name: string): string | undefined =>
  process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
const onlyStore = option("store")
/** `--part=memory|redis`: measure that store only, in this process, and print its figures as one JSON line. */
const part = option("part")
const onlyKind = option("kind")
const onlyClients = option("clients")

const targets = {
  memoryLifecyclesPerSecond: 500_000,
  redisLifecycleP50Ms: 0.5,
  redisLifecyclesPerSecondAt32: 20_000
} as const

const clientCounts = [1, 8, 16, 32] as const

/** Rounds per lifecycle case (each a fresh ledger, sharing the case's wall time). */
const lifecycleRounds = 3

/** Wall time per case (ms): the lifecycle rows run longer, they carry the headline figures. */
const durations = quick
  ? {
    memory: { lifecycle: 300, other: 100 },
    redis: { lifecycle: 400, other: 150 },
    ceiling: 250,
    warmup: 300,
    settle: 50
  }
  : {
    memory: { lifecycle: 1_000, other: 300 },
    redis: { lifecycle: 1_500, other: 400 },
    ceiling: 600,
    warmup: 1_000,
    settle: 150
  }

/**
 * A full collection between memory cases (`node --expose-gc`, as `pnpm
 * bench:ledger` runs it), so that no case pays for the garbage of the one
 * before; without the flag, cases run back to back. Not between Redis cases:
 * little garbage stays on this side of them, and a forced full collection
 * slowed the next second or so of Redis traffic by about a quarter here (the
 * memory cases are steadier with it). Each measured run follows an
 * unmeasured `settle` run of the same case on the same ledger (its own
 * idempotency keys), so it starts warm.
 */
const collect = Effect.sync(() => (globalThis as { gc?: () => void }).gc?.())

const run = randomUUID().slice(0, 8)
const redisPrefix = `timebox-bench:${run}`

type StoreName = "memory" | "redis"

interface Distribution {
  readonly n: number
  readonly p50Us: number
  readonly p95Us: number
  readonly p99Us: number
}

const distribution = (samples: ReadonlyArray<number>): Distribution => {
  const sorted = sortNumbers(samples)
  return {
    n: sorted.length,
    p50Us: round(percentile(sorted, 50) * 1000, 1),
    p95Us: round(percentile(sorted, 95) * 1000, 1),
    p99Us: round(percentile(sorted, 99) * 1000, 1)
  }
}

interface Row {
  readonly store: StoreName
  readonly kind: Driver.Kind
  readonly clients: number
  readonly latency: Distribution
  /** Steps per second of wall time, for the kinds whose step is exactly the timed calls. */
  readonly perSecond: number | undefined
  /** Process CPU µs per step (client side). */
  readonly cpuUsPerStep: number
  /** Minor page faults of the process per 1,000 steps (first touches of memory). */
  readonly pageFaultsPer1kSteps: number
  /** Redis server CPU µs per step, where measured. */
  readonly serverCpuUsPerStep: number | undefined
  /** Redis script calls per step (all `EVALSHA`s the server ran meanwhile), where measured. */
  readonly scriptCallsPerStep: number | undefined
  readonly reserve?: Distribution
  readonly commit?: Distribution
}

/** Kinds whose step makes untimed calls too (a reservation to commit, a release after a reserve). */
const withSetup: ReadonlySet<Driver.Kind> = new Set(["reserve", "commit", "release", "extend"])

/** A ledger with its background sweeper (default interval) on a store, for one case. */
const withLedger = <A, E, R>(
  store: Layer.Layer<LedgerStore.LedgerStore, unknown, R>,
  use: (ledger: Ledger.Service) => Effect.Effect<A, E, R>
) =>
  Effect.scoped(
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const context = yield* Layer.buildWithScope(Layer.fresh(Ledger.layer.pipe(Layer.provide(store))), scope)
      return yield* use(Context.get(context, Ledger.Ledger))
    })
  )

const measure = <R>(
  store: StoreName,
  storeLayer: Layer.Layer<LedgerStore.LedgerStore, unknown, R>,
  server: Effect.Effect<{ readonly cpuSeconds: number; readonly scriptCalls: number }, unknown, R> | undefined,
  after: Effect.Effect<unknown, unknown, R>
) =>
  Effect.gen(function*() {
    const rows: Array<Row> = []
    const ms = store === "memory" ? durations.memory : durations.redis
    // warm-up: JIT, the connection, the scripts' SHA cache
    yield* withLedger(storeLayer, (ledger) =>
      Effect.gen(function*() {
        const tenant = `warmup-${run}`
        yield* Driver.fund(ledger, tenant, Ledger.scopes(Driver.subjectOf(tenant)))
        for (const kind of Driver.kinds) yield* Driver.runCase(ledger, tenant, kind, 8, durations.warmup / 4)
      }))
    yield* after
    for (const clients of clientCounts) {
      if (onlyClients !== undefined && String(clients) !== onlyClients) continue
      for (const kind of Driver.kinds) {
        if (onlyKind !== undefined && kind !== onlyKind) continue
        // the lifecycle rows run in rounds, each on a fresh ledger: their rate is the median
        // round's, so a burst of load from another process spoils one round, not the figure
        const rounds = kind === "lifecycle" || kind === "unkeyed" ? lifecycleRounds : 1
        const results: Array<Driver.CaseResult> = []
        let serverSeconds = 0
        let scriptCalls = 0
        for (let pass = 0; pass < rounds; pass++) {
          const tenant = `${store}-${kind}-${clients}-${pass}-${run}`
          if (store === "memory") yield* collect
          yield* withLedger(storeLayer, (ledger) =>
            Effect.gen(function*() {
              yield* Driver.fund(ledger, tenant, Ledger.scopes(Driver.subjectOf(tenant)))
              // unmeasured: the same case, briefly, so the measured run starts in a steady state
              // (a full collection leaves V8 re-warming for a while: on Redis the first half-second
              // after it ran a third slower)
              yield* Driver.runCase(ledger, tenant, kind, clients, durations.settle, "settle-")
              const serverBefore = server === undefined ? undefined : yield* server
              results.push(
                yield* Driver.runCase(ledger, tenant, kind, clients, (rounds > 1 ? ms.lifecycle : ms.other) / rounds)
              )
              if (server !== undefined && serverBefore !== undefined) {
                const serverAfter = yield* server
                serverSeconds += serverAfter.cpuSeconds - serverBefore.cpuSeconds
                scriptCalls += serverAfter.scriptCalls - serverBefore.scriptCalls
              }
              yield* Driver.verify(ledger, tenant)
            }))
          if (rounds > 1) yield* after
        }
        const steps = results.reduce((sum, r) => sum + r.steps, 0)
        const pooled = (pick: (samples: Driver.Samples) => Recorder) => results.flatMap((r) => pick(r.samples).values())
        const rates = sortNumbers(results.map((r) => r.steps / (r.elapsedMs / 1000)))
        const row: Row = {
          store,
          kind,
          clients,
          latency: distribution(pooled((samples) => samples.step)),
          perSecond: withSetup.has(kind) ? undefined : round(percentile(rates, 50), 0),
          cpuUsPerStep: round((results.reduce((sum, r) => sum + r.cpuMs, 0) * 1000) / steps, 2),
          pageFaultsPer1kSteps: round((results.reduce((sum, r) => sum + r.pageFaults, 0) * 1000) / steps, 1),
          serverCpuUsPerStep: server === undefined ? undefined : round((serverSeconds * 1e6) / steps, 2),
          // the server's INFO calls are not scripts; other clients' scripts would count (none in the bench)
          scriptCallsPerStep: server === undefined ? undefined : round(scriptCalls / steps, 3),
          ...(kind === "lifecycle" || kind === "unkeyed"
            ? {
              reserve: distribution(pooled((samples) => samples.reserve)),
              commit: distribution(pooled((samples) => samples.commit))
            }
            : {})
        }
        rows.push(row)
        yield* after
      }
    }
    return rows
  })

const rowTable = (rows: ReadonlyArray<Row>) =>
  table(
    ["clients", "operation", "n", "p50 µs", "p95 µs", "p99 µs", "steps/s", "cpu µs/step", "server cpu µs/step"],
    rows.map((r) => [
      r.clients,
      r.kind === "lifecycle"
        ? "reserve+commit"
        : r.kind === "unkeyed"
        ? "reserve+commit, no keys"
        : withSetup.has(r.kind)
        ? `${r.kind} *`
        : r.kind,
      r.latency.n,
      r.latency.p50Us,
      r.latency.p95Us,
      r.latency.p99Us,
      r.perSecond === undefined ? "-" : String(r.perSecond),
      r.cpuUsPerStep,
      r.serverCpuUsPerStep === undefined ? "-" : String(r.serverCpuUsPerStep)
    ])
  )

const lifecycleTable = (rows: ReadonlyArray<Row>) =>
  table(
    [
      "clients",
      "idempotency keys",
      "lifecycles/s",
      "p50 µs",
      "p95 µs",
      "p99 µs",
      "reserve p50/p99 µs",
      "commit p50/p99 µs",
      "script calls/lifecycle",
      "page faults/1k"
    ],
    rows.filter((r) => r.kind === "lifecycle" || r.kind === "unkeyed").map((r) => [
      r.clients,
      r.kind === "lifecycle" ? "yes" : "no",
      r.perSecond ?? 0,
      r.latency.p50Us,
      r.latency.p95Us,
      r.latency.p99Us,
      `${r.reserve?.p50Us}/${r.reserve?.p99Us}`,
      `${r.commit?.p50Us}/${r.commit?.p99Us}`,
      r.scriptCallsPerStep === undefined ? "-" : String(r.scriptCallsPerStep),
      r.pageFaultsPer1kSteps
    ])
  )

/** The ceiling at one client count, through one path. */
interface Ceiling {
  readonly clients: number
  readonly path: "effect" | "raw"
  readonly perSecond: number
  readonly latency: Distribution
}

/** What the Redis part measured. */
interface RedisFigures {
  readonly version: string
  readonly rows: Array<Row>
  readonly ceilings: Array<Ceiling>
  readonly leftover: number
}

/** One store's figures, as a `--part` process prints them. */
type Part =
  | { readonly store: "memory"; readonly rows: Array<Row>; readonly allocation: Allocation }
  | { readonly store: "baseline"; readonly variant: Floor.Variant; readonly perSecond: number }
  | { readonly store: "redis"; readonly redis: RedisFigures }
  | { readonly store: "redis"; readonly unavailable: string }

/** Bytes allocated per lifecycle on the memory store (`ledgerAlloc.ts`). */
interface Allocation {
  readonly keyedBytes: number
  readonly unkeyedBytes: number
}

/** Lifecycles/s of the plain-JavaScript baseline (`ledgerFloor.ts`), each variant. */
interface Baseline {
  readonly kept: number
  readonly forgotten: number
}

/**
 * The baseline's rate for `variant`: after a warm-up, the median of
 * `lifecycleRounds` rounds (each a fresh plain ledger, after a full
 * collection) sharing a lifecycle case's wall time, as the ledger's are.
 * Each variant runs in a process of its own (`--part=baseline-<variant>`):
 * the two share their code, and after `kept`, whose objects all survive, V8
 * allocates `forgotten`'s straight into the old generation (allocation-site
 * pretenuring), which made it ~3.5× slower than alone.
 */
const baselineRate = (variant: Floor.Variant) =>
  Effect.gen(function*() {
    const scopes = Ledger.scopes(Driver.subjectOf("baseline"))
    const once = (ms: number) =>
      Floor.run(variant, scopes, Driver.unit, Driver.allocated, Driver.estimate, Driver.actual, ms)
    yield* once(durations.warmup / 4)
    const rates: Array<number> = []
    for (let pass = 0; pass < lifecycleRounds; pass++) {
      yield* collect
      const { elapsedMs, lifecycles } = yield* once(durations.memory.lifecycle / lifecycleRounds)
      rates.push(lifecycles / (elapsedMs / 1000))
    }
    return round(percentile(sortNumbers(rates), 50), 0)
  })

/** Lifecycles counted by the allocation profile (each kind). */
const allocationCount = quick ? 20_000 : 50_000

const partPrefix = "BENCH_LEDGER_PART "

/** Measures `store` in this process. */
const measurePart = (store: StoreName): Effect.Effect<Part, unknown> =>
  store === "memory"
    ? Effect.gen(function*() {
      const rows = yield* measure("memory", LedgerStore.layerMemory, undefined, Effect.void)
      yield* collect
      const keyedBytes = yield* Alloc.perLifecycle(true, allocationCount)
      yield* collect
      const unkeyedBytes = yield* Alloc.perLifecycle(false, allocationCount)
      return { store, rows, allocation: { keyedBytes, unkeyedBytes } }
    })
    : Effect.map(
      Effect.exit(
        Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.buildWithScope(RedisBench.layer, yield* Effect.scope)
          return yield* redisPart.pipe(Effect.provideContext(context))
        }))
      ),
      (exit): Part => Exit.isSuccess(exit) ? { store, redis: exit.value } : { store, unavailable: String(exit.cause) }
    )

/** What a `--part` process measures: a store, or a variant of the baseline. */
type PartName = StoreName | `baseline-${Floor.Variant}`

/** Measures `store` in a process of its own (this script with `--part`), and answers its figures. */
const measureApart = (store: PartName): Effect.Effect<Part, Error> =>
  Effect.suspend(() => {
    const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--store=") && !arg.startsWith("--part="))
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, `--part=${store}`, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
      maxBuffer: 1 << 28
    })
    const line = child.stdout?.split("\n").find((text) => text.startsWith(partPrefix))
    return line === undefined
      ? Effect.fail(
        new Error(
          `the ${store} part printed no figures (exit ${child.status}, signal ${child.signal}, ${String(child.error)})`
        )
      )
      : Effect.succeed(JSON.parse(line.slice(partPrefix.length)) as Part)
  })

const redisPart = Effect.gen(function*() {
  const version = yield* RedisBench.serverVersion
  const store = RedisLedgerStore.layer({ prefix: redisPrefix })
  const rows = yield* measure("redis", store, RedisBench.serverStats, RedisBench.deleteKeys(redisPrefix))
  const ceilings: Array<Ceiling> = []
  for (const clients of clientCounts) {
    for (const path of ["effect", "raw"] as const) {
      const found = yield* RedisBench.ceiling(path, clients, durations.ceiling)
      ceilings.push({
        clients,
        path,
        perSecond: round(found.calls / (found.elapsedMs / 1000), 0),
        latency: distribution(found.samples)
      })
    }
  }
  yield* RedisBench.deleteKeys(redisPrefix)
  const leftover = yield* RedisBench.countKeys(redisPrefix)
  return { version, rows, ceilings, leftover }
})

const main = Effect.gen(function*() {
  const started = performance.now()
  const cpus = os.cpus()
  console.log(
    `timebox ledger bench: node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model ?? "?"}), load average ${
      os.loadavg().map((n) => n.toFixed(2)).join(" ")
    }${quick ? ", --quick" : ""}`
  )
  console.log(
    "Every case: a fresh Ledger.layer (sweeper on) over the store, one subject tenant → app → agent with a budget " +
      "on each of its 3 scopes, idempotency keys on every mutating call; N clients = N fibers calling back to back."
  )

  const memoryPart = onlyStore === "redis" ? undefined : yield* measureApart("memory")
  const memory = memoryPart?.store === "memory" ? memoryPart.rows : []
  const allocation = memoryPart?.store === "memory" ? memoryPart.allocation : undefined
  const baselineOf = (variant: Floor.Variant) =>
    Effect.map(measureApart(`baseline-${variant}`), (found) => found.store === "baseline" ? found.perSecond : 0)
  const baseline: Baseline | undefined = onlyStore === "redis" ? undefined : {
    kept: yield* baselineOf("kept"),
    forgotten: yield* baselineOf("forgotten")
  }
  console.log("")
  console.log(
    `Memory store (${durations.memory.lifecycle} ms per lifecycle case, ${durations.memory.other} ms per other)`
  )
  console.log(rowTable(memory))

  const redisMeasured: Part = onlyStore === "memory"
    ? { store: "redis", unavailable: "skipped (--store=memory)" }
    : yield* measureApart("redis")
  const redis = "redis" in redisMeasured ? redisMeasured.redis : undefined
  console.log("")
  if (redis === undefined) {
    console.log(
      `Redis at ${RedisBench.url}: unavailable, skipped (${
        "unavailable" in redisMeasured ? redisMeasured.unavailable : ""
      })`
    )
  } else {
    console.log(
      `Redis store on ${RedisBench.url} (redis ${redis.version}; ${durations.redis.lifecycle} ms per lifecycle case, ` +
        `${durations.redis.other} ms per other)`
    )
    console.log(rowTable(redis.rows))
  }
  console.log("* the step also makes untimed calls (a reserve before, or a release after), so no steps/s")

  console.log("")
  console.log("reserve + commit lifecycles")
  console.log("memory:")
  console.log(lifecycleTable(memory))
  if (allocation !== undefined) {
    console.log(
      `allocated per lifecycle (V8 sampling heap profiler, collected objects included, 1 client, the driver's ` +
        `requests and keys counted too): ${allocation.keyedBytes} B keyed, ${allocation.unkeyedBytes} B unkeyed`
    )
  }
  const memoryBest = Math.max(...memory.filter((r) => r.kind === "lifecycle").map((r) => r.perSecond ?? 0))
  if (baseline !== undefined && memoryBest > 0) {
    console.log(
      `baseline, same run (ledgerFloor.ts): plain JavaScript reserve+commit on the same 3 budgets, keyed, no Effect, ` +
        `no validation, no tenancy: ${baseline.kept}/s keeping each reservation and key in Maps, ` +
        `${baseline.forgotten}/s keeping nothing; the ledger's best is ${
          round(memoryBest / baseline.kept, 2)
        }× the first`
    )
  }

  const ceilingOf = (clients: number, path: "effect" | "raw") =>
    redis?.ceilings.find((c) => c.clients === clients && c.path === path)
  if (redis !== undefined) {
    console.log("redis:")
    console.log(lifecycleTable(redis.rows))
    console.log("")
    console.log(
      "Ceiling: a trivial EVALSHA (`return 1`) on the same Redis, same run. Unbatched, a lifecycle is 2 script " +
        "calls, so EVALSHA/s ÷ 2 is the ceiling of one call per operation; ratio = lifecycles/s ÷ that. The store " +
        "batches (script calls/lifecycle above), so its ratio can pass 1."
    )
    console.log(
      table(
        [
          "clients",
          "EVALSHA/s (Redis service)",
          "p50 µs",
          "EVALSHA/s (raw node-redis)",
          "p50 µs",
          "lifecycles/s",
          "ratio to service ceiling",
          "ratio to raw ceiling"
        ],
        clientCounts.map((clients) => {
          const service = ceilingOf(clients, "effect")!
          const raw = ceilingOf(clients, "raw")!
          const lifecycles = redis.rows.find((r) => r.kind === "lifecycle" && r.clients === clients)?.perSecond ?? 0
          return [
            clients,
            service.perSecond,
            service.latency.p50Us,
            raw.perSecond,
            raw.latency.p50Us,
            lifecycles,
            round(lifecycles / (service.perSecond / 2), 3),
            round(lifecycles / (raw.perSecond / 2), 3)
          ]
        })
      )
    )
  }

  const lifecycle = (rows: ReadonlyArray<Row>, clients: number) =>
    rows.find((r) => r.kind === "lifecycle" && r.clients === clients)
  const redisP50 = redis === undefined ? undefined : lifecycle(redis.rows, 1)?.latency.p50Us
  const redisAt32 = redis === undefined ? undefined : lifecycle(redis.rows, 32)?.perSecond
  const met = {
    memoryLifecyclesPerSecond: memoryBest >= targets.memoryLifecyclesPerSecond,
    redisLifecycleP50Ms: redisP50 === undefined ? null : redisP50 / 1000 <= targets.redisLifecycleP50Ms,
    redisLifecyclesPerSecondAt32: redisAt32 === undefined ? null : redisAt32 >= targets.redisLifecyclesPerSecondAt32
  }
  console.log("")
  console.log(
    table(["target", "measured", "target value", "met"], [
      [
        "memory reserve+commit/s (best client count)",
        memoryBest,
        `≥ ${targets.memoryLifecyclesPerSecond}`,
        String(met.memoryLifecyclesPerSecond)
      ],
      [
        "redis reserve+commit p50, 1 client (ms)",
        redisP50 === undefined ? "-" : String(round(redisP50 / 1000, 3)),
        `≤ ${targets.redisLifecycleP50Ms}`,
        String(met.redisLifecycleP50Ms)
      ],
      [
        "redis reserve+commit/s, 32 clients",
        redisAt32 === undefined ? "-" : String(redisAt32),
        `≥ ${targets.redisLifecyclesPerSecondAt32}`,
        String(met.redisLifecyclesPerSecondAt32)
      ]
    ])
  )
  console.log("")

  const rowsJson = (rows: ReadonlyArray<Row>) =>
    Object.fromEntries(
      clientCounts.map((clients) => [
        `clients${clients}`,
        Object.fromEntries(
          rows.filter((r) => r.clients === clients).map((r) => [r.kind, {
            ...r.latency,
            ...(r.perSecond === undefined ? {} : { perSecond: r.perSecond }),
            cpuUsPerStep: r.cpuUsPerStep,
            pageFaultsPer1kSteps: r.pageFaultsPer1kSteps,
            ...(r.serverCpuUsPerStep === undefined ? {} : { serverCpuUsPerStep: r.serverCpuUsPerStep }),
            ...(r.scriptCallsPerStep === undefined ? {} : { scriptCallsPerStep: r.scriptCallsPerStep }),
            ...(r.reserve === undefined ? {} : { reserve: r.reserve }),
            ...(r.commit === undefined ? {} : { commit: r.commit })
          }])
        )
      ])
    )
  const json = {
    node: process.version,
    cpus: cpus.length,
    loadAverage: os.loadavg().map((n) => round(n, 2)),
    quick,
    durationsMs: durations,
    memory: {
      ...rowsJson(memory),
      allocation: allocation ?? null,
      baseline: baseline === undefined || memoryBest <= 0 ? null : {
        keptPerSecond: baseline.kept,
        forgottenPerSecond: baseline.forgotten,
        ratio: round(memoryBest / baseline.kept, 3)
      }
    },
    redis: redis === undefined ? null : {
      url: RedisBench.url.replace(/\/\/([^@/]*)@/, "//***@"),
      version: redis.version,
      ...rowsJson(redis.rows),
      ceiling: Object.fromEntries(clientCounts.map((clients) => {
        const service = ceilingOf(clients, "effect")!
        const raw = ceilingOf(clients, "raw")!
        const lifecycles = lifecycle(redis.rows, clients)?.perSecond ?? 0
        return [`clients${clients}`, {
          evalshaPerSecond: service.perSecond,
          evalshaP50Us: service.latency.p50Us,
          rawEvalshaPerSecond: raw.perSecond,
          rawEvalshaP50Us: raw.latency.p50Us,
          lifecyclesPerSecond: lifecycles,
          ratio: round(lifecycles / (service.perSecond / 2), 3),
          ratioRaw: round(lifecycles / (raw.perSecond / 2), 3)
        }]
      })),
      keysLeftAfterCleanup: redis.leftover
    },
    targets,
    measured: {
      memoryLifecyclesPerSecond: memoryBest,
      redisLifecycleP50Us: redisP50 ?? null,
      redisLifecyclesPerSecondAt32: redisAt32 ?? null
    },
    met,
    wallSeconds: round((performance.now() - started) / 1000, 1)
  }
  console.log(`BENCH_LEDGER_JSON ${JSON.stringify(json)}`)
})

const printed = (figures: Effect.Effect<Part, unknown>) =>
  Effect.flatMap(figures, (found) => Effect.sync(() => console.log(`${partPrefix}${JSON.stringify(found)}`)))

const program = part === "memory" || part === "redis"
  ? printed(measurePart(part))
  : part === "baseline-kept" || part === "baseline-forgotten"
  ? printed(Effect.map(baselineRate(part === "baseline-kept" ? "kept" : "forgotten"), (perSecond): Part => ({
    store: "baseline",
    variant: part === "baseline-kept" ? "kept" : "forgotten",
    perSecond
  })))
  : main

Effect.runPromise(program).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
