import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, Budget, Pipeline, Stage, type TimeboxError } from "../src/index.ts"

const invalid = (error: TimeboxError.TimeboxError) => {
  assert.strictEqual(error.reason._tag, "InvalidConfig")
  const reason = error.reason as TimeboxError.InvalidConfig
  return { field: reason.field, value: reason.value, message: error.message }
}

describe("Budget", () => {
  it("parses durations as people type them", () => {
    assert.strictEqual(Budget.parseMillis("150ms"), 150)
    assert.strictEqual(Budget.parseMillis("2s"), 2_000)
    assert.strictEqual(Budget.parseMillis("1.5s"), 1_500)
    assert.strictEqual(Budget.parseMillis("2 seconds"), 2_000)
    assert.strictEqual(Budget.parseMillis("150 millis"), 150)
    assert.strictEqual(Budget.parseMillis("1m"), 60_000)
    assert.strictEqual(Budget.parseMillis("250"), 250)
    assert.isUndefined(Budget.parseMillis("soon"))
    assert.isUndefined(Budget.parseMillis("-5ms"))
    assert.isUndefined(Budget.parseMillis("5 parsecs"))
    assert.isUndefined(Budget.parseMillis(""))
  })

  it("resolves allocations by duration or share", () => {
    assert.deepStrictEqual(Budget.resolveAllocation("40%"), { _tag: "Share", share: 0.4 })
    assert.deepStrictEqual(Budget.resolveAllocation("150 millis"), { _tag: "Millis", millis: 150 })
    assert.deepStrictEqual(Budget.resolveAllocation(20), { _tag: "Millis", millis: 20 })
    assert.isUndefined(Budget.resolveAllocation("lots%"))
  })

  it.effect("decode: a valid configuration", () =>
    Effect.gen(function*() {
      const decoded = yield* Budget.decode({
        total: "2s",
        stages: { rag: { allocation: "50%", minUseful: "20ms" }, auth: { allocation: 10 } }
      })
      assert.deepStrictEqual(decoded, {
        totalMs: 2_000,
        stages: {
          rag: { allocation: { _tag: "Share", share: 0.5 }, minUsefulMs: 20 },
          auth: { allocation: { _tag: "Millis", millis: 10 } }
        }
      })
    }))

  it.effect("decode: a zero or negative total names the field and value", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(invalid(yield* Effect.flip(Budget.decode({ total: "0ms" }))), {
        field: "total",
        value: "\"0ms\"",
        message: "Budget.decode: invalid total (\"0ms\"): must be a positive, finite duration"
      })
      const negative = invalid(yield* Effect.flip(Budget.decode({ total: -5 })))
      assert.strictEqual(negative.field, "total")
      assert.strictEqual(negative.value, "-5")
    }))

  it.effect("decode: a malformed duration names its path", () =>
    Effect.gen(function*() {
      const error = invalid(yield* Effect.flip(Budget.decode({ total: "2s", stages: { rag: { minUseful: "soon" } } })))
      assert.strictEqual(error.field, "stages.rag.minUseful")
      assert.strictEqual(error.value, "\"soon\"")
      const missing = invalid(yield* Effect.flip(Budget.decode({ stages: {} })))
      assert.strictEqual(missing.field, "total")
    }))

  it.effect("decode: an allocation larger than the total", () =>
    Effect.gen(function*() {
      const error = invalid(
        yield* Effect.flip(Budget.decode({ total: "1s", stages: { inference: { allocation: "1.4s" } } }))
      )
      assert.deepStrictEqual(error, {
        field: "stages.inference.allocation",
        value: "\"1.4s\"",
        message:
          "Budget.decode: invalid stages.inference.allocation (\"1.4s\"): 1400ms exceeds the total budget of 1000ms"
      })
    }))

  it.effect("decode: minUseful larger than its allocation, a zero allocation, a share over 100%", () =>
    Effect.gen(function*() {
      const minUseful = invalid(
        yield* Effect.flip(Budget.decode({ total: "1s", stages: { rag: { allocation: "75ms", minUseful: "90ms" } } }))
      )
      assert.strictEqual(minUseful.field, "stages.rag.minUseful")
      assert.include(minUseful.message, "90ms exceeds the stage's allocation of 75ms")
      const zero = invalid(yield* Effect.flip(Budget.decode({ total: "1s", stages: { rag: { allocation: "0ms" } } })))
      assert.strictEqual(zero.field, "stages.rag.allocation")
      const share = invalid(yield* Effect.flip(Budget.decode({ total: "1s", stages: { rag: { allocation: "150%" } } })))
      assert.include(share.message, "a share must be in (0%, 100%]")
    }))

  it.effect("an agent: duplicate stage names, bad allocations and bad budgets are typed errors", () =>
    Effect.gen(function*() {
      const make = (pipeline: Pipeline.Pipeline<void, any, any, never>, budget: Budget.DurationText = "1 second") =>
        Agent.make({ name: "bad", budget, pipeline })
      const duplicate = make(
        Pipeline.make<void>().add(Stage.required("auth", () => Effect.void)).add(
          Stage.required("auth", () => Effect.void)
        )
      )
      assert.deepStrictEqual(invalid(yield* Effect.flip(Agent.run(duplicate, undefined))), {
        field: "stages[1].name",
        value: "\"auth\"",
        message: "Agent.run: invalid stages[1].name (\"auth\"): duplicate stage name"
      })
      const tooBig = make(Pipeline.make<void>().add(Stage.required("infer", () => Effect.void, { allocation: "2s" })))
      assert.strictEqual(invalid(yield* Effect.flip(Agent.run(tooBig, undefined))).field, "stages.infer.allocation")
      const minUseful = make(
        Pipeline.make<void>().add(
          Stage.required("infer", () => Effect.void, { allocation: "100ms", minUseful: "200ms" })
        )
      )
      assert.strictEqual(invalid(yield* Effect.flip(Agent.validate(minUseful))).field, "stages.infer.minUseful")
      const negative = make(
        Pipeline.make<void>().add(Stage.required("infer", () => Effect.void, { allocation: -10 }))
      )
      assert.include(invalid(yield* Effect.flip(Agent.run(negative, undefined))).message, "must be a positive duration")
      const zeroBudget = make(Pipeline.make<void>(), "0 millis")
      assert.strictEqual(invalid(yield* Effect.flip(Agent.run(zeroBudget, undefined))).field, "budget")
      const reserved = make(Pipeline.make<void>().add(Stage.required("input", () => Effect.void)))
      assert.include(invalid(yield* Effect.flip(Agent.run(reserved, undefined))).message, "reserved")
      const ok = make(Pipeline.make<void>().add(Stage.required("a", () => Effect.void)))
      const badRunBudget = invalid(
        yield* Effect.flip(Agent.run(ok, undefined, { budget: "fast" as Budget.DurationText }))
      )
      assert.deepStrictEqual([badRunBudget.field, badRunBudget.value], ["options.budget", "\"fast\""])
    }))
})
