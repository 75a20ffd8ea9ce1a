/**
 * The memory store's index of reservations: each found by its identifier.
 *
 * Reservations are numbered 1, 2, … in creation order and identified as
 * `rsv_<number>`, so the index is a list by number (`Chunked`) rather than a
 * map by string: adding one is a push, and finding one parses its
 * identifier instead of hashing it. (What the sweeper looks at is each
 * tenant's expiry index, `expiries.ts`.)
 *
 * @internal
 */
import * as Chunked from "./chunked.ts"

/** What the index needs of a reservation. */
export interface Entry {
  /** Its number: `rsv_<seq>`. */
  readonly seq: number
}

/** The index. */
export interface Index<R extends Entry> {
  /** Reservation `base + i` at position `i`; `undefined` once it is dropped. */
  slots: Chunked.Chunked<R>
  base: number
}

/** An empty index; the first reservation is number 1. */
export const make = <R extends Entry>(): Index<R> => ({ slots: Chunked.make(), base: 1 })

/** The number the next reservation gets. */
export const nextSeq = <R extends Entry>(index: Index<R>): number => index.base + index.slots.length

/** The identifier of reservation `seq`. */
export const idOf = (seq: number): string => `rsv_${seq}`

/** The number in an identifier `rsv_<n>` (`n` without leading zeros, at most 15 digits), or −1. */
const seqOf = (id: string): number => {
  const length = id.length
  if (length < 5 || length > 19 || !id.startsWith("rsv_") || id.charCodeAt(4) === 48) return -1
  let seq = 0
  for (let i = 4; i < length; i++) {
    const digit = id.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return -1
    seq = seq * 10 + digit
  }
  return seq
}

/** Adds a new reservation (numbered `nextSeq`). */
export const add = <R extends Entry>(index: Index<R>, reservation: R): void => {
  Chunked.push(index.slots, reservation)
}

/** The reservation `id` names, if the index still holds it. */
export const find = <R extends Entry>(index: Index<R>, id: string): R | undefined => {
  const seq = seqOf(id)
  return seq < index.base ? undefined : Chunked.get(index.slots, seq - index.base)
}

/**
 * Drops reservations from the index for good (they ended long ago), and the
 * run of dropped ones at its start with them.
 */
export const drop = <R extends Entry>(index: Index<R>, dropped: ReadonlyArray<R>): void => {
  const { slots } = index
  for (const reservation of dropped) Chunked.set(slots, reservation.seq - index.base, undefined)
  let start = 0
  while (start < slots.length && Chunked.get(slots, start) === undefined) start++
  if (start > 0) {
    const kept = Chunked.make<R>()
    for (let i = start; i < slots.length; i++) Chunked.push(kept, Chunked.get(slots, i))
    index.slots = kept
    index.base += start
  }
}
