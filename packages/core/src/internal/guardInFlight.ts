/**
 * The guarded model calls under way, per ledger, so that closing the
 * ledger's layer can wait for them to settle.
 *
 * A stage's work runs on a fiber of its own that the run does not wait for
 * once it is interrupted (a deadline, or Ctrl-C): the run ends at once while
 * a guarded call's release or commit is still on its way to the ledger. In a
 * program that then closes the ledger (the CLI on Ctrl-C, a server shutting
 * down), the settlement would find the store closed, or the process gone,
 * and the reservation would hold its money until it expired. `Ledger.layer`
 * waits for the calls counted here before it closes (`drain`).
 */
import { Clock, Deferred, type Duration, Effect } from "effect"
import * as Slot from "./ledgerSlot.ts"

interface InFlight {
  count: number
  waiters: Array<Deferred.Deferred<void>>
}

const slot = Slot.make<InFlight>("inFlight", () => ({ count: 0, waiters: [] }))

/** Gives `ledger` a count of its own, carried along when it is spread into a wrapper; answers it. */
export const attach = slot.attach

const stateOf = slot.of

/** A guarded call on `ledger` begins. */
export const enter = (ledger: object): void => {
  stateOf(ledger).count++
}

/** A guarded call on `ledger` ended: settled, kept for later, or given up. */
export const leave = (ledger: object): void => {
  const state = stateOf(ledger)
  state.count--
  if (state.count > 0) return
  const waiters = state.waiters
  state.waiters = []
  for (const waiter of waiters) Deferred.doneUnsafe(waiter, Effect.void)
}

/** How many guarded calls on `ledger` are under way. */
export const count = (ledger: object): number => stateOf(ledger).count

/** The wall clock: closing is bounded in real time whatever `Clock` the program runs under. */
const wallClock = Clock.Clock.defaultValue()

/**
 * Waits until no guarded call on `ledger` is under way, or `timeout` (wall
 * clock) has passed.
 */
export const drain = (ledger: object, timeout: Duration.Duration): Effect.Effect<void> =>
  Effect.suspend(() => {
    const state = stateOf(ledger)
    if (state.count === 0) return Effect.void
    const waiter = Deferred.makeUnsafe<void>()
    state.waiters.push(waiter)
    return Deferred.await(waiter).pipe(
      Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.void }),
      Effect.provideService(Clock.Clock, wallClock)
    )
  })
