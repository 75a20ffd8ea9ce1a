import { Ledger, LedgerStore } from "@timebox/core"
import { type Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as LedgerStoreTest from "timebox-test/LedgerStoreTest"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"

// The conformance suite, unchanged, on the Redis store: every test names
// fresh tenants, and every key lives under this run's prefix.
const url = inject("redisUrl")
const prefix = inject("redisPrefix")

// Store calls are real I/O, outside the test clock. The ledger's background
// sweeper wakes on the test clock and then waits for Redis; if the clock were
// moved on meanwhile, the sweeper would sleep past the next tick. So time
// moves only when no store call is in flight, before and after the move.
const inFlight = { count: 0 }

const counted = Layer.effect(
  LedgerStore.LedgerStore,
  Effect.map(LedgerStore.LedgerStore, (store) => {
    const wrap = <A, B, E>(operation: (input: A) => Effect.Effect<B, E>) => (input: A): Effect.Effect<B, E> =>
      Effect.suspend(() => {
        inFlight.count++
        return Effect.ensuring(operation(input), Effect.sync(() => inFlight.count--))
      })
    return LedgerStore.LedgerStore.of({
      reserve: wrap(store.reserve),
      commit: wrap(store.commit),
      release: wrap(store.release),
      extend: wrap(store.extend),
      decide: wrap(store.decide),
      event: wrap(store.event),
      balances: wrap(store.balances),
      getReservation: wrap(store.getReservation),
      listReservations: wrap(store.listReservations),
      sweep: wrap(store.sweep),
      createBudget: wrap(store.createBudget),
      fundBudget: wrap(store.fundBudget),
      setBudgetStatus: wrap(store.setBudgetStatus),
      setOverdraftLimit: wrap(store.setOverdraftLimit)
    })
  })
)

const tick = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))

const quiesce = Effect.gen(function*() {
  for (let attempt = 0; attempt < 5_000 && inFlight.count > 0; attempt++) yield* tick
  yield* tick
})

const advance = (duration: Duration.Input) =>
  quiesce.pipe(Effect.andThen(TestClock.adjust(duration)), Effect.andThen(quiesce))

const store = counted.pipe(Layer.provide(RedisLedgerStore.layerUrl({ url, prefix })))

LedgerStoreTest.suite("LedgerStore (redis)", Ledger.layer.pipe(Layer.provide(store)), { advance })
