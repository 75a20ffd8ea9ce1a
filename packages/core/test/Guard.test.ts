import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger } from "effect"
import { Prompt } from "effect/ai"
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
  SimulatedModel,
  Stage
} from "../src/index.ts"
import { makeRecordingModel, runUnderTestClock } from "../src/testing/index.ts"

import {
  actual,
  agent,
  balance,
  fund,
  LedgerTest,
  metered,
  model,
  question,
  scope,
  subject,
  tenant,
  worst
} from "./guardFixtures.ts"

/** Runs of the guarded agent of `who` under the test clock, a second apart (a 60 s reservation outlives the next). */
const guardedRun = (who: Ledger.Subject = subject) =>
  runUnderTestClock(agent(), question, { advance: "1 second" }).pipe(
    Guard.withGuard({ subject: who }),
    Effect.provide(model)
  )

// 7 s to the first token: past a 1 s ttl and the 5 s grace of its hold.
const slow: ModelProfile.ModelProfile = { ...metered, ttftMs: 7_000, ttftP95Ms: 7_000 }
const slowModel = SimulatedModel.layer({ profile: slow })
const slowAgent = Agent.make({
  name: "slow",
  budget: "10 seconds",
  pipeline: Pipeline.make<string>().add(
    Stage.required(
      "inference",
      ({ input }) => Effect.map(Inference.run({ prompt: input, models: slow }), (result) => result.text),
      { allocation: "9 seconds" }
    )
  )
})

describe("Guard", () => {
  describe("pricing", () => {
    it("estimates input tokens as characters / 4, rounded up", () => {
      assert.strictEqual(Guard.inputTokens(Prompt.make(question)), 6)
      assert.strictEqual(Guard.inputTokens(Prompt.make("")), 0)
    })

    it("prices in USD_MICROCENTS from nano-USD (10 nano-USD a microcent, rounded up) or in TOKENS", () => {
      const usage = { inputTokens: 6, outputTokens: 20, reasoningTokens: 0 }
      assert.strictEqual(Guard.price(usage, metered.price, "USD_MICROCENTS"), 4_600n)
      assert.strictEqual(Guard.price(usage, metered.price, "TOKENS"), 26n)
      assert.strictEqual(
        Guard.price({ inputTokens: 1, outputTokens: 0, reasoningTokens: 0 }, {
          ...metered.price,
          inputNanoUsdPerToken: 1
        }, "USD_MICROCENTS"),
        1n
      )
    })

    it("the worst case is the prompt's input tokens plus the most output (and reasoning) tokens", () => {
      assert.deepStrictEqual(Guard.worstCase(metered, Prompt.make(question), "USD_MICROCENTS"), {
        inputTokens: 6,
        outputTokens: 50,
        amount: BigInt(worst)
      })
      assert.deepStrictEqual(
        Guard.worstCase({ ...metered, reasoningTokens: 300 }, Prompt.make(question), "TOKENS"),
        { inputTokens: 6, outputTokens: 350, amount: 356n }
      )
    })
  })

  describe("configuration", () => {
    it.effect("applies the defaults: the subject's tenant, USD_MICROCENTS, 60 s, ALLOW_IF_AVAILABLE", () =>
      Effect.gen(function*() {
        const guard = yield* Guard.make({ subject })
        assert.strictEqual(guard.tenant, tenant)
        assert.strictEqual(guard.unit, "USD_MICROCENTS")
        assert.strictEqual(guard.ttlMs, 60_000)
        assert.strictEqual(guard.overagePolicy, "ALLOW_IF_AVAILABLE")
        const tokens = yield* Guard.make({ subject, unit: "TOKENS", ttl: "5s", overagePolicy: "REJECT" })
        assert.deepStrictEqual([tokens.unit, tokens.ttlMs, tokens.overagePolicy], ["TOKENS", 5_000, "REJECT"])
      }).pipe(Effect.provide(LedgerTest)))

    it.effect("rejects bad configuration with InvalidConfig naming the field", () =>
      Effect.gen(function*() {
        const problems = yield* Effect.forEach([
          { subject: {} },
          { subject: { app: "support" } },
          { subject, tenant: "other" },
          { subject, ttl: "soon" },
          { subject, ttl: "10ms" }
        ], (config) => Effect.flip(Guard.make(config as Guard.Config)))
        assert.deepStrictEqual(
          problems.map((error) => error.reason._tag === "InvalidConfig" ? error.reason.field : error.reason._tag),
          ["subject", "tenant", "subject.tenant", "ttl", "ttl"]
        )
      }).pipe(Effect.provide(LedgerTest)))
  })

  describe("around model calls", () => {
    it.effect("reserves the worst case, commits the real usage; the report lists both and the cost", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const result = yield* runUnderTestClock(agent(), question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(model)
        )
        assert.strictEqual(result.status, "complete")
        assert.deepStrictEqual(result.report.ledger, [
          {
            operation: "reserve",
            decision: "allowed",
            stage: "inference",
            model: "metered",
            amount: worst,
            unit: "USD_MICROCENTS",
            reservationId: "rsv_1",
            atMs: 0
          },
          {
            operation: "commit",
            decision: "committed",
            stage: "inference",
            model: "metered",
            amount: actual,
            unit: "USD_MICROCENTS",
            reservationId: "rsv_1",
            atMs: 290
          }
        ])
        // The report's cost agrees: 46,000 nano-USD = 46 µUSD = 4,600 µ¢.
        assert.strictEqual(result.report.cost.microUsd * 100, actual)
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved, after.remaining], [4_600n, 0n, 95_400n])
      }).pipe(Effect.provide(LedgerTest)))

    it.effect("a denied reservation stops the agent before the call: the run fails with the ledger's reason", () =>
      Effect.gen(function*() {
        yield* fund(worst - 1)
        const fake = makeRecordingModel({ text: "should never be asked" })
        const result = yield* runUnderTestClock(agent(), question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(fake.layer)
        )
        assert.strictEqual(fake.calls.length, 0)
        assert.strictEqual(result.status, "failed")
        const inference = Report.find(result.report, "inference")!
        assert.strictEqual(inference.status, "failed")
        assert.strictEqual(inference.reason, `Ledger.reserve: ${scope}: requested ${worst}, ${worst - 1} remaining`)
        assert.deepStrictEqual(result.report.ledger, [
          {
            operation: "reserve",
            decision: "denied",
            stage: "inference",
            model: "metered",
            amount: worst,
            unit: "USD_MICROCENTS",
            reason: "budget-exceeded",
            detail: `Ledger.reserve: ${scope}: requested ${worst}, ${worst - 1} remaining`,
            atMs: 0
          }
        ])
        assert.strictEqual(result.report.cost.microUsd, 0)
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved], [0n, 0n])
      }).pipe(Effect.provide(LedgerTest)))

    it.effect("a subject without a budget is denied (budget-not-found)", () =>
      Effect.gen(function*() {
        const result = yield* runUnderTestClock(agent(), question).pipe(
          Guard.withGuard({ subject: { tenant, agent: "unfunded" } }),
          Effect.provide(model)
        )
        assert.strictEqual(result.status, "failed")
        assert.deepStrictEqual(result.report.ledger?.map((entry) => [entry.decision, entry.reason]), [
          ["denied", "budget-not-found"]
        ])
      }).pipe(Effect.provide(LedgerTest)))

    it.effect("a call cut at the stage's deadline releases its reservation", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const result = yield* runUnderTestClock(agent("150 millis"), question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(model)
        )
        assert.strictEqual(result.status, "failed")
        assert.strictEqual(Report.find(result.report, "inference")!.status, "timed-out")
        assert.deepStrictEqual(result.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.amount]), [
          ["reserve", "allowed", worst],
          ["release", "released", worst]
        ])
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved, after.remaining], [0n, 0n, 100_000n])
        const reservations = yield* Effect.flatMap(Ledger.Ledger, (ledger) => ledger.listReservations({ tenant }))
        assert.deepStrictEqual(reservations.reservations.map((reservation) => reservation.status), ["released"])
      }).pipe(Effect.provide(LedgerTest)))

    it.effect("a failed call releases its reservation", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const fake = makeRecordingModel({ fail: true })
        const result = yield* runUnderTestClock(agent(), question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(fake.layer)
        )
        assert.strictEqual(result.status, "failed")
        assert.deepStrictEqual(result.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.amount]), [
          ["reserve", "allowed", worst],
          ["release", "released", worst]
        ])
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved], [0n, 0n])
      }).pipe(Effect.provide(LedgerTest)))

    it.effect("fails closed: a store that cannot answer denies the call (store-unavailable)", () =>
      Effect.gen(function*() {
        const fake = makeRecordingModel({ text: "should never be asked" })
        const unavailable = new Ledger.StoreUnavailable({ store: "test", detail: "connection refused" })
        const down = Layer.succeed(
          Ledger.Ledger,
          Ledger.Ledger.of({
            ...(yield* Ledger.Ledger),
            reserve: () => Effect.fail(new Ledger.LedgerError({ method: "Ledger.reserve", reason: unavailable }))
          })
        )
        const result = yield* runUnderTestClock(agent(), question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(Layer.merge(fake.layer, down))
        )
        assert.strictEqual(fake.calls.length, 0)
        assert.strictEqual(result.status, "failed")
        assert.deepStrictEqual(result.report.ledger?.map((entry) => [entry.decision, entry.reason]), [
          ["denied", "store-unavailable"]
        ])
        assert.include(Report.find(result.report, "inference")!.reason!, "connection refused")
      }).pipe(Effect.provide(LedgerTest)))

    // The memory ledger, but the first `failures` calls of `operation` answer StoreUnavailable:
    // before the store applies them (`lost: false`), or after (`lost: true`: the answer was lost).
    // `fails(input)`, when given, decides instead which calls fail.
    const flaky = (
      operation: "reserve" | "commit",
      failures: number,
      lost: boolean,
      fails?: (input: any) => boolean
    ) =>
      Layer.effect(
        Ledger.Ledger,
        Effect.gen(function*() {
          const ledger = yield* Ledger.Ledger
          let left = failures
          const unavailable = new Ledger.LedgerError({
            method: `Ledger.${operation}`,
            reason: new Ledger.StoreUnavailable({ store: "test", detail: "no reply from Redis within 5s" })
          })
          const wrap = <I, A>(real: (input: I) => Effect.Effect<A, Ledger.LedgerError>) => (input: I) =>
            Effect.suspend(() => {
              if (fails === undefined ? left === 0 : !fails(input)) return real(input)
              left--
              return lost ? Effect.andThen(real(input), Effect.fail(unavailable)) : Effect.fail(unavailable)
            })
          return Ledger.Ledger.of({
            ...ledger,
            ...(operation === "reserve" ? { reserve: wrap(ledger.reserve) } : { commit: wrap(ledger.commit) })
          })
        })
      ).pipe(Layer.provideMerge(LedgerTest))

    // whether the ledger of the outage test answers nothing, and whether rsv_1's commit dies
    const down = { value: false }
    const broken = { value: false }

    const entries = (result: { readonly report: Report.RunReport }) =>
      result.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.amount, entry.reservationId])

    for (const lost of [false, true]) {
      it.effect(
        `a commit the ledger could not answer (${
          lost ? "applied, its answer lost" : "not applied"
        }) is tried again with its key before the next call: charged once`,
        () =>
          Effect.gen(function*() {
            yield* fund(100_000)
            // a second apart: the first call's reservation (60 s) has not expired
            const run = guardedRun()
            const first = yield* run
            assert.strictEqual(first.status, "complete") // the answer came; its cost is not recorded yet
            assert.deepStrictEqual(
              first.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.reason]),
              [
                ["reserve", "allowed", undefined],
                ["commit", "failed", "store-unavailable"]
              ]
            )
            const second = yield* run
            assert.deepStrictEqual(entries(second), [
              ["commit", "committed", actual, "rsv_1"],
              ["reserve", "allowed", worst, "rsv_2"],
              ["commit", "committed", actual, "rsv_2"]
            ])
            assert.include(second.report.ledger?.[0]?.detail, "recovered")
            const after = yield* balance
            assert.deepStrictEqual([after.spent, after.reserved], [2n * BigInt(actual), 0n])
          }).pipe(Effect.provide(flaky("commit", 1, lost)))
      )
    }

    it.effect("while the ledger is still unavailable, what is owed is kept, in order, for a later call", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const run = guardedRun()
        yield* run // its commit fails
        const second = yield* run // the retry of the first fails: the round stops; its own commit fails too
        assert.deepStrictEqual(second.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.reason]), [
          ["reserve", "allowed", undefined],
          ["commit", "failed", "store-unavailable"]
        ])
        const third = yield* run
        assert.deepStrictEqual(entries(third), [
          ["commit", "committed", actual, "rsv_1"],
          ["commit", "committed", actual, "rsv_2"],
          ["reserve", "allowed", worst, "rsv_3"],
          ["commit", "committed", actual, "rsv_3"]
        ])
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved], [3n * BigInt(actual), 0n])
      }).pipe(Effect.provide(flaky("commit", 3, false))))

    it.effect("closing the ledger with a settlement the store never took says so, once, at the error level", () =>
      Effect.gen(function*() {
        const logged: Array<string> = []
        const capture = Logger.layer([
          Logger.make(({ logLevel, message }) => {
            logged.push(`${logLevel}: ${Array.isArray(message) ? message.join(" ") : String(message)}`)
          })
        ])
        yield* Effect.gen(function*() {
          yield* fund(100_000)
          const first = yield* guardedRun()
          assert.deepStrictEqual(first.report.ledger?.map((entry) => [entry.operation, entry.decision]), [
            ["reserve", "allowed"],
            ["commit", "failed"]
          ])
          assert.deepStrictEqual(logged, [], "nothing said while the ledger is open")
        }).pipe(Effect.provide(flaky("commit", 100, false)), Effect.provide(capture))
        assert.deepStrictEqual(logged, [
          "Error: ledger closing with 1 guarded settlement the store did not take (it did not answer): " +
          "a release not made holds its reservation until it expires, a commit or charge not made is not recorded"
        ])
      }))

    it.effect("a settlement that always fails does not hold the others back, and is given up after 5 tries", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const run = guardedRun()
        yield* run // rsv_1's commit fails (always)
        yield* run // rsv_1 fails again (its 2nd try: the reserve answered, so it counts); rsv_2's commit fails (once)
        const third = yield* run // rsv_1 fails a 3rd time, and the round goes on: rsv_2 commits
        assert.deepStrictEqual(entries(third), [
          ["commit", "committed", actual, "rsv_2"],
          ["reserve", "allowed", worst, "rsv_3"],
          ["commit", "committed", actual, "rsv_3"]
        ])
        yield* run // rsv_1's 4th try
        const fifth = yield* run // its 5th: given up, and said so
        assert.deepStrictEqual(
          fifth.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.reason, entry.reservationId]),
          [
            ["reserve", "allowed", undefined, "rsv_5"],
            ["commit", "failed", "given-up", "rsv_1"],
            ["commit", "committed", undefined, "rsv_5"]
          ]
        )
        assert.include(fifth.report.ledger?.[1]?.detail, "given up after 5 tries")
        const sixth = yield* run // nothing owed any more
        assert.deepStrictEqual(entries(sixth)?.map((entry) => entry[0]), ["reserve", "commit"])
        assert.strictEqual((yield* balance).spent, 5n * BigInt(actual)) // rsv_2 to rsv_6; rsv_1 never charged
      }).pipe(
        Effect.provide((() => {
          let rsv2 = 0
          return flaky(
            "commit",
            0,
            false,
            (input: { reservationId: string }) =>
              input.reservationId === "rsv_1" || (input.reservationId === "rsv_2" && rsv2++ === 0)
          )
        })())
      ))

    it.effect("an outage costs no settlement a try: a lost commit is charged once the ledger is back", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const run = guardedRun()
        yield* run // rsv_1's commit is lost
        down.value = true
        for (let i = 0; i < 8; i++) {
          const denied = yield* run // every call fails closed; what is owed keeps, untried as far as counting goes
          assert.strictEqual(denied.status, "failed")
          assert.isFalse(denied.report.ledger?.some((entry) => entry.reason === "given-up"))
        }
        down.value = false
        const back = yield* run
        // rsv_1 charged once; the 8 reserves sent again made rsv_2 to rsv_9, released at once
        assert.deepStrictEqual(entries(back)?.filter((entry) => entry[1] === "committed").map((entry) => entry[3]), [
          "rsv_1",
          "rsv_10"
        ])
        // no release entries for holds the outage never made (the replayed reserves made them, released unrecorded)
        assert.isFalse(entries(back)?.some((entry) => entry[0] === "release"))
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved], [2n * BigInt(actual), 0n])
      }).pipe(Effect.provide(
        Layer.effect(
          Ledger.Ledger,
          Effect.gen(function*() {
            const ledger = yield* Ledger.Ledger
            const unavailable = (method: string) =>
              Effect.fail(
                new Ledger.LedgerError({
                  method,
                  reason: new Ledger.StoreUnavailable({ store: "test", detail: "connection refused" })
                })
              )
            let commits = 0
            return Ledger.Ledger.of({
              ...ledger,
              reserve: (input) => down.value ? unavailable("Ledger.reserve") : ledger.reserve(input),
              commit: (input) => down.value || commits++ === 0 ? unavailable("Ledger.commit") : ledger.commit(input),
              release: (input) => down.value ? unavailable("Ledger.release") : ledger.release(input)
            })
          })
        ).pipe(Layer.provideMerge(LedgerTest))
      )))

    it.effect("a settlement whose store call dies is recorded, counted, and does not block the tenant", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const run = guardedRun()
        yield* run // rsv_1's commit is lost
        broken.value = true // from now on, a commit of rsv_1 dies (an answer the store cannot read)
        const results = []
        for (let i = 0; i < 5; i++) results.push(yield* run)
        for (const result of results) assert.strictEqual(result.status, "complete") // the tenant goes on
        const reasons = results.flatMap((result) => result.report.ledger ?? []).filter((entry) =>
          entry.reservationId === "rsv_1"
        )
          .map((entry) => entry.reason)
        assert.deepStrictEqual(reasons, ["defect", "defect", "defect", "defect", "given-up"])
        assert.strictEqual((yield* balance).spent, 5n * BigInt(actual)) // rsv_2 to rsv_6
      }).pipe(Effect.provide(
        Layer.effect(
          Ledger.Ledger,
          Effect.gen(function*() {
            const ledger = yield* Ledger.Ledger
            let first = true
            return Ledger.Ledger.of({
              ...ledger,
              commit: (input) =>
                Effect.suspend(() => {
                  if (first) {
                    first = false
                    return Effect.fail(
                      new Ledger.LedgerError({
                        method: "Ledger.commit",
                        reason: new Ledger.StoreUnavailable({ store: "test", detail: "no reply" })
                      })
                    )
                  }
                  return broken.value && input.reservationId === "rsv_1"
                    ? Effect.die(new Error("unexpected reply"))
                    : ledger.commit(input)
                })
            })
          })
        ).pipe(Layer.provideMerge(LedgerTest))
      )))

    it.effect("a settlement older than the ledger's retention is given up, not retried", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        yield* guardedRun() // rsv_1's commit is lost
        yield* TestClock.adjust("25 hours") // past the 24-hour retention (its reservation was swept meanwhile)
        const later = yield* guardedRun()
        const first = later.report.ledger?.[0]
        assert.deepStrictEqual([first?.operation, first?.decision, first?.reason, first?.reservationId], [
          "commit",
          "failed",
          "given-up",
          "rsv_1"
        ])
        assert.include(first?.detail, "retention")
      }).pipe(Effect.provide(flaky("commit", 1, false))))

    it.effect("the retention that decides is the ledger's own: a lost late event is given up, not charged twice", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        // the late event is applied, its answer lost
        const run = runUnderTestClock(slowAgent, question).pipe(
          Guard.withGuard({ subject, ttl: "1 second" }),
          Effect.provide(slowModel)
        )
        const first = yield* run
        assert.deepStrictEqual(first.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.reason]), [
          ["reserve", "allowed", undefined],
          ["commit", "failed", "reservation-expired"],
          ["event", "failed", "store-unavailable"]
        ])
        // an hour on, the ledger (retention 1 hour, given to its layer only) has forgotten the event's key
        yield* TestClock.adjust("2 hours")
        const later = yield* run
        const owed = later.report.ledger?.[0]
        assert.deepStrictEqual([owed?.operation, owed?.decision, owed?.reason], ["event", "failed", "given-up"])
        const spent = (yield* balance).spent
        assert.strictEqual(spent, 2n * BigInt(actual)) // once per call, never twice for the first
      }).pipe(Effect.provide(
        Layer.effect(
          Ledger.Ledger,
          Effect.gen(function*() {
            const ledger = yield* Ledger.Ledger
            let lost = true
            return Ledger.Ledger.of({
              ...ledger,
              event: (input) =>
                Effect.flatMap(ledger.event(input), (answer) => {
                  if (!lost) return Effect.succeed(answer)
                  lost = false
                  return Effect.fail(
                    new Ledger.LedgerError({
                      method: "Ledger.event",
                      reason: new Ledger.StoreUnavailable({ store: "test", detail: "no reply" })
                    })
                  )
                })
            })
          })
        ).pipe(
          Layer.provideMerge(
            Ledger.layer.pipe(
              Layer.provide(LedgerStore.layerMemory),
              Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity)),
              Layer.provide(Layer.succeed(Ledger.Retention, Duration.hours(1)))
            )
          )
        )
      )))

    it.effect("what one tenant owes is settled by that tenant's next call, not another's", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const ledger = yield* Ledger.Ledger
        yield* ledger.createBudget({ tenant: "beta", scope: "tenant:beta", unit: "USD_MICROCENTS", allocated: 100_000 })
        yield* guardedRun(subject) // acme's commit fails
        const beta = yield* guardedRun({ tenant: "beta" })
        assert.deepStrictEqual(entries(beta), [["reserve", "allowed", worst, "rsv_2"], [
          "commit",
          "committed",
          actual,
          "rsv_2"
        ]])
        const acme = yield* guardedRun(subject)
        assert.deepStrictEqual(entries(acme)?.[0], ["commit", "committed", actual, "rsv_1"])
      }).pipe(Effect.provide(flaky("commit", 1, false))))

    it.effect("a reserve whose answer was lost is found by its key and released before the next call", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        // a second apart: the first call's reservation (60 s) has not expired
        const run = guardedRun()
        const first = yield* run
        assert.strictEqual(first.status, "failed") // fails closed
        assert.deepStrictEqual(first.report.ledger?.map((entry) => [entry.decision, entry.reason]), [
          ["denied", "store-unavailable"]
        ])
        assert.strictEqual((yield* balance).reserved, BigInt(worst)) // but the store had applied it
        const second = yield* run
        assert.deepStrictEqual(entries(second), [
          ["release", "released", worst, "rsv_1"],
          ["reserve", "allowed", worst, "rsv_2"],
          ["commit", "committed", actual, "rsv_2"]
        ])
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved], [BigInt(actual), 0n])
      }).pipe(Effect.provide(flaky("reserve", 1, true))))

    it.effect("a loop of calls stops at the budget: exactly as many calls as it covers", () =>
      Effect.gen(function*() {
        // The worst case of a call is 10,600 µ¢ and each call spends 4,600: with 50,000,
        // calls 1–8 fit (8 × 4,600 = 36,800; 13,200 left), the 9th reservation (10,600) fits too,
        // leaving 8,800 after its commit, and the 10th (10,600 > 8,800) is denied.
        yield* fund(50_000)
        const loop = Agent.make({
          name: "loop",
          budget: "1 minute",
          pipeline: Pipeline.make<string>().add(
            Stage.required("loop", ({ input }) =>
              Effect.gen(function*() {
                for (;;) yield* Inference.run({ prompt: input, models: metered })
              }))
          )
        })
        const result = yield* runUnderTestClock(loop, question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(model)
        )
        assert.strictEqual(result.status, "failed")
        const ledger = result.report.ledger ?? []
        assert.strictEqual(ledger.filter((entry) => entry.decision === "committed").length, 9)
        assert.deepStrictEqual(ledger.at(-1)?.decision, "denied")
        assert.strictEqual(ledger.at(-1)?.reason, "budget-exceeded")
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved, after.remaining], [41_400n, 0n, 8_600n])
        assert.strictEqual(result.report.cost.microUsd * 100, 41_400)
      }).pipe(Effect.provide(LedgerTest)))

    it.effect("a call that outlives its reservation (ttl + grace) is charged by an event, not lost", () =>
      Effect.gen(function*() {
        // 12,000: the expired hold (10,600) would leave 1,400 until swept; the guard sweeps first
        yield* fund(12_000)
        const result = yield* runUnderTestClock(slowAgent, question).pipe(
          Guard.withGuard({ subject, ttl: "1 second", overagePolicy: "REJECT" }),
          Effect.provide(slowModel)
        )
        assert.strictEqual(result.status, "complete")
        assert.deepStrictEqual(
          result.report.ledger?.map((entry) => [entry.operation, entry.decision, entry.amount, entry.reason]),
          [
            ["reserve", "allowed", worst, undefined],
            ["commit", "failed", actual, "reservation-expired"],
            ["event", "charged", actual, undefined]
          ]
        )
        assert.strictEqual(result.report.ledger?.[2]?.reservationId, "rsv_1")
        const after = yield* balance
        assert.deepStrictEqual([after.spent, after.reserved, after.remaining, after.isOverLimit], [
          BigInt(actual),
          0n,
          7_400n,
          false
        ])
      }).pipe(Effect.provide(LedgerTest)))

    it.effect("unguarded runs report no ledger", () =>
      Effect.gen(function*() {
        const result = yield* runUnderTestClock(agent(), question).pipe(Effect.provide(model))
        assert.strictEqual(result.status, "complete")
        assert.isUndefined(result.report.ledger)
      }))
  })
})
