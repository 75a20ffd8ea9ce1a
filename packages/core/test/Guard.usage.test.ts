// The guard when usage is not what was reserved: above the worst case under
// each overage policy, not reported at all, capped by the output limit; and
// when the ledger refuses before the first token or on a router's first choice.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import type { Response } from "effect/ai"
import { TestClock } from "effect/testing"
import {
  Agent,
  Guard,
  Inference,
  Ledger,
  LedgerStore,
  type ModelProfile,
  Pipeline,
  Report,
  Router,
  SimulatedModel,
  Stage
} from "../src/index.ts"
import { makeRecordingModel, runUnderTestClock } from "../src/testing/index.ts"
import { balance, fund, LedgerTest, metered, question, scope, subject, tenant, worst } from "./guardFixtures.ts"

/** A model that streams "hello", then reports `usage` (none when undefined). */
const reporting = (usage: Response.FinishPartEncoded["usage"] | undefined) =>
  makeRecordingModel({
    respond: () => [
      { type: "text-start", id: "t" },
      { type: "text-delta", id: "t", delta: "hello" },
      { type: "text-end", id: "t" },
      ...(usage === undefined ? [] : [{ type: "finish" as const, reason: "stop" as const, usage }])
    ]
  }).layer

const tokens = (input: number, output: number): Response.FinishPartEncoded["usage"] => ({
  inputTokens: { total: input, uncached: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 }
})

// 10 input tokens and 100 output tokens: 10 × 1,000 + 100 × 2,000 = 210,000 nano-USD = 21,000 µ¢,
// above the 10,600 reserved (a provider counting more input than the estimate, ignoring the limit)
const over = 21_000

/** The guarded agent: one required inference stage doing `infer` on the question. */
const agentOf = <E, R>(infer: (input: string) => Effect.Effect<Inference.Result, E, R>) =>
  Agent.make({
    name: "guarded",
    budget: "10 seconds",
    pipeline: Pipeline.make<string>().add(
      Stage.required("inference", ({ input }) => Effect.map(infer(input), (result) => result.text), {
        allocation: "5 seconds"
      })
    )
  })

const agentOn = (models: ModelProfile.ModelProfile) => agentOf((prompt) => Inference.run({ prompt, models }))

const entries = (result: { readonly report: Report.RunReport }) =>
  (result.report.ledger ?? []).map((entry) => [entry.operation, entry.decision, entry.amount, entry.reason ?? null])

describe("Guard, usage other than reserved", () => {
  it.effect("REJECT, usage above the reservation: the amount held committed, the rest charged as far as the budget allows", () =>
    Effect.gen(function*() {
      yield* fund(100_000)
      const result = yield* runUnderTestClock(agentOn(metered), question).pipe(
        Guard.withGuard({ subject, overagePolicy: "REJECT" }),
        Effect.provide(reporting(tokens(10, 100)))
      )
      assert.strictEqual(result.status, "complete")
      assert.deepStrictEqual(entries(result), [
        ["reserve", "allowed", worst, null],
        ["commit", "failed", over, "budget-exceeded"],
        ["commit", "committed", worst, null],
        ["event", "charged", over - worst, null]
      ])
      const after = yield* balance
      // charged what the call cost, nothing left held (before, 0 spent and 10,600 held until the ttl)
      assert.strictEqual(after.spent, BigInt(over))
      assert.strictEqual(after.reserved, 0n)
      const { reservations } = yield* Effect.flatMap(Ledger.Ledger, (ledger) => ledger.listReservations({ tenant }))
      assert.deepStrictEqual(reservations.map((reservation) => reservation.status), ["committed"])
    }).pipe(Effect.provide(LedgerTest)))

  it.effect("REJECT, usage above the reservation and the budget: the rest capped at what is left, over-limit", () =>
    Effect.gen(function*() {
      yield* fund(15_000)
      const result = yield* runUnderTestClock(agentOn(metered), question).pipe(
        Guard.withGuard({ subject, overagePolicy: "REJECT" }),
        Effect.provide(reporting(tokens(10, 100)))
      )
      assert.deepStrictEqual(entries(result).slice(2), [
        ["commit", "committed", worst, null],
        ["event", "charged", 15_000 - worst, null]
      ])
      const after = yield* balance
      assert.strictEqual(after.spent, 15_000n)
      assert.strictEqual(after.reserved, 0n)
      assert.isTrue(after.isOverLimit)
    }).pipe(Effect.provide(LedgerTest)))

  it.effect("ALLOW_WITH_OVERDRAFT past its limit: settled the same way instead of left held", () =>
    Effect.gen(function*() {
      yield* fund(12_000)
      yield* Effect.flatMap(
        Ledger.Ledger,
        (ledger) => ledger.setOverdraftLimit({ tenant, scope, unit: "USD_MICROCENTS", overdraftLimit: 1_000 })
      )
      const result = yield* runUnderTestClock(agentOn(metered), question).pipe(
        Guard.withGuard({ subject, overagePolicy: "ALLOW_WITH_OVERDRAFT" }),
        Effect.provide(reporting(tokens(10, 100)))
      )
      // 21,000 on 12,000 needs 9,000 of debt, past the limit of 1,000
      assert.deepStrictEqual(entries(result).slice(1), [
        ["commit", "failed", over, "overdraft-limit-exceeded"],
        ["commit", "committed", worst, null],
        ["event", "charged", 12_000 - worst, null]
      ])
      const after = yield* balance
      assert.strictEqual(after.spent, 12_000n)
      assert.strictEqual(after.reserved, 0n)
    }).pipe(Effect.provide(LedgerTest)))

  it.effect("a call whose usage the provider does not report is charged its worst case, and the entry says so", () =>
    Effect.gen(function*() {
      yield* fund(100_000)
      const result = yield* runUnderTestClock(agentOn(metered), question).pipe(
        Guard.withGuard({ subject }),
        Effect.provide(reporting(undefined))
      )
      assert.deepStrictEqual(entries(result), [["reserve", "allowed", worst, null], [
        "commit",
        "committed",
        worst,
        null
      ]])
      assert.match(result.report.ledger![1]!.detail ?? "", /reported no usage: charged the call's worst case/)
      assert.strictEqual((yield* balance).spent, BigInt(worst))
      // the report's cost is the same worst case (6 input tokens, the 50 output tokens of the limit)
      assert.strictEqual(result.report.cost?.outputTokens, 50)
    }).pipe(Effect.provide(LedgerTest)))

  it.effect("the simulated model stops at the output limit: usage never passes the reserved worst case", () =>
    Effect.gen(function*() {
      yield* fund(100_000)
      const result = yield* runUnderTestClock(agentOn(metered), question).pipe(
        Guard.withGuard({ subject }),
        // 200 tokens wanted, 50 allowed
        Effect.provide(SimulatedModel.layer({ profile: metered, outputTokens: 200 }))
      )
      assert.deepStrictEqual(entries(result), [["reserve", "allowed", worst, null], [
        "commit",
        "committed",
        worst,
        null
      ]])
      assert.strictEqual(result.report.cost?.outputTokens, 50)
    }).pipe(Effect.provide(LedgerTest)))
})

/** A model whose first call uses 10 input and 100 output tokens (21,000 µ¢), every later one 6 and 20 (4,600). */
const overOnce = () => {
  let calls = 0
  return makeRecordingModel({
    respond: () => [
      { type: "text-start", id: "t" },
      { type: "text-delta", id: "t", delta: "hello" },
      { type: "text-end", id: "t" },
      { type: "finish", reason: "stop", usage: calls++ === 0 ? tokens(10, 100) : tokens(6, 20) }
    ]
  }).layer
}

/** The memory ledger, where the commits and events `lost` picks answer StoreUnavailable (not applied). */
const flaky = (lost: (input: { readonly idempotencyKey?: string | undefined }) => boolean) =>
  Layer.effect(
    Ledger.Ledger,
    Effect.map(Ledger.Ledger, (ledger) => {
      const unavailable = (method: string) =>
        new Ledger.LedgerError({ method, reason: new Ledger.StoreUnavailable({ store: "test", detail: "no reply" }) })
      return Ledger.Ledger.of({
        ...ledger,
        commit: (input) =>
          Effect.suspend(() => lost(input) ? Effect.fail(unavailable("Ledger.commit")) : ledger.commit(input)),
        event: (input) =>
          Effect.suspend(() => lost(input) ? Effect.fail(unavailable("Ledger.event")) : ledger.event(input))
      })
    })
  ).pipe(
    Layer.provideMerge(
      Ledger.layer.pipe(
        Layer.provide(LedgerStore.layerMemory),
        Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
      )
    )
  )

/** Fails the first `times` calls whose key ends with `suffix`. */
const firstOf = (suffix: string, times = 1) => {
  let left = times
  return (input: { readonly idempotencyKey?: string | undefined }) =>
    input.idempotencyKey?.endsWith(suffix) === true && left-- > 0
}

describe("Guard, a refused overage settled across an outage", () => {
  const run = (overagePolicy: Ledger.OveragePolicy, model: Layer.Layer<any>) =>
    runUnderTestClock(agentOn(metered), question).pipe(
      Guard.withGuard({ subject, overagePolicy }),
      Effect.provide(model)
    )

  it.effect("the amount held committed, the rest lost once: the next call charges the rest only, once", () =>
    Effect.gen(function*() {
      yield* fund(100_000)
      const model = overOnce()
      const first = yield* run("REJECT", model)
      assert.deepStrictEqual(entries(first).slice(2), [
        ["commit", "committed", worst, null],
        // the failure is the rest's, not the whole usage
        ["event", "failed", over - worst, "store-unavailable"]
      ])
      const second = yield* run("REJECT", model)
      assert.deepStrictEqual(entries(second)[0], ["event", "charged", over - worst, null])
      assert.strictEqual((yield* balance).spent, BigInt(over + 4_600))
    }).pipe(Effect.provide(flaky(firstOf(":extra")))))

  it.effect("the rest given up past the retention: the entry gives the rest, not the whole usage", () =>
    Effect.gen(function*() {
      yield* fund(100_000)
      const model = overOnce()
      yield* run("REJECT", model)
      yield* TestClock.adjust("25 hours")
      const second = yield* run("REJECT", model)
      assert.deepStrictEqual(entries(second)[0], ["event", "failed", over - worst, "given-up"])
    }).pipe(Effect.provide(flaky(firstOf(":extra", 10)))))

  it.effect("ALLOW_WITH_OVERDRAFT: a late charge past the overdraft limit is charged capped, not refused", () =>
    Effect.gen(function*() {
      yield* fund(40_000)
      const ledger = yield* Ledger.Ledger
      yield* ledger.setOverdraftLimit({ tenant, scope, unit: "USD_MICROCENTS", overdraftLimit: 1_000 })
      yield* ledger.event({
        tenant,
        subject,
        action: { kind: "setup", name: "spent" },
        actual: { unit: "USD_MICROCENTS", amount: 28_000 }
      })
      const model = overOnce()
      // 21,000 on the 12,000 left is past the limit; the commit of the amount held is lost, then it expires
      yield* run("ALLOW_WITH_OVERDRAFT", model)
      yield* TestClock.adjust("3 minutes")
      const second = yield* run("ALLOW_WITH_OVERDRAFT", model)
      assert.deepStrictEqual(entries(second).slice(0, 3), [
        ["commit", "failed", worst, "reservation-expired"],
        ["event", "failed", over, "overdraft-limit-exceeded"],
        ["event", "charged", 12_000, null]
      ])
      const after = yield* balance
      assert.strictEqual(after.spent, 40_000n)
      assert.strictEqual(after.reserved, 0n)
      assert.isTrue(after.isOverLimit)
    }).pipe(Effect.provide(flaky(firstOf(":commit-held")))))
})

// the router's first choice is accurate and 10× the price (worst case 106,000 µ¢), its fallback cheap (10,600)
const primary: ModelProfile.ModelProfile = {
  ...metered,
  name: "primary",
  accuracy: 5,
  price: { inputNanoUsdPerToken: 10_000, outputNanoUsdPerToken: 20_000 }
}
const cheap: ModelProfile.ModelProfile = { ...metered, name: "cheap", accuracy: 3, ttftMs: 50, ttftP95Ms: 50 }
const router = Router.make([
  { profile: primary, layer: makeRecordingModel({ text: "primary answer" }).layer },
  { profile: cheap, layer: SimulatedModel.layer({ profile: cheap }) }
])

describe("Guard, a refusal before the first token", () => {
  it.effect("a router does not fall back to another model when the ledger denies its choice", () =>
    Effect.gen(function*() {
      yield* fund(50_000)
      const result = yield* runUnderTestClock(agentOf((prompt) => Inference.run({ prompt, models: router })), question)
        .pipe(Guard.withGuard({ subject }))
      assert.strictEqual(result.status, "failed")
      assert.deepStrictEqual(entries(result), [["reserve", "denied", 106_000, "budget-exceeded"]])
      assert.strictEqual((yield* balance).spent, 0n)
    }).pipe(Effect.provide(LedgerTest)))

  for (const onTimeout of ["fail", "fallback"] as const) {
    it.effect(`firstToken (${onTimeout}): a denial ends the stage at once, with the ledger's reason`, () =>
      Effect.gen(function*() {
        yield* fund(50_000)
        const result = yield* runUnderTestClock(
          agentOf((prompt) =>
            Inference.run({ prompt, models: router, firstToken: { window: "2 seconds", onTimeout } })
          ),
          question
        ).pipe(Guard.withGuard({ subject }))
        const stage = Report.find(result.report, "inference")!
        assert.strictEqual(result.status, "failed")
        // not "no first token within 2000ms" after waiting the whole window, nor a call of the fallback
        assert.strictEqual(stage.actualMs, 0)
        assert.match(stage.reason ?? "", /requested 106000, 50000 remaining/)
        assert.deepStrictEqual(entries(result), [["reserve", "denied", 106_000, "budget-exceeded"]])
      }).pipe(Effect.provide(LedgerTest)))
  }
})

describe("Inference.run, a profile whose prices or limits are not whole numbers", () => {
  const cases: ReadonlyArray<readonly [string, ModelProfile.ModelProfile, RegExp]> = [
    [
      "a fractional price",
      { ...metered, price: { inputNanoUsdPerToken: 0.5, outputNanoUsdPerToken: 2_000 } },
      /invalid models\.metered\.price\.inputNanoUsdPerToken \(0\.5\): must be an integer, 0 or more/
    ],
    [
      "a negative maxOutputTokens",
      { ...metered, maxOutputTokens: -100 },
      /invalid models\.metered\.maxOutputTokens \(-100\): must be an integer, 1 or more/
    ],
    [
      "a NaN reasoningTokens",
      { ...metered, reasoningTokens: Number.NaN },
      /invalid models\.metered\.reasoningTokens \(NaN\): must be an integer, 0 or more/
    ]
  ]
  for (const [name, profile, message] of cases) {
    it.effect(`${name}: a typed configuration error naming the field, nothing reserved`, () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const result = yield* runUnderTestClock(agentOn(profile), question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(SimulatedModel.layer({ profile: metered }))
        )
        const stage = Report.find(result.report, "inference")!
        assert.strictEqual(result.status, "failed")
        assert.match(stage.reason ?? "", message)
        assert.deepStrictEqual(entries(result), [])
        assert.strictEqual((yield* balance).reserved, 0n)
      }).pipe(Effect.provide(LedgerTest)))
  }

  it.effect("a router with no models: a typed configuration error, not a crash in the choice", () =>
    Effect.gen(function*() {
      yield* fund(100_000)
      const result = yield* runUnderTestClock(
        agentOf((prompt) => Inference.run({ prompt, models: Router.make([]) })),
        question
      ).pipe(Guard.withGuard({ subject }))
      const stage = Report.find(result.report, "inference")!
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(
        stage.reason,
        "Inference.run: invalid models.candidates ([]): a router needs at least one model to choose from"
      )
      assert.deepStrictEqual(entries(result), [])
    }).pipe(Effect.provide(LedgerTest)))
})
