/**
 * `pnpm bench:ledger:instructions`: what a reserve + commit lifecycle costs
 * Redis, in CPU instructions rather than seconds.
 *
 * Redis is the bottleneck of the Redis store at 32 clients, and on a shared
 * or virtual machine its time per lifecycle moves by ±15% from one minute to
 * the next, more than most changes to the scripts. Instructions do not move:
 * this bench starts a `redis-server` of its own under valgrind's callgrind
 * (instrumentation off), runs a fixed number of keyed lifecycles through the
 * `Ledger` over the Redis store with instrumentation on, and divides the
 * instructions Redis executed (everything: network, parsing, Lua, commands)
 * by the number of lifecycles. Two runs of the same build agree to within
 * about 1%, so a change of a few percent is visible.
 *
 * The baseline, counted the same way in the same run: a trivial `EVALSHA`
 * (`return 1`) through the same `Redis` service. The ratio is lifecycle
 * instructions ÷ trivial-call instructions.
 *
 * Needs `valgrind` (with `callgrind_control`) and `redis-server` on the
 * path; prints why and exits 0 when either is missing. Prints a table, then
 * one line `BENCH_LEDGER_INSTRUCTIONS_JSON {...}`.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Ledger } from "@timebox/core"
import { RedisLedgerStore } from "@timebox/redis"
import { Context, Effect, Layer, Schedule } from "effect"
import * as Redis from "effect/persistence/Redis"
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { connect, createServer } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Driver from "./ledgerDriver.ts"
import { round, table } from "./stats.ts"

/** Lifecycles counted per case: clients × lifecycles each. */
const cases: ReadonlyArray<{ readonly clients: number; readonly each: number }> = [
  { clients: 1, each: 300 },
  { clients: 8, each: 40 },
  { clients: 32, each: 10 }
]
const warmupEach = 5
const trivialCalls = 300

const available = (command: string, args: ReadonlyArray<string>): boolean => {
  const result = spawnSync(command, args, { stdio: "ignore" })
  return result.error === undefined && result.status === 0
}

const freePort = Effect.callback<number, Error>((resume) => {
  const server = createServer()
  server.on("error", (error) => resume(Effect.fail(error)))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Succeeds when 127.0.0.1:`port` answers PING. */
const ping = (port: number) =>
  Effect.callback<void, Error>((resume) => {
    const socket = connect({ host: "127.0.0.1", port })
    let answer = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resume(ok ? Effect.void : Effect.fail(new Error(`no PONG on port ${port}`)))
    }
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1")
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"))
    })
    socket.on("error", () => done(false))
  })

/** redis-server under callgrind, instrumentation off, stopped (and its files removed) with the scope. */
const callgrindRedis = Effect.acquireRelease(
  Effect.gen(function*() {
    const port = yield* freePort
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "timebox-callgrind-"))
    const child = spawn("valgrind", [
      "--tool=callgrind",
      "--instr-atstart=no",
      `--callgrind-out-file=${path.join(dir, "callgrind.out")}`,
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no"
    ], { stdio: "ignore" })
    return { port, dir, child }
  }),
  ({ child, dir }: { readonly port: number; readonly child: ChildProcess; readonly dir: string }) =>
    Effect.sync(() => {
      child.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    })
)

/**
 * Runs `effect` with callgrind's instrumentation on, then dumps and answers
 * the instructions counted meanwhile (the `totals:` line of the new dump).
 */
const counted = <A, E, R>(pid: number, dir: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = new Set(fs.readdirSync(dir))
    execFileSync("callgrind_control", ["-i", "on", String(pid)], { stdio: "ignore" })
    const value = yield* effect
    execFileSync("callgrind_control", ["-i", "off", String(pid)], { stdio: "ignore" })
    execFileSync("callgrind_control", ["-d", String(pid)], { stdio: "ignore" })
    for (let attempt = 0; attempt < 200; attempt++) {
      for (const name of fs.readdirSync(dir)) {
        if (before.has(name)) continue
        const totals = /^totals:\s+(\d+)/m.exec(fs.readFileSync(path.join(dir, name), "utf8"))
        if (totals !== null) return { value, instructions: Number(totals[1]) }
      }
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.fail(new Error("callgrind wrote no dump"))
  })

/** `each` keyed lifecycles on each of `clients` fibers, the same steps as `pnpm bench:ledger`'s. */
const lifecycles = (ledger: Ledger.Service, tenant: string, clients: number, each: number, label: string) =>
  Effect.forEach(
    Array.from({ length: clients }, (_, i) => i),
    (i) =>
      Effect.gen(function*() {
        const subject = Driver.subjectOf(tenant)
        const action = { kind: "llm.completion", name: "bench-model" }
        for (let n = 0; n < each; n++) {
          const key = `${label}-${i}-${n}`
          const answer = yield* ledger.reserve({
            tenant,
            subject,
            action,
            estimate: { unit: Driver.unit, amount: Driver.estimate },
            idempotencyKey: `${key}r`
          })
          if (answer.reservationId === undefined) return yield* Effect.fail(new Error("reserve denied"))
          yield* ledger.commit({
            tenant,
            reservationId: answer.reservationId,
            actual: { unit: Driver.unit, amount: Driver.actual },
            idempotencyKey: `${key}c`
          })
        }
      }),
    { concurrency: "unbounded", discard: true }
  )

const scriptCalls = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  const info = yield* redis.send<string>("INFO", "commandstats")
  return Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0)
})

const trivial = Redis.script(() => [], { numberOfKeys: 0, lua: "return 1" }).withReturnType<number>()

const main = Effect.gen(function*() {
  if (!available("valgrind", ["--version"]) || !available("callgrind_control", ["--version"])) {
    console.log("valgrind (callgrind) not found: skipped (Debian: apt-get install valgrind)")
    return
  }
  if (!available("redis-server", ["--version"])) {
    console.log("redis-server not found: skipped")
    return
  }
  const { port, dir, child } = yield* callgrindRedis
  const pid = child.pid ?? 0
  const url = `redis://127.0.0.1:${port}`
  // valgrind starts redis-server slowly
  yield* ping(port).pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 600 }))
  const client = NodeRedis.layer({ url, disableOfflineQueue: false, commandOptions: { timeout: 0 } })
  const context = yield* Layer.buildWithScope(
    Layer.merge(client, RedisLedgerStore.layer({ timeout: "120 seconds" }).pipe(Layer.provide(client))),
    yield* Effect.scope
  )
  const redis = Context.get(context, Redis.Redis)
  // no background sweeper: only the lifecycles' own calls are counted
  const ledger = yield* Ledger.make.pipe(Effect.provideContext(context))
  const node = process.version
  console.log(`timebox ledger instructions bench: node ${node}, redis-server under callgrind on port ${port}`)
  console.log(
    "Redis instructions per keyed reserve + commit lifecycle (everything Redis ran: network, parsing, Lua, " +
      "commands), against a trivial EVALSHA (`return 1`) counted the same way in this run."
  )

  const baseline = yield* counted(
    pid,
    dir,
    Effect.forEach(Array.from({ length: trivialCalls }), () => redis.eval(trivial)(), { discard: true })
  )
  const perTrivialCall = baseline.instructions / trivialCalls

  const rows: Array<{
    readonly clients: number
    readonly lifecycles: number
    readonly scriptCallsPerLifecycle: number
    readonly instructionsPerLifecycle: number
    readonly ratio: number
  }> = []
  for (const { clients, each } of cases) {
    const tenant = `instructions-${clients}-${process.pid}`
    yield* Driver.fund(ledger, tenant, Ledger.scopes(Driver.subjectOf(tenant)))
    yield* lifecycles(ledger, tenant, clients, warmupEach, "warmup")
    const callsBefore = yield* scriptCalls.pipe(Effect.provideContext(context))
    const { instructions } = yield* counted(pid, dir, lifecycles(ledger, tenant, clients, each, "measured"))
    const calls = (yield* scriptCalls.pipe(Effect.provideContext(context))) - callsBefore
    const count = clients * each
    rows.push({
      clients,
      lifecycles: count,
      scriptCallsPerLifecycle: round(calls / count, 2),
      instructionsPerLifecycle: Math.round(instructions / count),
      ratio: round(instructions / count / perTrivialCall, 1)
    })
  }
  console.log("")
  console.log(
    table(
      ["clients", "lifecycles", "script calls/lifecycle", "Redis instructions/lifecycle", "trivial EVALSHA", "ratio"],
      rows.map((row) => [
        row.clients,
        row.lifecycles,
        row.scriptCallsPerLifecycle,
        row.instructionsPerLifecycle,
        Math.round(perTrivialCall),
        row.ratio
      ])
    )
  )
  console.log(
    `BENCH_LEDGER_INSTRUCTIONS_JSON ${
      JSON.stringify({ node, trivialEvalshaInstructions: Math.round(perTrivialCall), cases: rows })
    }`
  )
  fs.rmSync(dir, { recursive: true, force: true })
})

Effect.runPromise(Effect.scoped(main)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
