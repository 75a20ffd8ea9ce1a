import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Agent, Deadline, Pipeline, Stage } from "../src/index.ts"

// Any nested helper can ask how much time is left, without parameters.
const timeLeft = () => Deadline.remainingMillis

describe("Deadline", () => {
  it.effect("a run's deadline is start + total, read from Clock, and visible to nested effects", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(10_000)
      const seen: Array<number> = []
      const agent = Agent.make({
        name: "deadline",
        budget: "500 millis",
        pipeline: Pipeline.make<void>().add(
          Stage.required("work", () =>
            Effect.gen(function*() {
              seen.push(yield* Deadline.CurrentDeadline)
              seen.push(yield* timeLeft())
              yield* Effect.sleep("200 millis")
              seen.push(yield* timeLeft())
              // forked work inherits the deadline
              seen.push(yield* Effect.forkChild(timeLeft()).pipe(Effect.flatMap(Fiber.join)))
            }))
        )
      })
      const fiber = yield* Effect.forkChild(Agent.run(agent, undefined))
      yield* TestClock.adjust("500 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "complete")
      assert.deepStrictEqual(seen, [10_500, 500, 300, 300])
      assert.strictEqual(result.report.budgetMs, 500)
      assert.strictEqual(result.report.elapsedMs, 200)
      assert.isTrue(result.report.withinBudget)
    }))

  it.effect("outside a budget the deadline is Infinity", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Deadline.CurrentDeadline, Number.POSITIVE_INFINITY)
      assert.strictEqual(yield* Deadline.remainingMillis, Number.POSITIVE_INFINITY)
    }))

  it.effect("within: a child deadline is never later than its parent's", () =>
    Effect.gen(function*() {
      const inner = yield* Deadline.remainingMillis.pipe(Deadline.within("1 second"), Deadline.within("10 seconds"))
      const outer = yield* Deadline.remainingMillis.pipe(Deadline.within("10 seconds"), Deadline.within("1 second"))
      assert.strictEqual(inner, 1_000)
      assert.strictEqual(outer, 1_000)
    }))

  it.effect("remaining never goes negative", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.sleep("2 seconds").pipe(Effect.andThen(Deadline.remaining), Deadline.within("1 second"))
      )
      yield* TestClock.adjust("2 seconds")
      const left = yield* Fiber.join(fiber)
      assert.strictEqual(Duration.toMillis(left), 0)
    }))
})
