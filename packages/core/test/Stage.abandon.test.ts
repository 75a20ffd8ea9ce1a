import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Agent, Pipeline, Stage } from "../src/index.ts"
import { record, runFor } from "./utils.ts"

const agentWith = <E>(work: Effect.Effect<number, E>) =>
  Agent.make({
    name: "hard-deadline",
    budget: "1 second",
    pipeline: Pipeline.make<void>()
      .add(Stage.optional("stubborn", () => work, { allocation: "100 millis", fallback: () => -1 }))
      .add(Stage.required("next", ({ stubborn }) => Effect.succeed(stubborn)))
  })

describe("hard deadlines for uncooperative work", () => {
  it.effect("an uninterruptible region: the run moves on at the deadline, the work finishes in the background", () =>
    Effect.gen(function*() {
      let finished = false
      const work = Effect.sleep("400 millis").pipe(
        Effect.andThen(Effect.sync(() => (finished = true))),
        Effect.as(1),
        Effect.uninterruptible
      )
      const fiber = yield* Effect.forkChild(Agent.run(agentWith(work), undefined))
      yield* TestClock.adjust("100 millis")
      const result = yield* Fiber.join(fiber)
      // the run returned at t = 100 ms while the work was still sleeping
      assert.strictEqual(result.report.elapsedMs, 100)
      assert.isFalse(finished)
      const stubborn = record(result, "stubborn")
      assert.strictEqual(stubborn.status, "timed-out")
      assert.strictEqual(stubborn.actualMs, 100)
      assert.isTrue(stubborn.abandoned)
      assert.strictEqual(result.output, -1)
      assert.strictEqual(record(result, "next").startedAtMs, 100)
      // never awaited, but not killed either: it completes on its own
      yield* TestClock.adjust("300 millis")
      assert.isTrue(finished)
    }))

  it.effect("a promise that ignores its AbortSignal: the run moves on, the record says abandoned", () =>
    Effect.gen(function*() {
      let release: (value: number) => void = () => {}
      const pending = new Promise<number>((resolve) => (release = resolve))
      const result = yield* runFor(agentWith(Stage.promise(() => pending)), undefined, "100 millis")
      assert.strictEqual(result.report.elapsedMs, 100)
      assert.isTrue(record(result, "stubborn").abandoned)
      assert.strictEqual(result.output, -1)
      release(1)
    }))

  it.effect("a promise that honours its AbortSignal is cancelled, not abandoned", () =>
    Effect.gen(function*() {
      let aborted = false
      const work = Stage.promise((signal) =>
        new Promise<number>((_, reject) =>
          signal.addEventListener("abort", () => {
            aborted = true
            reject(new Error("aborted"))
          })
        )
      )
      const result = yield* runFor(agentWith(work), undefined, "100 millis")
      assert.isTrue(aborted)
      assert.strictEqual(record(result, "stubborn").status, "timed-out")
      assert.isUndefined(record(result, "stubborn").abandoned)
    }))

  it.effect("cooperative work is really cancelled: timers cleared, finalizers run", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const work = Effect.acquireUseRelease(
        Effect.sync(() => events.push("acquire")),
        () =>
          Effect.sleep("400 millis").pipe(Effect.tap(() => Effect.sync(() => events.push("completed"))), Effect.as(1)),
        () => Effect.sync(() => events.push("release"))
      )
      const result = yield* runFor(agentWith(work), undefined, "1 second")
      assert.deepStrictEqual(events, ["acquire", "release"])
      assert.isUndefined(record(result, "stubborn").abandoned)
      assert.strictEqual(result.report.elapsedMs, 100)
    }))

  it.effect("a promise stage that resolves in time completes normally", () =>
    Effect.gen(function*() {
      const result = yield* runFor(agentWith(Stage.promise(() => Promise.resolve(7))), undefined, "100 millis")
      assert.strictEqual(result.status, "complete")
      assert.strictEqual(result.output, 7)
    }))
})
