/**
 * State the guard keeps per ledger (the calls under way, the settlements
 * kept for later), carried by the Ledger service itself when `Ledger.make`
 * built it: an own enumerable symbol property, so that a wrapper spread from
 * it (`{ ...ledger, reserve }`) shares the same state, and `Ledger.layer`
 * reads what the guard wrote through any wrapper. A ledger made some other
 * way gets its state from a table by service.
 */

/** One kind of per-ledger state. */
export interface Slot<A> {
  /** Gives `ledger` a state of its own, carried along when it is spread; answers `ledger`. */
  readonly attach: <L extends object>(ledger: L) => L
  /** The state of `ledger`. */
  readonly of: (ledger: object) => A
}

/** A kind of per-ledger state named `name`, made by `make` when first needed. */
export const make = <A>(name: string, initial: () => A): Slot<A> => {
  const key = Symbol.for(`@timebox/core/Ledger/${name}`)
  const byLedger = new WeakMap<object, A>()
  return {
    attach: (ledger) => {
      Object.defineProperty(ledger, key, { value: initial(), enumerable: true })
      return ledger
    },
    of: (ledger) => {
      const own = (ledger as Record<symbol, A | undefined>)[key]
      if (own !== undefined) return own
      let state = byLedger.get(ledger)
      if (state === undefined) {
        state = initial()
        byLedger.set(ledger, state)
      }
      return state
    }
  }
}
