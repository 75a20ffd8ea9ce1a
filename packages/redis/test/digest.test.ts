/**
 * The idempotency digests of the hot operations (`internal/digest.ts`) must
 * be equal exactly when the requests' fingerprints are (same request: a
 * replay; another: a mismatch), whatever the remembered reserve shape: on
 * seeded random sequences of requests built by the `Ledger` itself (so with
 * its real fingerprints), each mostly equal to the one before but for one
 * field, no digest stands for two fingerprints, no fingerprint gets two
 * digests, and none holds a newline (the record's separator).
 */
import { assert, describe, it } from "@effect/vitest"
import { Ledger, LedgerStore } from "@timebox/core"
import { Effect } from "effect"
import { prng, type Random } from "timebox-test/random"
import * as Digest from "../src/internal/digest.ts"
import * as Keys from "../src/internal/keys.ts"

/** A ledger whose store keeps every hot command it is handed (and answers it from memory). */
const capturing = Effect.gen(function*() {
  const commands = {
    reserve: [] as Array<LedgerStore.ReserveCommand>,
    commit: [] as Array<LedgerStore.CommitCommand>,
    release: [] as Array<LedgerStore.ReleaseCommand>,
    extend: [] as Array<LedgerStore.ExtendCommand>
  }
  const memory = yield* LedgerStore.makeMemory
  const keeping = <C, A, E>(kept: Array<C>, operation: (command: C) => Effect.Effect<A, E>) => (command: C) => {
    kept.push(command)
    return operation(command)
  }
  const store: LedgerStore.Service = {
    ...memory,
    reserve: keeping(commands.reserve, memory.reserve),
    commit: keeping(commands.commit, memory.commit),
    release: keeping(commands.release, memory.release),
    extend: keeping(commands.extend, memory.extend)
  }
  const ledger = yield* Ledger.make.pipe(Effect.provideService(LedgerStore.LedgerStore, store))
  return { ledger, commands }
})

type Encoded = typeof Ledger.ReserveRequest.Encoded

/** `value` with `key` set to `item`, or without `key` when `item` is undefined (optional keys take no `undefined`). */
const withKey = <A extends object>(value: A, key: string, item: unknown): A => {
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  if (item === undefined) delete copy[key]
  else copy[key] = item
  return copy as A
}

/** One field of a reserve request changed at random (or none), the rest as in `base`. */
const vary = (random: Random, base: Encoded, n: number): Encoded => {
  const request: { -readonly [K in keyof Encoded]: Encoded[K] } = { ...base }
  if (random.chance(0.8)) request.idempotencyKey = `k-${n}`
  else delete request.idempotencyKey
  switch (random.int(0, 13)) {
    case 0:
      request.subject = { ...base.subject, app: random.pick(["support", "billing"]) }
      break
    case 1:
      request.subject = withKey(base.subject, "agent", random.pick(["bot", "helper", undefined]))
      break
    case 2:
      request.subject = withKey(
        base.subject,
        random.pick(["workspace", "workflow", "toolset"]),
        random.pick(["w1", undefined])
      )
      break
    case 3:
      request.action = { ...base.action, kind: random.pick(["llm.completion", "tool.call"]) }
      break
    case 4:
      request.action = { ...base.action, name: random.pick(["model-a", "model-b"]) }
      break
    case 5:
      request.estimate = { unit: base.estimate.unit, amount: random.pick([100, 200, 300]) }
      break
    case 6:
      request.estimate = { unit: random.pick(["TOKENS", "CREDITS"]), amount: base.estimate.amount }
      break
    case 7:
      request.ttlMs = random.pick([60_000, 30_000])
      break
    case 8:
      request.graceMs = random.pick([5_000, 0])
      break
    case 9:
      request.overagePolicy = random.pick(["REJECT", "ALLOW_IF_AVAILABLE", "ALLOW_WITH_OVERDRAFT"])
      break
    case 10:
      request.dryRun = random.chance(0.5)
      break
    case 11:
      return withKey(request, "metadata", random.chance(0.5) ? { run: random.pick(["1", "2"]) } : undefined)
    case 12:
      request.action = withKey(base.action, "tags", random.chance(0.5) ? [random.pick(["a", "b"])] : undefined)
      break
    default:
      request.subject = withKey(
        base.subject,
        "dimensions",
        random.chance(0.5) ? { region: random.pick(["eu", "us"]) } : undefined
      )
  }
  return request
}

/**
 * Digests equal exactly when fingerprints are, over all pairs of keyed
 * commands; how many distinct fingerprints there were.
 */
const agree = (commands: ReadonlyArray<{ readonly fingerprint: string }>, digests: ReadonlyArray<string>): number => {
  const byFingerprint = new Map<string, string>()
  const byDigest = new Map<string, string>()
  commands.forEach((command, i) => {
    const digest = digests[i]!
    assert.notInclude(digest, "\n")
    assert.notStrictEqual(digest, "")
    const seen = byFingerprint.get(command.fingerprint)
    if (seen !== undefined) assert.strictEqual(digest, seen, `two digests for ${command.fingerprint}`)
    byFingerprint.set(command.fingerprint, digest)
    const owner = byDigest.get(digest)
    if (owner !== undefined) assert.strictEqual(command.fingerprint, owner, `one digest for two requests: ${digest}`)
    byDigest.set(digest, command.fingerprint)
  })
  return byFingerprint.size
}

const tenant = "acme"

describe("idempotency digests", () => {
  it("the fields a remembered reserve shape compares are all the request has (a new field must be added there)", () => {
    assert.deepStrictEqual(Object.keys(Ledger.ReserveRequest.fields).sort(), [
      "action",
      "dryRun",
      "estimate",
      "graceMs",
      "idempotencyKey",
      "metadata",
      "overagePolicy",
      "subject",
      "tenant",
      "ttlMs"
    ])
    assert.deepStrictEqual(Object.keys(Ledger.Action.fields).sort(), ["kind", "name", "tags"])
    assert.deepStrictEqual(Object.keys(Ledger.Subject.fields).sort(), [
      "agent",
      "app",
      "dimensions",
      "tenant",
      "toolset",
      "workflow",
      "workspace"
    ])
  })

  it.effect("reserve: equal digests exactly for equal requests, whatever the shape remembered", () =>
    Effect.gen(function*() {
      const { ledger, commands } = yield* capturing
      const random = prng(4_242)
      let request: Encoded = {
        tenant,
        subject: { tenant, app: "support", agent: "bot" },
        action: { kind: "llm.completion", name: "model-a" },
        estimate: { unit: "TOKENS", amount: 100 }
      }
      for (let n = 0; n < 2_000; n++) {
        request = vary(random, request, n)
        yield* Effect.exit(ledger.reserve(request))
      }
      assert.strictEqual(commands.reserve.length, 2_000)
      const shapes = Digest.shapes()
      const keyed: Array<LedgerStore.ReserveCommand> = []
      const digests: Array<string> = []
      let remembered = 0
      for (const command of commands.reserve) {
        const shape = shapes.of(command)
        // what a store with no memory answers
        assert.deepStrictEqual(shape, Digest.shapes().of(command), command.fingerprint)
        assert.strictEqual(shape.action, JSON.stringify(command.action))
        if (command.idempotencyKey === undefined) {
          assert.strictEqual(shape.digest, "")
          continue
        }
        if (digests.length > 0 && shape.digest.slice(0, 44) === digests.at(-1)!.slice(0, 44)) remembered++
        keyed.push(command)
        digests.push(shape.digest)
      }
      const distinct = agree(keyed, digests)
      // many requests repeat (what a replay sees), many differ (what a mismatch sees), and shapes are often reused
      assert.isAbove(distinct, 100)
      assert.isBelow(distinct, keyed.length - 100)
      assert.isAbove(remembered, 300)
    }))

  it.effect("a command whose fingerprint is a value of its own takes the general digest, whatever came before", () =>
    Effect.gen(function*() {
      const { ledger, commands } = yield* capturing
      const request = {
        tenant,
        subject: { tenant, app: "support" },
        action: { kind: "llm.completion", name: "model-a" }
      } as const
      yield* Effect.exit(ledger.reserve({ ...request, estimate: { unit: "TOKENS", amount: 1 }, idempotencyKey: "k1" }))
      yield* Effect.exit(ledger.reserve({ ...request, estimate: { unit: "TOKENS", amount: 2 }, idempotencyKey: "k2" }))
      // as a store's caller may build them: the fields, and the fingerprint as a plain value
      const plainly = (command: LedgerStore.ReserveCommand): LedgerStore.ReserveCommand =>
        Object.assign({ ...command }, { fingerprint: command.fingerprint })
      const first = plainly(commands.reserve[0]!)
      const second = plainly(commands.reserve[1]!)
      const shapes = Digest.shapes()
      shapes.of(first)
      const digest = shapes.of(second).digest
      assert.strictEqual(digest, Keys.fingerprintDigest(second))
      assert.strictEqual(digest, Digest.shapes().of(second).digest)
    }))

  it.effect("commit, release, extend: equal digests exactly for equal requests, own ids in clear", () =>
    Effect.gen(function*() {
      const { ledger, commands } = yield* capturing
      const random = prng(7_331)
      const ids = [`rsv_${tenant}_1`, `rsv_${tenant}_2`, `rsv_${tenant}_12`, "rsv_other_1", "rsv_acme_x", "anything"]
      for (let n = 0; n < 1_500; n++) {
        const reservationId = random.pick(ids)
        const idempotencyKey = `k-${n}`
        switch (random.int(0, 2)) {
          case 0: {
            const request = {
              tenant,
              reservationId,
              actual: { unit: random.pick(["TOKENS", "CREDITS"] as const), amount: random.pick([0, 5, 50]) },
              idempotencyKey
            }
            yield* Effect.exit(
              ledger.commit(random.chance(0.2) ? { ...request, metadata: { run: random.pick(["1", "2"]) } } : request)
            )
            break
          }
          case 1: {
            const request = { tenant, reservationId, idempotencyKey }
            yield* Effect.exit(
              ledger.release(random.chance(0.2) ? { ...request, reason: random.pick(["done", "error"]) } : request)
            )
            break
          }
          default:
            yield* Effect.exit(
              ledger.extend({ tenant, reservationId, extendByMs: random.pick([1, 1_000]), idempotencyKey })
            )
        }
      }
      const cases = [
        [commands.commit, commands.commit.map(Digest.commit)],
        [commands.release, commands.release.map(Digest.release)],
        [commands.extend, commands.extend.map(Digest.extend)]
      ] as const
      for (const [made, digests] of cases) {
        assert.isAbove(made.length, 400)
        assert.isAbove(agree(made, digests), 10)
        // the tenant's own ids without metadata or reason are digested in clear, the rest hashed
        assert.isTrue(digests.some((digest) => digest.endsWith(`:rsv_${tenant}_12`)))
        assert.isTrue(digests.some((digest) => digest.length === 44 && !digest.includes(":")))
      }
    }))

  it.effect("requests that differ only in their idempotency key share one fingerprint; another field changes it", () =>
    Effect.gen(function*() {
      const { ledger, commands } = yield* capturing
      const request = {
        tenant,
        subject: { tenant, app: "support" },
        action: { kind: "llm.completion", name: "model-a" },
        estimate: { unit: "TOKENS", amount: 100 }
      } as const
      yield* Effect.exit(ledger.reserve({ ...request, idempotencyKey: "a" }))
      yield* Effect.exit(ledger.reserve({ ...request, idempotencyKey: "b" }))
      yield* Effect.exit(ledger.reserve({ ...request, estimate: { unit: "TOKENS", amount: 101 }, idempotencyKey: "c" }))
      const [a, b, c] = commands.reserve.map((command) => command.fingerprint)
      assert.strictEqual(a, b)
      assert.notStrictEqual(a, c)
      assert.notInclude(a, "idempotencyKey")
    }))
})
