import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { Ledger } from "../src/index.ts"
import * as LedgerStoreTest from "./LedgerStoreTest.ts"

LedgerStoreTest.suite("LedgerStore (memory)", Ledger.layerMemory)

describe("LedgerStore (memory) retention", () => {
  const action = { kind: "llm.completion", name: "m" }

  it.effect("forgets idempotency keys and finished reservations 24 hours on, but not a key whose reservation is active", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const tenant = LedgerStoreTest.freshTenant()
      const subject = { tenant }
      yield* ledger.createBudget({ tenant, scope: subject, unit: "TOKENS", allocated: 1_000 })
      const reserve = (key: string, ttlMs = 60_000) =>
        ledger.reserve({
          tenant,
          subject,
          action,
          estimate: { unit: "TOKENS", amount: 10 },
          ttlMs,
          idempotencyKey: key
        })
      const done = yield* reserve("done")
      yield* ledger.commit({ tenant, reservationId: done.reservationId!, actual: { unit: "TOKENS", amount: 10 } })
      const long = yield* reserve("long", 86_400_000)
      yield* ledger.extend({ tenant, reservationId: long.reservationId!, extendByMs: 86_400_000 })
      yield* TestClock.adjust("25 hours")
      yield* ledger.sweep({})
      const listed = yield* ledger.listReservations({ tenant })
      assert.deepStrictEqual(listed.reservations.map((r) => r.reservationId), [long.reservationId])
      assert.strictEqual((yield* reserve("long", 86_400_000)).reservationId, long.reservationId)
      const again = yield* reserve("done")
      assert.notStrictEqual(again.reservationId, done.reservationId)
    }).pipe(Effect.provide(Ledger.layerMemory), Effect.provideService(Ledger.SweepInterval, Duration.infinity)))
})
