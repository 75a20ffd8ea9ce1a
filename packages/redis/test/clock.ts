// Moving the test clock over a store whose calls are real I/O.
//
// The memory store answers synchronously, so under `TestClock` a fiber woken
// by the clock (the ledger's background sweeper) finishes its store call
// before the test goes on. Redis answers later: a sweeper woken by
// `TestClock.adjust` may still be waiting for Redis when the test moves the
// clock again (and so sleeps past its next tick) or reads the final state
// (and so lands between two reads). `counted` wraps a store to count its
// calls; the `advance` functions below move the clock only when the store has
// settled.
import { LedgerStore } from "@timebox/core"
import { type Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"

/** Store calls now in flight, sweeps among them, and calls finished so far. */
export const calls = { inFlight: 0, sweeps: 0, finished: 0 }

const count = <A, B, E>(operation: (input: A) => Effect.Effect<B, E>, sweep = false) => (input: A) =>
  Effect.suspend(() => {
    calls.inFlight++
    if (sweep) calls.sweeps++
    return Effect.ensuring(
      operation(input),
      Effect.sync(() => {
        calls.inFlight--
        if (sweep) calls.sweeps--
        calls.finished++
      })
    )
  })

/** The `LedgerStore` in context, with its calls counted in `calls`. */
export const counted: Layer.Layer<LedgerStore.LedgerStore, never, LedgerStore.LedgerStore> = Layer.effect(
  LedgerStore.LedgerStore,
  Effect.map(LedgerStore.LedgerStore, (store) =>
    LedgerStore.LedgerStore.of({
      reserve: count(store.reserve),
      commit: count(store.commit),
      release: count(store.release),
      extend: count(store.extend),
      decide: count(store.decide),
      event: count(store.event),
      balances: count(store.balances),
      getReservation: count(store.getReservation),
      listReservations: count(store.listReservations),
      sweep: count(store.sweep, true),
      createBudget: count(store.createBudget),
      fundBudget: count(store.fundBudget),
      setBudgetStatus: count(store.setBudgetStatus),
      setOverdraftLimit: count(store.setOverdraftLimit)
    }))
)

/** One turn of the event loop (real time: store replies arrive meanwhile). */
const tick = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))

/** Waits (in real time, at most ~5 s) until `done` holds, letting woken fibers start first. */
const settle = (done: () => boolean) =>
  Effect.gen(function*() {
    yield* tick
    for (let attempt = 0; attempt < 5_000 && !done(); attempt++) yield* tick
  })

/**
 * For sequential tests: moves the clock only while no store call is in
 * flight, and waits for the calls it wakes (the sweeper) to finish.
 */
export const advanceSettled = (duration: Duration.Input): Effect.Effect<void> =>
  settle(() => calls.inFlight === 0).pipe(
    Effect.andThen(TestClock.adjust(duration)),
    Effect.andThen(settle(() => calls.inFlight === 0))
  )

/**
 * For concurrent workers: moves the clock once the store has answered
 * `perTick` more calls (about one per worker, so time passes with the work,
 * not with the event loop), then waits for the sweeps it wakes to finish.
 */
export const advancePaced = (perTick: number) => {
  let mark = 0
  return (duration: Duration.Input): Effect.Effect<void> =>
    settle(() => calls.finished - mark >= perTick || calls.inFlight === 0).pipe(
      Effect.andThen(Effect.sync(() => {
        mark = calls.finished
      })),
      Effect.andThen(TestClock.adjust(duration)),
      Effect.andThen(settle(() => calls.sweeps === 0))
    )
}
