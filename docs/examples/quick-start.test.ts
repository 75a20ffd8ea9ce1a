import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { program } from "./quick-start.ts"

describe("quick start (packages/core/README.md)", () => {
  it.effect("under TestClock: partial, retrieve cut at exactly 100 ms", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(program)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "partial: retrieve timed-out after 100 ms")
    }))

  it.live("with the real clock: partial, retrieve cut at its window (plus scheduling jitter)", () =>
    Effect.gen(function*() {
      const line = yield* program
      const match = /^partial: retrieve timed-out after ([\d.]+) ms$/.exec(line)
      assert.isNotNull(match, line)
      const actual = Number(match?.[1])
      assert.isAtLeast(actual, 99)
      assert.isBelow(actual, 200)
    }))
})
