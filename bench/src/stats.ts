/**
 * Small helpers: percentiles, a sample `Recorder`, rounding and an aligned text table.
 */

/** The `p`-th percentile (0–100) of `sorted`, nearest rank. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/**
 * Latency samples, recorded into chunks of 8,192 numbers. An array pushed to
 * past some hundred thousand numbers is copied on every growth, into memory
 * the process touches for the first time (~100 ns a push on the bench
 * machine, more than a memory ledger operation's tenth); recording here
 * never copies, so the loop being measured pays for no more than a store.
 */
export class Recorder {
  private readonly chunks: Array<Float64Array> = []
  private last = new Float64Array(0)
  private at = 0

  /** Adds one sample. */
  record(value: number): void {
    if (this.at === this.last.length) {
      this.last = new Float64Array(8_192)
      this.chunks.push(this.last)
      this.at = 0
    }
    this.last[this.at++] = value
  }

  /** The samples, in recording order. */
  values(): Array<number> {
    const out: Array<number> = []
    for (const chunk of this.chunks) {
      const used = chunk === this.last ? this.at : chunk.length
      for (let i = 0; i < used; i++) out.push(chunk[i]!)
    }
    return out
  }
}

/** A sorted copy. */
export const sortNumbers = (values: ReadonlyArray<number>): Array<number> =>
  Array.from(Float64Array.from(values).sort())

export interface Summary {
  readonly n: number
  readonly min: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

export const summarize = (values: ReadonlyArray<number>): Summary => {
  const sorted = sortNumbers(values)
  return {
    n: sorted.length,
    min: round(sorted[0] ?? Number.NaN),
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN)
  }
}

/** Rounds to `digits` decimals (3 by default). */
export const round = (value: number, digits = 3): number => {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Formats rows as a table with aligned columns; numbers are right-aligned. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  const cells = [header, ...rows.map((row) => row.map((cell) => String(cell)))]
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)))
  const numeric = header.map((_, column) => rows.every((row) => typeof row[column] === "number"))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, column) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd()
  const rule = widths.map((width) => "-".repeat(width)).join("  ")
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join("\n")
}
