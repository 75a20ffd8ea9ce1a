// A Redis that cannot be reached, or goes away mid-run, is the StoreUnavailable
// reason (fail closed), never a hang; once it is back the store works again,
// reloading its scripts (NOSCRIPT). A Redis that stops answering fails the call
// after the store's timeout, on the wall clock even under TestClock.
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, it } from "@effect/vitest"
import { Ledger } from "@timebox/core"
import { Cause, Config, ConfigProvider, Context, Duration, Effect, Fiber, Layer, Schedule } from "effect"
import * as Redis from "effect/persistence/Redis"
import { TestClock } from "effect/testing"
import * as Net from "node:net"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"
import { freePort, hasRedisServer, startRedisServer, stopRedisServer } from "./redisServer.ts"

const action: Ledger.Action = { kind: "llm.completion", name: "test-model" }

/** The ledger on `layerUrl`, no background sweeper. */
const ledgerOn = (url: string, options: { readonly timeout?: Duration.Input; readonly prefix?: string } = {}) =>
  Ledger.layer.pipe(
    Layer.provide(
      RedisLedgerStore.layerUrl({ url, prefix: options.prefix ?? "timebox-connection-test", timeout: options.timeout })
    ),
    Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
  )

/** Waits `ms` of real time (the store's timeouts are on the wall clock, even under TestClock). */
const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Starts `call` every 20 ms, none waited for: a connection that never idles for a timeout. */
const steadily = (call: Effect.Effect<unknown, unknown>) =>
  Effect.forkScoped(Effect.forever(Effect.forkDetach(Effect.ignore(call)).pipe(Effect.andThen(realSleep(20)))))

/** The reason of a failed ledger call, which must come at once (no queueing behind a dead connection). */
const reasonOf = <A>(effect: Effect.Effect<A, Ledger.LedgerError>) =>
  Effect.flip(effect).pipe(
    Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.die("the call hung instead of failing") }),
    Effect.map((error) => error.reason)
  )

/**
 * A proxy on a free port to the test Redis that, once silenced, forwards
 * what clients send but none of the replies: a Redis that hangs. A black
 * hole silences only the connections open now (a connection a firewall or
 * NAT dropped without a word); connections made after it work. With
 * `delayMs`, every reply arrives that much later (a slow Redis).
 * `connections` counts the connections made so far; `open(n)` tells
 * whether the n-th is still open.
 */
const hangingProxy = (target: string, delayMs = 0) =>
  Effect.acquireRelease(
    Effect.callback<
      {
        readonly port: number
        readonly silence: () => void
        readonly blackHole: () => void
        readonly connections: () => number
        readonly open: (connection: number) => boolean
        readonly close: () => void
      }
    >(
      (resume) => {
        const { hostname, port } = new URL(target)
        let silent = false
        let connections = 0
        const sockets = new Set<Net.Socket>()
        const clients: Array<Net.Socket> = []
        const holes = new Set<Net.Socket>()
        const server = Net.createServer((socket) => {
          connections++
          const upstream = Net.connect(Number(port), hostname)
          sockets.add(socket).add(upstream)
          clients.push(socket)
          for (const end of [socket, upstream]) end.on("error", () => {})
          socket.on("data", (data) => upstream.write(data))
          upstream.on("data", (data) => {
            if (silent || holes.has(socket)) return
            if (delayMs === 0) socket.write(data)
            else setTimeout(() => socket.write(data), delayMs)
          })
          socket.on("close", () => upstream.destroy())
        })
        server.listen(0, "127.0.0.1", () =>
          resume(Effect.succeed({
            port: (server.address() as Net.AddressInfo).port,
            silence: () => {
              silent = true
            },
            blackHole: () => {
              for (const socket of sockets) holes.add(socket)
            },
            connections: () => connections,
            open: (connection) => clients[connection - 1]?.destroyed === false,
            close: () => {
              server.close()
              for (const socket of sockets) socket.destroy()
            }
          })))
      }
    ),
    ({ close }) => Effect.sync(close)
  )

describe("RedisLedgerStore connection", () => {
  it.effect("a reply that is not what Redis answers (a set that is not a list) is StoreUnavailable, not a defect", () =>
    Effect.gen(function*() {
      const client = NodeRedis.layer({ url: inject("redisUrl") })
      // the real Redis, but SMEMBERS (the tenants a sweep of all tenants visits) answers a number
      const garbled = Layer.effect(
        Redis.Redis,
        Effect.gen(function*() {
          const redis = yield* Redis.Redis
          return Redis.Redis.of({
            ...redis,
            send: <A>(command: string, ...args: ReadonlyArray<string>) =>
              command === "SMEMBERS" ? Effect.succeed(7 as A) : redis.send<A>(command, ...args)
          })
        })
      ).pipe(Layer.provide(client))
      const reason = yield* Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        return yield* reasonOf(ledger.sweep({}))
      }).pipe(
        Effect.provide(
          Ledger.layer.pipe(
            Layer.provide(RedisLedgerStore.layer({ prefix: "timebox-connection-test" })),
            Layer.provide(garbled),
            Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
          )
        )
      )
      assert.strictEqual(reason._tag, "StoreUnavailable")
      assert.match(reason.message, /unexpected reply to SMEMBERS .*: 7/)
    }))

  it.effect(
    "a Redis that stops answering fails every call with StoreUnavailable after the timeout (wall clock, under TestClock), and the layer still closes",
    () =>
      Effect.gen(function*() {
        const proxy = yield* hangingProxy(inject("redisUrl"))
        const tenant = `hang-${Math.random().toString(36).slice(2, 8)}`
        const request = {
          tenant,
          subject: { tenant },
          action,
          estimate: { unit: "TOKENS" as const, amount: 1 }
        }
        const waited = yield* Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(
            ledgerOn(`redis://127.0.0.1:${proxy.port}`, {
              prefix: `${inject("redisPrefix")}:hang`,
              timeout: "150 millis"
            })
          )
          const ledger = Context.get(context, Ledger.Ledger)
          // the tenant known and the scripts loaded, so the calls below go in batches
          yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 1_000 })
          const first = yield* ledger.reserve(request)
          yield* ledger.release({ tenant, reservationId: first.reservationId! })
          proxy.silence()
          const started = Date.now()
          // far more batches than can be in flight: the ones waiting fail with the first that times out
          const errors = yield* Effect.forEach(
            Array.from({ length: 400 }, () => request),
            (input) => Effect.flip(ledger.reserve(input)),
            { concurrency: "unbounded" }
          )
          const elapsed = Date.now() - started
          for (const error of errors) {
            assert.strictEqual(error.reason._tag, "StoreUnavailable")
            assert.include(error.message, "no reply from Redis within 150ms")
          }
          return elapsed
        }))
        assert.isAtLeast(waited, 140, "the calls waited for the timeout")
        assert.isBelow(waited, 1_000, "no call waited much longer than one timeout")
      }),
    { timeout: 20_000 }
  )

  it.effect(
    "a connection that stops answering while calls keep coming is dropped and replaced: calls answer again within a few timeouts",
    () =>
      Effect.gen(function*() {
        const proxy = yield* hangingProxy(inject("redisUrl"))
        const tenant = `hole-${Math.random().toString(36).slice(2, 8)}`
        const request = { tenant, subject: { tenant }, action, estimate: { unit: "TOKENS" as const, amount: 1 } }
        const outcome = yield* Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(
            ledgerOn(`redis://127.0.0.1:${proxy.port}`, {
              prefix: `${inject("redisPrefix")}:hole`,
              timeout: "200 millis"
            })
          )
          const ledger = Context.get(context, Ledger.Ledger)
          yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 1_000 })
          assert.strictEqual((yield* ledger.decide(request)).decision, "allow")
          const before = proxy.connections()
          proxy.blackHole()
          const started = Date.now()
          // a call started every 20 ms, each waiting for its answer or its timeout: the socket
          // never idles for a timeout, so its own idle timeout never fires
          yield* steadily(ledger.decide(request))
          const failures: Array<string> = []
          for (;;) {
            const exit = yield* Effect.exit(ledger.decide(request))
            if (exit._tag === "Success") break
            const error = exit.cause.reasons.find(Cause.isFailReason)?.error
            failures.push(error?.reason._tag ?? "defect")
            if (Date.now() - started > 5_000) break
            yield* realSleep(20)
          }
          return { elapsed: Date.now() - started, failures, reconnected: proxy.connections() - before }
        }))
        assert.isAbove(outcome.failures.length, 0, "calls failed while the connection was dead")
        assert.deepStrictEqual([...new Set(outcome.failures)], ["StoreUnavailable"])
        assert.isBelow(outcome.elapsed, 2_000, "a call answered again within a few timeouts")
        assert.isAtLeast(outcome.reconnected, 1, "a new connection was made")
      }),
    { timeout: 20_000 }
  )

  it.effect(
    "a slow Redis that keeps answering under load keeps its connection",
    () =>
      Effect.gen(function*() {
        // each reply 90 ms late (a first script call, SCRIPT LOAD then EVALSHA, takes two),
        // a timeout of 200 ms, a call started every 20 ms for a second
        const proxy = yield* hangingProxy(inject("redisUrl"), 90)
        const tenant = `slow-${Math.random().toString(36).slice(2, 8)}`
        const request = { tenant, subject: { tenant }, action, estimate: { unit: "TOKENS" as const, amount: 1 } }
        const answers = yield* Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 1_000 })
          const calls = yield* Effect.forEach(
            Array.from({ length: 50 }, (_, i) => i),
            (i) => realSleep(20 * i).pipe(Effect.andThen(Effect.exit(ledger.decide(request)))),
            { concurrency: "unbounded" }
          )
          return calls.filter((exit) => exit._tag === "Success").length
        }).pipe(
          Effect.provide(
            ledgerOn(`redis://127.0.0.1:${proxy.port}`, {
              prefix: `${inject("redisPrefix")}:slow`,
              timeout: "200 millis"
            })
          )
        )
        assert.strictEqual(answers, 50, "every call answered")
        assert.strictEqual(proxy.connections(), 1, "one connection all along")
      }),
    { timeout: 20_000 }
  )

  it.live.skipIf(!hasRedisServer())(
    "a Redis busy for several timeouts (a long script) keeps the connection and answers on it as soon as it is free",
    () =>
      Effect.gen(function*() {
        // a private Redis: the busy script would stall every other test on a shared one
        const server = yield* Effect.acquireRelease(
          Effect.promise(() => startRedisServer()),
          ({ child }) => Effect.promise(() => stopRedisServer(child, "SIGKILL"))
        )
        const proxy = yield* hangingProxy(server.url)
        const tenant = "busy"
        const request = { tenant, subject: { tenant }, action, estimate: { unit: "TOKENS" as const, amount: 1 } }
        const outcome = yield* Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          yield* ledger.createBudget({ tenant, scope: "tenant:busy", unit: "TOKENS", allocated: 1_000 })
          assert.strictEqual((yield* ledger.decide(request)).decision, "allow")
          const before = proxy.connections()
          // a script that keeps Redis busy for 1.2 s (six timeouts), from another client
          const busy = yield* Effect.forkScoped(
            Redis.Redis.use((redis) =>
              redis.send(
                "EVAL",
                "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] " +
                  "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 1200000 return 1",
                "0"
              )
            ).pipe(Effect.provide(NodeRedis.layer({ url: server.url })))
          )
          // calls keep coming meanwhile
          yield* steadily(ledger.decide(request))
          yield* realSleep(50)
          yield* Fiber.join(busy)
          const free = Date.now()
          // the first call started after the script ended answers at once
          const after = yield* Effect.exit(ledger.decide(request))
          return { waited: Date.now() - free, after, kept: proxy.open(before), probes: proxy.connections() - before }
        }).pipe(Effect.provide(ledgerOn(`redis://127.0.0.1:${proxy.port}`, { timeout: "200 millis" })), Effect.scoped)
        assert.strictEqual(outcome.after._tag, "Success", "answered right after the script")
        assert.isBelow(outcome.waited, 150, "no reconnection to wait for")
        assert.isTrue(outcome.kept, "the same connection all along")
        assert.isAtLeast(outcome.probes, 1, "the silent connection was suspected and probed")
      }).pipe(Effect.scoped),
    { timeout: 20_000 }
  )

  it.effect("an unreachable Redis fails the layer with the StoreUnavailable reason, naming the URL without its password", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const error = yield* Effect.flip(
        Layer.build(RedisLedgerStore.layerUrl({ url: `redis://:secret@127.0.0.1:${port}` }))
      )
      assert.strictEqual(error._tag, "LedgerError")
      const ledgerError = error as Ledger.LedgerError
      assert.strictEqual(ledgerError.method, "RedisLedgerStore.connect")
      assert.strictEqual(ledgerError.reason._tag, "StoreUnavailable")
      assert.strictEqual((ledgerError.reason as Ledger.StoreUnavailable).store, "redis")
      assert.isTrue(ledgerError.isRetryable)
      assert.include(ledgerError.message, `127.0.0.1:${port}`)
      assert.notInclude(ledgerError.message, "secret")
    }))

  it.effect(
    "a server that accepts the connection but never answers fails the layer within the timeout",
    () =>
      Effect.gen(function*() {
        const proxy = yield* hangingProxy(inject("redisUrl"))
        proxy.silence()
        const started = Date.now()
        const error = yield* Effect.flip(
          Layer.build(
            RedisLedgerStore.layerUrl({ url: `redis://:secret@127.0.0.1:${proxy.port}`, timeout: "200 millis" })
          )
        )
        const elapsed = Date.now() - started
        assert.strictEqual(error._tag, "LedgerError")
        const ledgerError = error as Ledger.LedgerError
        assert.strictEqual(ledgerError.method, "RedisLedgerStore.connect")
        assert.strictEqual(ledgerError.reason._tag, "StoreUnavailable")
        assert.include(
          ledgerError.message,
          `cannot connect to redis://***@127.0.0.1:${proxy.port}: Socket timeout`
        )
        assert.include(ledgerError.message, "200ms")
        assert.isAtLeast(elapsed, 190)
        assert.isBelow(elapsed, 2_000)
      }),
    { timeout: 10_000 }
  )

  it.effect(
    "a connection idle for longer than the timeout still answers (pings keep it busy; a timed-out one reconnects)",
    () =>
      Effect.gen(function*() {
        const tenant = `idle-${Math.random().toString(36).slice(2, 8)}`
        const prefix = `${inject("redisPrefix")}:idle`
        yield* Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 10 })
          // real time: three timeouts without a call
          yield* realSleep(450)
          const answer = yield* ledger.decide({
            tenant,
            subject: { tenant },
            action,
            estimate: { unit: "TOKENS", amount: 1 }
          })
          assert.strictEqual(answer.decision, "allow")
        }).pipe(
          Effect.provide(
            Ledger.layer.pipe(
              Layer.provide(RedisLedgerStore.layerUrl({ url: inject("redisUrl"), prefix, timeout: "150 millis" })),
              Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
            )
          )
        )
      }),
    { timeout: 10_000 }
  )

  it.effect("after Redis lost its tenant set, creating a budget registers the tenant again for the sweeper", () =>
    Effect.gen(function*() {
      const tenant = `lost-${Math.random().toString(36).slice(2, 8)}`
      const prefix = `${inject("redisPrefix")}:lost-${tenant}`
      const request = {
        tenant,
        subject: { tenant },
        action,
        estimate: { unit: "TOKENS" as const, amount: 4 },
        ttlMs: 1_000
      }
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger.Ledger
        const redis = yield* Redis.Redis
        yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 10 })
        yield* ledger.reserve(request)
        // the data is lost (FLUSHALL, a restart without persistence): here, every key of this prefix
        const keys = yield* redis.send<ReadonlyArray<string>>("KEYS", `${prefix}:*`)
        yield* redis.send("DEL", ...keys)
        // the budget is created anew, by the same process, which had seen the tenant before
        yield* ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 10 })
        const held = yield* ledger.reserve(request)
        yield* TestClock.adjust("7 seconds") // past expiresAt + grace
        assert.deepStrictEqual((yield* ledger.sweep({})).expired, [held.reservationId!])
      }).pipe(
        Effect.provide(
          Ledger.layer.pipe(
            Layer.provide(RedisLedgerStore.layerUrl({ url: inject("redisUrl"), prefix })),
            Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity)),
            Layer.merge(NodeRedis.layer({ url: inject("redisUrl") }))
          )
        )
      )
    }))

  it.effect("a bad URL or timeout fails the layer with InvalidRequest naming the option, the password left out", () =>
    Effect.gen(function*() {
      const invalid = (options: RedisLedgerStore.UrlOptions) =>
        Effect.map(Effect.flip(Layer.build(RedisLedgerStore.layerUrl(options))), (error) => {
          assert.strictEqual(error._tag, "LedgerError")
          const ledgerError = error as Ledger.LedgerError
          assert.strictEqual(ledgerError.method, "RedisLedgerStore.connect")
          assert.strictEqual(ledgerError.reason._tag, "InvalidRequest")
          assert.isFalse(ledgerError.isRetryable)
          return ledgerError.message
        })
      const url = inject("redisUrl")
      assert.strictEqual(
        yield* invalid({ url: "http://:hunter2@127.0.0.1:6379" }),
        "RedisLedgerStore.connect: invalid url (\"http://***@127.0.0.1:6379\"): expected the redis: or rediss: scheme, not http:"
      )
      assert.include(yield* invalid({ url: "127.0.0.1:6379" }), "invalid url (\"127.0.0.1:6379\"): expected redis://")
      assert.include(yield* invalid({ url: "redis://:hunter2@127.0.0.1:99999" }), "invalid url")
      assert.notInclude(yield* invalid({ url: "redis://:hunter2@127.0.0.1:99999" }), "hunter2")
      assert.include(yield* invalid({ url: "not a url" }), "expected redis://[[user]:password@]host[:port][/db]")
      assert.strictEqual(
        yield* invalid({ url, timeout: "abc" as Duration.Input }),
        "RedisLedgerStore.connect: invalid timeout (\"abc\"): expected a duration above zero and at most 2^31-1 ms (~24.8 days), e.g. \"5 seconds\""
      )
      assert.include(yield* invalid({ url, timeout: 0 }), "invalid timeout (0)")
      assert.include(yield* invalid({ url, timeout: -5 }), "invalid timeout (-5)")
      assert.include(yield* invalid({ url, timeout: Duration.infinity }), "invalid timeout")
      assert.include(yield* invalid({ url, timeout: Duration.days(25) }), "invalid timeout")
      assert.include(yield* invalid({ url: "redis://127.0.0.1:0" }), "expected a port from 1 to 65535")
    }))

  it.effect("a program on a ledger whose Redis cannot be reached fails with StoreUnavailable", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const error = yield* Effect.flip(
        Effect.flatMap(
          Ledger.Ledger,
          (ledger) =>
            ledger.decide({
              tenant: "acme",
              subject: { tenant: "acme" },
              action,
              estimate: { unit: "TOKENS", amount: 1 }
            })
        ).pipe(
          Effect.provide(ledgerOn(`redis://127.0.0.1:${port}`))
        )
      )
      assert.strictEqual(error.reason._tag, "StoreUnavailable")
    }))

  it.effect("layerConfig reads the URL and prefix from Config; a missing URL is a ConfigError", () =>
    Effect.gen(function*() {
      const options = {
        url: Config.String("TIMEBOX_TEST_REDIS_URL"),
        prefix: Config.String("TIMEBOX_TEST_LEDGER_PREFIX")
      }
      const env = {
        TIMEBOX_TEST_REDIS_URL: inject("redisUrl"),
        TIMEBOX_TEST_LEDGER_PREFIX: `${inject("redisPrefix")}:config`
      }
      const tenant = `config-${Math.random().toString(36).slice(2, 8)}`
      const created = yield* Effect.flatMap(
        Ledger.Ledger,
        (ledger) => ledger.createBudget({ tenant, scope: `tenant:${tenant}`, unit: "TOKENS", allocated: 10 })
      ).pipe(
        Effect.provide(
          Ledger.layer.pipe(
            Layer.provide(RedisLedgerStore.layerConfig(options)),
            Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity)),
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
          )
        )
      )
      assert.strictEqual(created.balances[0]!.allocated, 10n)
      const missing = yield* Effect.flip(
        Layer.build(RedisLedgerStore.layerConfig(options)).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} })))
        )
      )
      assert.strictEqual(missing._tag, "ConfigError")
    }))

  it.live.skipIf(!hasRedisServer())(
    "a Redis that goes away fails calls at once with StoreUnavailable; when it is back, the store works again",
    () =>
      Effect.gen(function*() {
        const server = yield* Effect.acquireRelease(
          Effect.promise(() => startRedisServer()),
          ({ child }) => Effect.promise(() => stopRedisServer(child, "SIGKILL"))
        )
        yield* Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          const tenant = "acme"
          const subject = { tenant, app: "support" }
          const estimate = { unit: "TOKENS", amount: 100 } as const
          const setUp = Effect.gen(function*() {
            yield* ledger.createBudget({ tenant, scope: "tenant:acme", unit: "TOKENS", allocated: 1_000 })
            return yield* ledger.reserve({ tenant, subject, action, estimate })
          })
          const held = yield* setUp
          assert.strictEqual(held.decision, "allow")

          yield* Effect.promise(() => stopRedisServer(server.child, "SIGKILL"))
          const calls: ReadonlyArray<Effect.Effect<unknown, Ledger.LedgerError>> = [
            ledger.reserve({ tenant, subject, action, estimate }),
            ledger.decide({ tenant, subject, action, estimate }),
            ledger.commit({ tenant, reservationId: held.reservationId!, actual: estimate }),
            ledger.balances({ tenant, subject }),
            ledger.sweep({})
          ]
          for (const call of calls) {
            const reason = yield* reasonOf(call)
            assert.strictEqual(reason._tag, "StoreUnavailable")
            assert.isTrue(reason.isRetryable)
          }

          // The same port again, empty (no persistence) and without our scripts:
          // the client reconnects and loads the scripts again on NOSCRIPT.
          const restarted = yield* Effect.acquireRelease(
            Effect.promise(() => startRedisServer(server.port)),
            ({ child }) => Effect.promise(() => stopRedisServer(child, "SIGKILL"))
          )
          const again = yield* setUp.pipe(
            Effect.retry({
              schedule: Schedule.spaced("50 millis"),
              times: 100,
              while: (error) => error.reason._tag === "StoreUnavailable"
            })
          )
          assert.strictEqual(again.decision, "allow")

          // Scripts flushed while connected: EVALSHA answers NOSCRIPT, the script is loaded again.
          yield* Redis.Redis.use((redis) => redis.send("SCRIPT", "FLUSH")).pipe(
            Effect.provide(NodeRedis.layer({ url: restarted.url }))
          )
          const committed = yield* ledger.commit({ tenant, reservationId: again.reservationId!, actual: estimate })
          assert.strictEqual(committed.status, "committed")
        }).pipe(Effect.provide(ledgerOn(server.url)))
      }).pipe(Effect.scoped)
  )
})
