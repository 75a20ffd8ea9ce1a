/**
 * Where the settlements the guard keeps for later (`guardPending.ts`) live,
 * per ledger and tenant, in the ledger's slot (`ledgerSlot.ts`: shared by a
 * wrapper spread from the service). Apart from `guardPending.ts` so that
 * `Ledger.ts` can attach the place and count what is left when its layer
 * closes without importing the guard.
 */
import * as Slot from "./ledgerSlot.ts"

/** A ledger's kept settlements, by tenant. */
export type Kept<S> = Map<string, Array<S>>

const slot = Slot.make<Kept<unknown>>("kept", () => new Map())

/** Gives `ledger` a place of its own for kept settlements; answers it. */
export const attach = slot.attach

/** The settlements kept for `ledger`. */
export const of = <S>(ledger: object): Kept<S> => slot.of(ledger) as Kept<S>

/** How many settlements are kept for `ledger`, all tenants together. */
export const count = (ledger: object): number => {
  let total = 0
  for (const list of of(ledger).values()) total += list.length
  return total
}
