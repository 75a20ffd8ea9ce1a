import { assert, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { program } from "./support-agent.ts"

it.effect("the support agent's README example: 700 ms, both tools cut (seed 1)", () =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(program)
    yield* TestClock.adjust("700 millis")
    assert.deepStrictEqual(yield* Fiber.join(fiber), ["tools/order-lookup: deadline", "tools/kb-search: deadline"])
  }))
