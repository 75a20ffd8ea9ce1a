/**
 * The memory store's hot operations as plain functions, for the `Ledger`
 * built over it.
 *
 * Each memory store operation is a synchronous function of the state and the
 * command, and `LedgerStore.makeMemory` wraps it in an Effect that runs it
 * when run. The `Ledger`'s hot methods already run inside an Effect of their
 * own (they read `Clock` there), so over the memory store they call the
 * function directly and answer with its `Exit`: no suspended Effect, no
 * `Result` conversion and no error mapping per call. Other stores are
 * unaffected: a store registers its functions here or is called through its
 * `LedgerStore` service as before.
 *
 * @internal
 */
import type { Result } from "effect"
import type * as Commands from "./commands.ts"
import type { LedgerErrorReason } from "./errors.ts"
import type * as Model from "./model.ts"

/** A store operation run synchronously. */
export type Operation<C, A> = (command: C) => Result.Result<A, LedgerErrorReason>

/** The hot operations of a store that runs them synchronously. */
export interface Direct {
  readonly reserve: Operation<Commands.ReserveCommand, Model.ReserveAnswer>
  readonly commit: Operation<Commands.CommitCommand, Model.CommitAnswer>
  readonly release: Operation<Commands.ReleaseCommand, Model.ReleaseAnswer>
  readonly extend: Operation<Commands.ExtendCommand, Model.ExtendAnswer>
  readonly decide: Operation<Commands.DecideCommand, Model.DecideAnswer>
  readonly event: Operation<Commands.EventCommand, Model.EventAnswer>
  readonly balances: Operation<Commands.BalancesQuery, Model.BalancesAnswer>
  readonly getReservation: Operation<Commands.GetReservationQuery, Model.Reservation>
}

const registry = new WeakMap<object, Direct>()

/** Registers the synchronous operations behind `store` (a `LedgerStore` service). */
export const register = (store: object, direct: Direct): void => {
  registry.set(store, direct)
}

/** The synchronous operations behind `store`, when it registered them. */
export const of = (store: object): Direct | undefined => registry.get(store)
