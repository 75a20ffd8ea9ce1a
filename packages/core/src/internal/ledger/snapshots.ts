/**
 * Balance snapshots kept for replay, off the JavaScript heap.
 *
 * An idempotent answer carries the balances of the budgets it touched as they
 * were right after the operation, and a replay (for 24 hours) must return
 * them unchanged. Kept as `Balance` objects, that is ten fields and five
 * `bigint`s per budget, every one of which survives the young generation and
 * is copied by each scavenge. Here a snapshot is one row of numbers in a
 * chunk of typed arrays instead (the figures in a `BigInt64Array`, the status
 * and over-limit flag in a `Uint8Array`), which the garbage collector never
 * scans; the `Balance` objects are rebuilt only on replay, equal to the
 * first ones. The budgets' scope and unit never change, so a row does not
 * repeat them: the reader passes the same budgets the writer did.
 *
 * A chunk lives as long as something that points into it (a reservation
 * record, a remembered answer): rows are never freed one by one.
 *
 * @internal
 */
import { fits } from "./amount.ts"
import type { Balance, BudgetStatus } from "./model.ts"

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
}

/** Figures per row: allocated, spent, reserved, debt, overdraft limit. */
const width = 5

/** Rows per chunk: 8,192 rows are 320 KiB of figures. */
const rowsPerChunk = 8_192

/** One block of rows. */
export class Chunk {
  readonly figures = new BigInt64Array(rowsPerChunk * width)
  /** Per row: the status's index in `statuses`, times 2, plus 1 when over limit. */
  readonly flags = new Uint8Array(rowsPerChunk)
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

const statuses: ReadonlyArray<BudgetStatus> = ["active", "frozen", "closed"]

const flagsOf = (budget: Figures): number =>
  (budget.status === "active" ? 0 : budget.status === "frozen" ? 2 : 4) + (budget.isOverLimit ? 1 : 0)

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
    const { allocated, spent, reserved, debt, overdraftLimit } = budget
    if (!(fits(allocated) && fits(spent) && fits(reserved) && fits(debt) && fits(overdraftLimit))) {
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
    figures[at] = allocated
    figures[at + 1] = spent
    figures[at + 2] = reserved
    figures[at + 3] = debt
    figures[at + 4] = overdraftLimit
    chunk.flags[row + i] = flagsOf(budget)
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
    const flags = chunk.flags[row + i]!
    out.push(
      balance(
        budgets[i]!,
        statuses[flags >> 1]!,
        figures[at]!,
        figures[at + 1]!,
        figures[at + 2]!,
        figures[at + 3]!,
        figures[at + 4]!,
        (flags & 1) === 1
      )
    )
  }
  return out
}
