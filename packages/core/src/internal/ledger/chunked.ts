/**
 * An append-only list in chunks of 4,096 items, for what the memory store
 * keeps for 24 hours in creation order (idempotency keys, reservations).
 *
 * A JavaScript array grown by `push` past some hundred thousand items is
 * copied into a new, larger one on every growth, each allocated outside the
 * young generation on memory the process touches for the first time: in the
 * ledger bench that cost ~100 ns per push, ten times the rest of a push. Here
 * a push writes into the last chunk, and a new chunk (32 KiB, allocated like
 * any small object) is added when it is full; nothing already stored is
 * copied. Items are read and replaced by position.
 *
 * @internal
 */

const bits = 12

/** Items per chunk. */
const chunkSize = 1 << bits

const low = chunkSize - 1

/** The list. */
export interface Chunked<A> {
  readonly chunks: Array<Array<A | undefined>>
  /** How many items were pushed. */
  length: number
}

/** An empty list. */
export const make = <A>(): Chunked<A> => ({ chunks: [], length: 0 })

/** Adds `item` at position `length`. */
export const push = <A>(list: Chunked<A>, item: A | undefined): void => {
  const length = list.length
  const at = length & low
  if (at === 0) list.chunks.push(new Array<A | undefined>(chunkSize).fill(undefined))
  list.chunks[length >>> bits]![at] = item
  list.length = length + 1
}

/** The item at `index` (`undefined` outside `0 … length − 1`, or where `set` cleared it). */
export const get = <A>(list: Chunked<A>, index: number): A | undefined =>
  index >= 0 && index < list.length ? list.chunks[index >>> bits]![index & low] : undefined

/** Replaces the item at `index` (in `0 … length − 1`). */
export const set = <A>(list: Chunked<A>, index: number, item: A | undefined): void => {
  list.chunks[index >>> bits]![index & low] = item
}
