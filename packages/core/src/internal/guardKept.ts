/**
 * Where the settlements the guard keeps for later (`guardPending.ts`) live,
 * per ledger and tenant: in the Ledger service itself when `Ledger.make`
 * built it (an own enumerable property, so that a wrapper spread from it,
 * `{ ...ledger, reserve }`, shares them), else in a table by service.
 * Apart from `guardPending.ts` so that `Ledger.ts` can attach the place and
 * count what is left when its layer closes without importing the guard.
 */

/** A ledger's kept settlements, by tenant. */
export type Kept<S> = Map<string, Array<S>>

const key: unique symbol = Symbol.for("@timebox/core/Ledger/kept")

const byLedger = new WeakMap<object, Kept<unknown>>()

/** Gives `ledger` a place of its own for kept settlements; answers it. */
export const attach = <L extends object>(ledger: L): L => {
  Object.defineProperty(ledger, key, { value: new Map(), enumerable: true })
  return ledger
}

/** The settlements kept for `ledger`. */
export const of = <S>(ledger: object): Kept<S> => {
  const own = (ledger as { readonly [key]?: Kept<S> })[key]
  if (own !== undefined) return own
  let kept = byLedger.get(ledger)
  if (kept === undefined) {
    kept = new Map()
    byLedger.set(ledger, kept)
  }
  return kept as Kept<S>
}

/** How many settlements are kept for `ledger`, all tenants together. */
export const count = (ledger: object): number => {
  let total = 0
  for (const list of of(ledger).values()) total += list.length
  return total
}
