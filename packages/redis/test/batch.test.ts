/**
 * The batcher of the hot operations (`internal/batch.ts`), over a fake
 * script call: operations started together leave together, in order, per
 * kind and tenant, up to `maxBatch` per call (callers started
 * together form at least two groups) and `maxInFlight` calls at once; when
 * batches come back together, each group goes on after the previous one's
 * next batch is written; each gets its own answer or failure; a failed or malformed call
 * fails each of its operations (a malformed entry, its own) and the batches waiting for a place
 * in flight; an interrupted caller leaves its batch.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as Batch from "../src/internal/batch.ts"

interface Call {
  readonly kind: string
  readonly tenant: string
  readonly argv: ReadonlyArray<string>
}

/** The operations of a call: its argv split by argument counts. */
const operationsOf = (argv: ReadonlyArray<string>): Array<Array<string>> => {
  const operations: Array<Array<string>> = []
  let at = 1
  while (at < argv.length) {
    const count = Number(argv[at])
    operations.push(argv.slice(at + 1, at + 1 + count))
    at += 1 + count
  }
  return operations
}

/** A fake script: answers "ok" with the operation's arguments joined, or "err" when the first is "fail". */
const echo = (argv: ReadonlyArray<string>) =>
  operationsOf(argv).flatMap((args) => args[0] === "fail" ? ["err", args.join(",")] : ["ok", args.join(",")])

const decode = (kind: string, text: string): Effect.Effect<string, string> =>
  kind === "ok" ? Effect.succeed(text) : Effect.fail(`failed: ${text}`)

const unavailable = (detail: string) => `unavailable: ${detail}`

const recording = (reply: (argv: ReadonlyArray<string>) => unknown = echo) => {
  const calls: Array<Call> = []
  const batcher = Batch.make<string, string>(
    (kind, tenant, argv) =>
      Effect.sync(() => {
        calls.push({ kind, tenant, argv })
        return reply(argv)
      }),
    unavailable
  )
  return { calls, batcher }
}

/**
 * A fake script that records each call's operations (their first argument),
 * then holds the calls `held` picks (by their number, from 1) until `gate`
 * is done, and answers with `answer` (the echo by default).
 */
const holding = (
  gate: Deferred.Deferred<void>,
  answer: (argv: ReadonlyArray<string>) => Effect.Effect<unknown, string> = (argv) => Effect.succeed(echo(argv)),
  held: (call: number) => boolean = () => true
) => {
  const sent: Array<Array<string>> = []
  const batcher = Batch.make<string, string>(
    (_kind, _tenant, argv) =>
      Effect.gen(function*() {
        sent.push(operationsOf(argv).map((args) => args[0]!))
        if (held(sent.length)) yield* Deferred.await(gate)
        return yield* answer(argv)
      }),
    unavailable,
    // an error Redis answered is not the connection's
    (error) => !error.startsWith("WRONGTYPE")
  )
  return { batcher, sent }
}

describe("RedisLedgerStore batching", () => {
  it.effect("operations started together leave together, in order, and each gets its own answer", () =>
    Effect.gen(function*() {
      const { batcher, calls } = recording()
      const answers = yield* Effect.forEach(
        ["a", "b", "fail", "c"],
        (name) => Effect.result(batcher.submit("reserve", "acme", [name, "x"], decode)),
        { concurrency: "unbounded" }
      )
      // four callers: two groups of two
      assert.deepStrictEqual(calls.map((call) => call.argv), [
        ["acme", "2", "a", "x", "2", "b", "x"],
        ["acme", "2", "fail", "x", "2", "c", "x"]
      ])
      assert.deepStrictEqual(answers.map((r) => r._tag === "Success" ? r.success : r.failure), [
        "a,x",
        "b,x",
        "failed: fail,x",
        "c,x"
      ])
    }))

  it.effect("kinds and tenants get batches of their own", () =>
    Effect.gen(function*() {
      const { batcher, calls } = recording()
      yield* Effect.all([
        batcher.submit("reserve", "acme", ["1"], decode),
        batcher.submit("commit", "acme", ["2"], decode),
        batcher.submit("reserve", "globex", ["3"], decode),
        batcher.submit("reserve", "acme", ["4"], decode)
      ], { concurrency: "unbounded" })
      const summary = calls.map((call) => `${call.kind}/${call.tenant}:${operationsOf(call.argv).join(";")}`).sort()
      assert.deepStrictEqual(summary, ["commit/acme:2", "reserve/acme:1;4", "reserve/globex:3"])
    }))

  it.effect("at most maxBatch operations per call, at most maxInFlight calls at once", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      let inFlight = 0
      let most = 0
      const sizes: Array<number> = []
      const batcher = Batch.make<string, string>(
        (_kind, _tenant, argv) =>
          Effect.gen(function*() {
            inFlight++
            most = Math.max(most, inFlight)
            sizes.push(operationsOf(argv).length)
            yield* Deferred.await(release)
            inFlight--
            return echo(argv)
          }),
        unavailable
      )
      const count = Batch.maxBatch * (Batch.maxInFlight + 2) + 3
      const fiber = yield* Effect.forEach(
        Array.from({ length: count }, (_, i) => String(i)),
        (name) => batcher.submit("reserve", "acme", [name], decode),
        { concurrency: "unbounded" }
      ).pipe(Effect.forkChild)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      assert.strictEqual(most, Batch.maxInFlight, "the others wait")
      yield* Deferred.succeed(release, undefined)
      const answers = yield* Fiber.join(fiber)
      assert.deepStrictEqual(answers, Array.from({ length: count }, (_, i) => String(i)))
      assert.strictEqual(most, Batch.maxInFlight)
      assert.isTrue(sizes.every((size) => size <= Batch.maxBatch), String(sizes))
      assert.strictEqual(sizes.reduce((a, b) => a + b, 0), count)
    }), { timeout: 10_000 })

  it.effect("callers started together form at least two groups, up to maxBatch operations each, evenly", () =>
    Effect.gen(function*() {
      const cases = [
        [1, [1]],
        [2, [1, 1]],
        [3, [2, 1]],
        [8, [4, 4]],
        [16, [8, 8]],
        [24, [12, 12]],
        [32, [16, 16]],
        [33, [11, 11, 11]],
        [40, [14, 14, 12]]
      ] as const
      for (const [count, sizes] of cases) {
        const { batcher, calls } = recording()
        yield* Effect.forEach(
          Array.from({ length: count }, (_, i) => String(i)),
          (name) => batcher.submit("reserve", "acme", [name], decode),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(calls.map((call) => operationsOf(call.argv).length), [...sizes], `${count} callers`)
      }
    }))

  it.effect(
    "when two batches come back together, the second group goes on after the first's next batch is written",
    () =>
      Effect.gen(function*() {
        const release = yield* Deferred.make<void>()
        const bothWaiting = yield* Deferred.make<void>()
        let waiting = 0
        const log: Array<string> = []
        const batcher = Batch.make<string, string>(
          (kind, _tenant, argv) =>
            Effect.gen(function*() {
              // the client writes what it was given on setImmediate, as node-redis does
              const first = operationsOf(argv)[0]![0]!
              setImmediate(() => log.push(`write ${kind} ${first}`))
              if (kind === "reserve") {
                if (++waiting === 2) yield* Deferred.succeed(bothWaiting, undefined)
                yield* Deferred.await(release)
              }
              return echo(argv)
            }),
          unavailable
        )
        const callers = yield* Effect.forEach(
          Array.from({ length: 16 }, (_, i) => String(i)),
          (name) =>
            Effect.gen(function*() {
              yield* batcher.submit("reserve", "acme", [name], decode)
              log.push(`resume ${name}`)
              yield* batcher.submit("commit", "acme", [name], decode)
            }),
          { concurrency: "unbounded" }
        ).pipe(Effect.forkChild)
        yield* Deferred.await(bothWaiting)
        // both reserve batches (callers 0-7 and 8-15) in flight; they come back together
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(callers)
        const at = (entry: string) => log.indexOf(entry)
        assert.isAtLeast(at("write commit 0"), 0, log.join("; "))
        for (let i = 0; i < 8; i++) assert.isBelow(at(`resume ${i}`), at("write commit 0"), log.join("; "))
        for (let i = 8; i < 16; i++) assert.isAbove(at(`resume ${i}`), at("write commit 0"), log.join("; "))
        assert.isBelow(at("write commit 0"), at("write commit 8"))
      }),
    { timeout: 10_000 }
  )

  it.effect(
    "batches that wait for a place in flight leave together: same kind and tenant, in order",
    () =>
      Effect.gen(function*() {
        const release = yield* Deferred.make<void>()
        const { batcher, sent } = holding(release, undefined, (call) => call <= Batch.maxInFlight)
        // one operation a tick: each its own batch; the first ones fill every place in flight
        const names = [...Array.from({ length: Batch.maxInFlight + 1 }, (_, i) => `r${i}`), "c", "r-a", "r-b"]
        const fibers: Array<Fiber.Fiber<string, string>> = []
        for (const name of names) {
          fibers.push(
            yield* batcher.submit(name === "c" ? "commit" : "reserve", "acme", [name], decode).pipe(Effect.forkChild)
          )
          yield* Effect.yieldNow
        }
        // the last caller's batch is formed at the end of its tick
        yield* Effect.yieldNow
        assert.strictEqual(sent.length, Batch.maxInFlight, "the others wait")
        yield* Deferred.succeed(release, undefined)
        for (const fiber of fibers) yield* Fiber.join(fiber)
        assert.deepStrictEqual(sent.slice(Batch.maxInFlight), [[`r${Batch.maxInFlight}`, "r-a", "r-b"], ["c"]])
      }),
    { timeout: 10_000 }
  )

  it.effect("a failed call fails each of its operations with the call's error", () =>
    Effect.gen(function*() {
      const batcher = Batch.make<string, string>(() => Effect.fail("connection lost"), unavailable)
      const results = yield* Effect.forEach(
        ["a", "b"],
        (name) => Effect.flip(batcher.submit("commit", "acme", [name], decode)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results, ["connection lost", "connection lost"])
    }))

  it.effect(
    "a call Redis answered with an error fails its own operations only: the batches waiting are sent",
    () =>
      Effect.gen(function*() {
        const fail = yield* Deferred.make<void>()
        // the first call (one tenant's) hits a corrupt key; the others are fine
        const { batcher, sent } = holding(
          fail,
          (argv) =>
            operationsOf(argv).some((args) => args[0] === "0")
              ? Effect.fail("WRONGTYPE Operation against a key")
              : Effect.succeed(echo(argv)),
          (call) => call <= Batch.maxInFlight
        )
        const count = Batch.maxBatch * Batch.maxInFlight
        const busy = yield* Effect.forEach(
          Array.from({ length: count }, (_, i) => String(i)),
          (name) => Effect.result(batcher.submit("reserve", "acme", [name], decode)),
          { concurrency: "unbounded" }
        ).pipe(Effect.forkChild)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        const waiting = yield* Effect.all([
          batcher.submit("reserve", "acme", ["late"], decode),
          batcher.submit("commit", "globex", ["other"], decode)
        ], { concurrency: "unbounded" }).pipe(Effect.forkChild)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        assert.strictEqual(sent.length, Batch.maxInFlight)
        yield* Deferred.succeed(fail, undefined)
        assert.deepStrictEqual(yield* Fiber.join(waiting), ["late", "other"])
        const results = yield* Fiber.join(busy)
        // the failed call's operations got its error, every other operation its answer
        const failed = results.filter((result) => result._tag === "Failure")
        assert.isAbove(failed.length, 0)
        for (const result of failed) {
          assert.strictEqual(result._tag === "Failure" && result.failure, "WRONGTYPE Operation against a key")
        }
      }),
    { timeout: 10_000 }
  )

  it.effect(
    "a failed call fails the batches waiting for a place in flight too, and they are never sent",
    () =>
      Effect.gen(function*() {
        const fail = yield* Deferred.make<void>()
        const { batcher, sent } = holding(fail, () => Effect.fail("no reply"))
        // every place in flight taken, and two more batches (another tenant's among them) waiting
        const count = Batch.maxBatch * Batch.maxInFlight
        const busy = yield* Effect.forEach(
          Array.from({ length: count }, (_, i) => String(i)),
          (name) => Effect.flip(batcher.submit("reserve", "acme", [name], decode)),
          { concurrency: "unbounded" }
        ).pipe(Effect.forkChild)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        const waiting = yield* Effect.all([
          Effect.flip(batcher.submit("reserve", "acme", ["late"], decode)),
          Effect.flip(batcher.submit("commit", "globex", ["other"], decode))
        ], { concurrency: "unbounded" }).pipe(Effect.forkChild)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        assert.strictEqual(sent.length, Batch.maxInFlight)
        yield* Deferred.succeed(fail, undefined)
        assert.deepStrictEqual(yield* Fiber.join(waiting), ["no reply", "no reply"])
        assert.deepStrictEqual(yield* Fiber.join(busy), Array.from({ length: count }, () => "no reply"))
        assert.strictEqual(sent.length, Batch.maxInFlight, "the waiting batches were not sent")
      }),
    { timeout: 10_000 }
  )

  it.effect("a reply that is not one kind and text per operation fails them all as unavailable", () =>
    Effect.gen(function*() {
      for (const reply of [["ok"], "OK", ["ok", "a", "ok"]]) {
        const { batcher } = recording(() => reply)
        const results = yield* Effect.forEach(
          ["a", "b"],
          (name) => Effect.flip(batcher.submit("commit", "acme", [name], decode)),
          { concurrency: "unbounded" }
        )
        for (const error of results) assert.match(error, /^unavailable: unexpected reply/, JSON.stringify(reply))
      }
      // one operation's entry malformed: that one fails, the other of its call is answered
      // (four callers: two calls of two, each answered the same way)
      const { batcher } = recording(() => ["ok", 1, "ok", "b"])
      const results = yield* Effect.forEach(
        ["a", "b", "c", "d"],
        (name) => Effect.result(batcher.submit("commit", "acme", [name], decode)),
        { concurrency: "unbounded" }
      )
      for (const [i, result] of results.entries()) {
        if (i % 2 === 0) {
          assert.isTrue(result._tag === "Failure" && result.failure.startsWith("unavailable: unexpected reply"))
        } else assert.isTrue(result._tag === "Success" && result.success === "b")
      }
    }))

  it.effect(
    "a caller interrupted while its batch waits for a place in flight is taken out of it",
    () =>
      Effect.gen(function*() {
        const release = yield* Deferred.make<void>()
        const { batcher, sent } = holding(release)
        // fill every place in flight, then queue one more batch behind them
        const busy = yield* Effect.forEach(
          Array.from({ length: Batch.maxBatch * Batch.maxInFlight }, (_, i) => String(i)),
          (name) => batcher.submit("reserve", "acme", [name], decode),
          { concurrency: "unbounded" }
        ).pipe(Effect.forkChild)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        const doomed = yield* batcher.submit("reserve", "acme", ["doomed"], decode).pipe(Effect.forkChild)
        const kept = yield* batcher.submit("reserve", "acme", ["kept"], decode).pipe(Effect.forkChild)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        assert.strictEqual(sent.length, Batch.maxInFlight, "the last batch waits")
        yield* Fiber.interrupt(doomed)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(busy)
        assert.strictEqual(yield* Fiber.join(kept), "kept")
        assert.isFalse(sent.flat().includes("doomed"), JSON.stringify(sent))
      }),
    { timeout: 10_000 }
  )

  it.effect("a caller interrupted before its batch leaves is taken out of it", () =>
    Effect.gen(function*() {
      const { batcher, calls } = recording()
      const doomed = yield* batcher.submit("release", "acme", ["doomed"], decode).pipe(Effect.forkChild)
      yield* Fiber.interrupt(doomed)
      assert.strictEqual(yield* batcher.submit("release", "acme", ["kept"], decode), "kept")
      assert.deepStrictEqual(calls.map((call) => operationsOf(call.argv)), [[["kept"]]])
    }))
})
