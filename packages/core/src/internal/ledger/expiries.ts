/**
 * The memory store's expiry index: one tenant's reservations by when they
 * are due for the sweeper (`expiresAt + grace`), then in creation order.
 *
 * A binary min-heap in three parallel arrays (due time, number, record). A
 * reservation is pushed when it is made and again when it is extended; an
 * entry that no longer says when its reservation is due (it was settled, or
 * extended since) is dropped when it comes to the top. So a sweep takes the
 * reservations it expires, and the stale entries due before them, without
 * looking at any other: a backlog of due reservations costs each page of a
 * sweep `limit · log n`, not the whole backlog. A new reservation is usually
 * due last (the same ttl, a later `now`), so pushing it rarely moves it.
 * Stale entries are also dropped whenever the index doubles (`compact`), so
 * it holds at most about twice the live ones.
 *
 * @internal
 */

/** The index. */
export interface Heap<R> {
  readonly due: Array<number>
  readonly seqs: Array<number>
  readonly items: Array<R>
  /** The size at which `push` asks for a `compact` (twice the live entries at the last one, at least 1,024). */
  compactAt: number
}

const minCompactAt = 1_024

/** An empty index. */
export const make = <R>(): Heap<R> => ({ due: [], seqs: [], items: [], compactAt: minCompactAt })

/**
 * Whether the index has grown to twice what was live at its last `compact`:
 * entries of settled reservations would otherwise stay until they are due,
 * up to a day after their reservation ended. Amortized, a compaction costs
 * each push a constant.
 */
export const needsCompaction = <R>(heap: Heap<R>): boolean => heap.items.length >= heap.compactAt

/** Drops the entries `live` rejects (given the record and the due time the entry holds), and re-heaps. */
export const compact = <R>(heap: Heap<R>, live: (item: R, due: number) => boolean): void => {
  const { due, items, seqs } = heap
  let kept = 0
  for (let i = 0; i < items.length; i++) {
    if (!live(items[i]!, due[i]!)) continue
    due[kept] = due[i]!
    seqs[kept] = seqs[i]!
    items[kept] = items[i]!
    kept++
  }
  due.length = kept
  seqs.length = kept
  items.length = kept
  for (let i = (kept >> 1) - 1; i >= 0; i--) siftDown(heap, i)
  heap.compactAt = Math.max(minCompactAt, 2 * kept)
}

/** How many entries it holds (stale ones included). */
export const size = <R>(heap: Heap<R>): number => heap.items.length

const before = <R>(heap: Heap<R>, i: number, j: number): boolean => {
  const a = heap.due[i]!
  const b = heap.due[j]!
  return a < b || (a === b && heap.seqs[i]! < heap.seqs[j]!)
}

const swap = <R>(heap: Heap<R>, i: number, j: number): void => {
  const { due, items, seqs } = heap
  const d = due[i]!
  due[i] = due[j]!
  due[j] = d
  const s = seqs[i]!
  seqs[i] = seqs[j]!
  seqs[j] = s
  const r = items[i]!
  items[i] = items[j]!
  items[j] = r
}

/** Adds `item` (number `seq`), due at `due`. */
export const push = <R>(heap: Heap<R>, due: number, seq: number, item: R): void => {
  let i = heap.items.length
  heap.due.push(due)
  heap.seqs.push(seq)
  heap.items.push(item)
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (!before(heap, i, parent)) break
    swap(heap, i, parent)
    i = parent
  }
}

/** When the first entry is due (`Infinity` when there is none). */
export const firstDue = <R>(heap: Heap<R>): number => heap.items.length === 0 ? Number.POSITIVE_INFINITY : heap.due[0]!

/** The first entry's record (call only when `size > 0`). */
export const first = <R>(heap: Heap<R>): R => heap.items[0]!

/** Moves entry `i` down to its place. */
const siftDown = <R>(heap: Heap<R>, from: number): void => {
  const length = heap.items.length
  let i = from
  for (;;) {
    const left = 2 * i + 1
    if (left >= length) break
    const right = left + 1
    const child = right < length && before(heap, right, left) ? right : left
    if (!before(heap, child, i)) break
    swap(heap, i, child)
    i = child
  }
}

/** Removes the first entry. */
export const pop = <R>(heap: Heap<R>): void => {
  const last = heap.items.length - 1
  if (last > 0) swap(heap, 0, last)
  heap.due.pop()
  heap.seqs.pop()
  heap.items.pop()
  siftDown(heap, 0)
}
