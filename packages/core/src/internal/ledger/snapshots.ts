/**
 * Balance snapshots kept for replay, mostly off the JavaScript heap.
 *
 * An idempotent answer carries the balances of the budgets it touched as they
 * were right after the operation, and a replay (for 24 hours) must return
 * them unchanged. Kept as `Balance` objects, that is ten fields and six
 * `bigint`s per budget, every one of which survives the young generation and
 * is copied by each scavenge. Here a snapshot is one row in a chunk instead:
 * the two figures that change with every reservation (spent, reserved) in a
 * `BigInt64Array`, which the garbage collector never scans, and the ones that
 * rarely change (allocated, debt, overdraft limit, status, over-limit flag)
 * as a pointer to a `Fixed` object shared by every row written while they
 * stay the same. A row is 24 bytes (it was 41 with all five figures in the
 * typed array): what the memory store keeps per keyed reservation is mostly
 * these rows, and on the bench machine every 4 KiB of new memory costs a
 * page fault of ~12 µs. The `Balance` objects are rebuilt only on replay,
 * equal to the first ones. The budgets' scope and unit never change, so a
 * row does not repeat them: the reader passes the same budgets the writer
 * did.
 *
 * A chunk lives as long as something that points into it (a reservation
 * record, a remembered answer): rows are never freed one by one.
 *
 * @internal
 */
import { fits } from "./amount.ts"
import type { Balance, BudgetStatus } from "./model.ts"

/** The figures of a budget that change rarely, as they were when rows were written. */
export interface Fixed {
  readonly allocated: bigint
  readonly debt: bigint
  readonly overdraftLimit: bigint
  readonly status: BudgetStatus
  readonly isOverLimit: boolean
}

/** The figures a budget is defined by (`remaining` is derived from them). */
export interface Figures {
  readonly scope: string
  readonly unit: Balance["unit"]
  readonly status: BudgetStatus
  readonly allocated: bigint
  readonly spent: bigint
  readonly reserved: bigint
  readonly debt: bigint
  readonly overdraftLimit: bigint
  readonly isOverLimit: boolean
  /** The `Fixed` the last row written for this budget pointed at (`write` compares it before sharing it). */
  fixed: Fixed | undefined
}

/** Figures per row in the typed array: spent, reserved. */
const width = 2

/** Rows per chunk: 8,192 rows are 128 KiB of figures and 64 KiB of pointers. */
const rowsPerChunk = 8_192

/** One block of rows. */
export class Chunk {
  readonly figures = new BigInt64Array(rowsPerChunk * width)
  /** Per row: the budget's rarely changing figures. */
  readonly fixed: Array<Fixed | undefined> = new Array<Fixed | undefined>(rowsPerChunk).fill(undefined)
  /**
   * Snapshots with a figure outside the signed 64-bit range, which a row
   * cannot hold, kept as objects by their first row (the ledger's invariants
   * keep every figure in range; this keeps a replay exact regardless).
   */
  exact: Map<number, Array<Balance>> | undefined = undefined
}

/** Where rows are handed out. */
export interface Arena {
  /** The chunk new rows come from. */
  chunk: Chunk
  /** Its next free row. */
  next: number
}

/** An empty arena. */
export const make = (): Arena => ({ chunk: new Chunk(), next: 0 })

/**
 * Hands out `count` consecutive rows (at most 8,192) and returns the first;
 * they are in `arena.chunk` as it is right after the call.
 */
export const allocate = (arena: Arena, count: number): number => {
  if (arena.next + count > rowsPerChunk) {
    arena.chunk = new Chunk()
    arena.next = 0
  }
  const row = arena.next
  arena.next += count
  return row
}

/**
 * Saves the current balances of `budgets` in fresh rows and returns the
 * first; they are in `arena.chunk` as it is right after the call.
 */
export const save = (arena: Arena, budgets: ReadonlyArray<Figures>): number => {
  const row = allocate(arena, budgets.length)
  write(arena.chunk, row, budgets)
  return row
}

/** The budget's rarely changing figures as they are now: the last ones shared when unchanged. */
const fixedOf = (budget: Figures): Fixed => {
  const last = budget.fixed
  if (
    last !== undefined &&
    last.allocated === budget.allocated &&
    last.debt === budget.debt &&
    last.overdraftLimit === budget.overdraftLimit &&
    last.status === budget.status &&
    last.isOverLimit === budget.isOverLimit
  ) return last
  const fixed: Fixed = {
    allocated: budget.allocated,
    debt: budget.debt,
    overdraftLimit: budget.overdraftLimit,
    status: budget.status,
    isOverLimit: budget.isOverLimit
  }
  budget.fixed = fixed
  return fixed
}

/** A `Balance` from its figures, as `state.snapshot` builds it. */
const balance = (
  budget: Figures,
  status: BudgetStatus,
  allocated: bigint,
  spent: bigint,
  reserved: bigint,
  debt: bigint,
  overdraftLimit: bigint,
  isOverLimit: boolean
): Balance => ({
  scope: budget.scope,
  unit: budget.unit,
  status,
  allocated,
  spent,
  reserved,
  debt,
  overdraftLimit,
  remaining: allocated - spent - reserved - debt,
  isOverLimit
})

/** Writes the current figures of `budgets` into rows `row`, `row + 1`, … of `chunk`. */
export const write = (chunk: Chunk, row: number, budgets: ReadonlyArray<Figures>): void => {
  const figures = chunk.figures
  for (let i = 0; i < budgets.length; i++) {
    const budget = budgets[i]!
    const { reserved, spent } = budget
    if (!(fits(spent) && fits(reserved))) {
      chunk.exact ??= new Map()
      chunk.exact.set(
        row,
        budgets.map((b) =>
          balance(b, b.status, b.allocated, b.spent, b.reserved, b.debt, b.overdraftLimit, b.isOverLimit)
        )
      )
      return
    }
    const at = (row + i) * width
    figures[at] = spent
    figures[at + 1] = reserved
    chunk.fixed[row + i] = fixedOf(budget)
  }
}

/** The balances `write(chunk, row, budgets)` saved, as fresh `Balance` objects. */
export const read = (chunk: Chunk, row: number, budgets: ReadonlyArray<Figures>): Array<Balance> => {
  const exact = chunk.exact?.get(row)
  if (exact !== undefined) return exact
  const figures = chunk.figures
  const out: Array<Balance> = []
  for (let i = 0; i < budgets.length; i++) {
    const at = (row + i) * width
    const fixed = chunk.fixed[row + i]!
    out.push(
      balance(
        budgets[i]!,
        fixed.status,
        fixed.allocated,
        figures[at]!,
        figures[at + 1]!,
        fixed.debt,
        fixed.overdraftLimit,
        fixed.isOverLimit
      )
    )
  }
  return out
}
