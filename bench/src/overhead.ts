/**
 * Overhead: the same zero-latency pipeline with timebox and by hand, one run
 * at a time and with 100 runs in flight, in the same process.
 *
 * Every implementation is driven by the same loop: `runOne()` returns a
 * promise (timebox: `Effect.runPromise(Agent.run(agent, input))`, a fresh
 * root fiber per run, as a server handling requests would; baseline: the
 * async function). "Sequential" awaits each run before starting the next;
 * "100 in flight" keeps 100 workers, each awaiting runs back to back, so that
 * 100 runs are always in progress. µs/run is wall time divided by runs
 * completed.
 *
 * The measured time is split into rounds; in each round every implementation
 * runs for the same time, in an order that rotates from round to round, so
 * that drift (JIT, GC, CPU frequency, other processes) favours none of them.
 */
import { Agent } from "@timebox/core"
import { Effect } from "effect"
import * as Baseline from "./baseline.ts"
import { agent, expectedRecords, type Request } from "./pipeline.ts"
import { sortNumbers } from "./stats.ts"

export type RunOne = (input: Request) => Promise<unknown>

const inputs: ReadonlyArray<Request> = Array.from({ length: 64 }, (_, i) => ({
  question: `where is my order #${1000 + i}?`
}))

/** The implementations compared, by name. */
export const implementations = {
  /** timebox: `Agent.run` in a fresh root fiber per run, full report. */
  timebox: (input) => Effect.runPromise(Agent.run(agent, input)),
  /** The baseline the issue asks for: AbortController + setTimeout + Promise.race per stage. */
  baseline: (input) => Baseline.run(input),
  /** For reference: the baseline without AbortController. */
  bare: (input) => Baseline.runBare(input)
} satisfies Record<string, RunOne>

export type Implementation = keyof typeof implementations

const names = Object.keys(implementations) as Array<Implementation>

/** Runs `runOne` for about `ms`, `inFlight` at a time. */
export const drive = async (
  runOne: RunOne,
  inFlight: number,
  ms: number
): Promise<{ readonly runs: number; readonly elapsedMs: number; readonly cpuMs: number }> => {
  let runs = 0
  let next = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const until = start + ms
  const worker = async () => {
    while (performance.now() < until) {
      await runOne(inputs[next++ & 63]!)
      runs++
    }
  }
  const workers: Array<Promise<void>> = []
  for (let i = 0; i < inFlight; i++) workers.push(worker())
  await Promise.all(workers)
  const elapsedMs = performance.now() - start
  const used = process.cpuUsage(cpu)
  return { runs, elapsedMs, cpuMs: (used.user + used.system) / 1000 }
}

/** Fails loudly if an implementation does not produce what it should. */
export const verify = async (): Promise<void> => {
  const result = await Effect.runPromise(Agent.run(agent, inputs[0]!))
  const count = (records: ReadonlyArray<{ readonly children?: ReadonlyArray<any> }>): number =>
    records.reduce((n, record) => n + 1 + count(record.children ?? []), 0)
  if (result.status !== "complete" || count(result.report.stages) !== expectedRecords) {
    throw new Error(`timebox pipeline did not complete as expected: ${JSON.stringify(result)}`)
  }
  for (const name of ["baseline", "bare"] as const) {
    const output = await implementations[name](inputs[0]!)
    if (output !== result.output) throw new Error(`${name} output ${String(output)} differs from ${result.output}`)
  }
}

export interface Figures {
  /** Wall time per run, median over the rounds. */
  readonly usPerRun: number
  /** Process CPU time (user + system, all threads, GC helpers included) per run, median over the rounds. */
  readonly cpuUsPerRun: number
  readonly runs: number
}

export interface OverheadCase {
  readonly inFlight: number
  readonly rounds: number
  readonly figures: Record<Implementation, Figures>
  /** Median over the rounds of timebox µs/run ÷ baseline µs/run in the same round. */
  readonly ratio: number
  readonly cpuRatio: number
  /** The same against the bare baseline (no AbortController). */
  readonly ratioBare: number
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = sortNumbers(values)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * Warms every implementation up for `warmupMs`, then measures `rounds`
 * rounds of `roundMs` per implementation. Every figure is a median over the
 * rounds and a ratio is the median of the per-round ratios, so that a burst
 * of load from elsewhere on the machine spoils a round, not the result.
 */
export const measure = async (
  inFlight: number,
  options: { readonly warmupMs: number; readonly rounds: number; readonly roundMs: number }
): Promise<OverheadCase> => {
  for (const name of names) await drive(implementations[name], inFlight, options.warmupMs)
  const wall = { timebox: [], baseline: [], bare: [] } as Record<Implementation, Array<number>>
  const cpu = { timebox: [], baseline: [], bare: [] } as Record<Implementation, Array<number>>
  const runs = { timebox: 0, baseline: 0, bare: 0 } as Record<Implementation, number>
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length]!
      const result = await drive(implementations[name], inFlight, options.roundMs)
      wall[name].push((result.elapsedMs * 1000) / result.runs)
      cpu[name].push((result.cpuMs * 1000) / result.runs)
      runs[name] += result.runs
    }
  }
  const figures = (name: Implementation): Figures => ({
    usPerRun: median(wall[name]),
    cpuUsPerRun: median(cpu[name]),
    runs: runs[name]
  })
  const ratio = (series: Record<Implementation, Array<number>>, against: Implementation) =>
    median(series.timebox.map((us, i) => us / series[against][i]!))
  return {
    inFlight,
    rounds: options.rounds,
    figures: { timebox: figures("timebox"), baseline: figures("baseline"), bare: figures("bare") },
    ratio: ratio(wall, "baseline"),
    cpuRatio: ratio(cpu, "baseline"),
    ratioBare: ratio(wall, "bare")
  }
}
