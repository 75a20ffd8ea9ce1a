// The guarded calls under way per ledger: closing the ledger's layer waits
// for them (drain), and for nothing when none is under way.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import * as InFlight from "../src/internal/guardInFlight.ts"

describe("guardInFlight", () => {
  it.effect("drain waits until the last call under way on that ledger has left; other ledgers do not count", () =>
    Effect.gen(function*() {
      const ledger = {}
      const other = {}
      InFlight.enter(ledger)
      InFlight.enter(ledger)
      InFlight.enter(other)
      assert.strictEqual(InFlight.count(ledger), 2)
      const drained = yield* Effect.forkChild(InFlight.drain(ledger, Duration.seconds(30)))
      yield* Effect.yieldNow
      InFlight.leave(ledger)
      yield* Effect.yieldNow
      assert.isUndefined(drained.pollUnsafe(), "one call is still under way")
      InFlight.leave(ledger)
      yield* Fiber.join(drained)
      assert.strictEqual(InFlight.count(ledger), 0)
      assert.strictEqual(InFlight.count(other), 1)
      InFlight.leave(other)
    }))

  it.effect("drain answers at once when nothing is under way", () =>
    Effect.gen(function*() {
      yield* InFlight.drain({}, Duration.seconds(30))
      const ledger = {}
      InFlight.enter(ledger)
      InFlight.leave(ledger)
      yield* InFlight.drain(ledger, Duration.seconds(30))
    }))

  it.live("drain gives up after its timeout (wall clock) when a call never leaves", () =>
    Effect.gen(function*() {
      const ledger = {}
      InFlight.enter(ledger)
      yield* InFlight.drain(ledger, Duration.millis(20))
      yield* InFlight.drain(ledger, Duration.zero)
      assert.strictEqual(InFlight.count(ledger), 1)
      InFlight.leave(ledger)
    }))

  it.effect("a ledger made by attach shares its count with a wrapper spread from it", () =>
    Effect.gen(function*() {
      const ledger = InFlight.attach({ name: "ledger" })
      const wrapper = { ...ledger, name: "wrapper" }
      InFlight.enter(wrapper)
      assert.strictEqual(InFlight.count(ledger), 1)
      const drained = yield* Effect.forkChild(InFlight.drain(ledger, Duration.seconds(30)))
      yield* Effect.yieldNow
      InFlight.leave(wrapper)
      yield* Fiber.join(drained)
      assert.strictEqual(InFlight.count(ledger), 0)
    }))
})
