/**
 * The remembered reserve shape (`internal/shape.ts`) must never answer a
 * stale digest or action: on a seeded random sequence of reserve commands,
 * built by the `Ledger` itself (so with its real fingerprints) and mostly
 * equal to the one before but for one field, every shape equals what the
 * command's own fingerprint and action give.
 */
import { assert, describe, it } from "@effect/vitest"
import { Ledger, LedgerStore } from "@timebox/core"
import { Effect } from "effect"
import { prng, type Random } from "timebox-test/random"
import * as Keys from "../src/internal/keys.ts"
import * as Shape from "../src/internal/shape.ts"

/** A ledger whose store keeps every reserve command it is handed (and answers it from memory). */
const capturing = Effect.gen(function*() {
  const commands: Array<LedgerStore.ReserveCommand> = []
  const memory = yield* LedgerStore.makeMemory
  const store: LedgerStore.Service = {
    ...memory,
    reserve: (command) => {
      commands.push(command)
      return memory.reserve(command)
    }
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
  const request: { -readonly [K in keyof Encoded]: Encoded[K] } = {
    ...base
  }
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
      request.subject = withKey(base.subject, "workspace", random.pick(["w1", undefined]))
      break
    case 3:
      request.action = { ...base.action, kind: random.pick(["llm.completion", "tool.call"]) }
      break
    case 4:
      request.action = { ...base.action, name: random.pick(["model-a", "model-b"]) }
      break
    case 5:
      request.estimate = { unit: base.estimate.unit, amount: random.pick([100, 200]) }
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

describe("reserve shapes", () => {
  it.effect("the remembered digest and action JSON are always the command's own", () =>
    Effect.gen(function*() {
      const { ledger, commands } = yield* capturing
      const random = prng(4_242)
      let request: Encoded = {
        tenant: "acme",
        subject: { tenant: "acme", app: "support", agent: "bot" },
        action: { kind: "llm.completion", name: "model-a" },
        estimate: { unit: "TOKENS", amount: 100 }
      }
      for (let n = 0; n < 2_000; n++) {
        request = vary(random, request, n)
        yield* Effect.exit(ledger.reserve(request))
      }
      assert.strictEqual(commands.length, 2_000)
      const shapes = Shape.make()
      let repeated = 0
      let previous: Shape.Shape | undefined
      for (const command of commands) {
        const shape = shapes.of(command)
        assert.deepStrictEqual(shape, {
          digest: Keys.fingerprintDigest(command),
          action: JSON.stringify(command.action)
        }, command.fingerprint)
        if (previous !== undefined && shape.action === previous.action) repeated++
        previous = shape
      }
      // the sequence repeats shapes often (what the memory is for) and changes them often (what could go stale)
      assert.isAbove(repeated, 500)
      assert.isBelow(repeated, 1_900)
    }))

  it.effect("requests that differ only in their idempotency key share one fingerprint; another field changes it", () =>
    Effect.gen(function*() {
      const { ledger, commands } = yield* capturing
      const request = {
        tenant: "acme",
        subject: { tenant: "acme", app: "support" },
        action: { kind: "llm.completion", name: "model-a" },
        estimate: { unit: "TOKENS", amount: 100 }
      } as const
      yield* Effect.exit(ledger.reserve({ ...request, idempotencyKey: "a" }))
      yield* Effect.exit(ledger.reserve({ ...request, idempotencyKey: "b" }))
      yield* Effect.exit(ledger.reserve({ ...request, estimate: { unit: "TOKENS", amount: 101 }, idempotencyKey: "c" }))
      const [a, b, c] = commands.map((command) => command.fingerprint)
      assert.strictEqual(a, b)
      assert.notStrictEqual(a, c)
      assert.notInclude(a, "idempotencyKey")
    }))
})
