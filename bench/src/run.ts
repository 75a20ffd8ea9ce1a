/**
 * `pnpm bench`: overhead and deadline precision. Prints two tables, then one
 * line `BENCH_JSON {...}` with every figure. `--quick` shortens every case
 * (for trying changes; the figures are noisier).
 *
 * Benchmarks are not tests: nothing here fails on a slow figure; the targets
 * are printed next to the results.
 */
import * as os from "node:os"
import * as Inference from "./inference.ts"
import * as Overhead from "./overhead.ts"
import * as Precision from "./precision.ts"
import { round, table } from "./stats.ts"

const quick = process.argv.includes("--quick")

const targets = { overheadRatio: 1.5, precisionP99Ms: 2, inferenceRatio: 1.3 } as const

const overheadOptions = quick
  ? { warmupMs: 300, rounds: 3, roundMs: 200 }
  : { warmupMs: 750, rounds: 9, roundMs: 250 }

/** Precision: runs per kind (after `precisionWarmup` uncounted ones); all kinds run side by side. */
const precisionRuns = quick ? 60 : 250
const precisionWarmup = quick ? 3 : 10

const kinds = ["cooperative", "uninterruptible", "effect-promise", "stage-promise", "baseline"] as const

const label = (inFlight: number) => (inFlight === 1 ? "sequential" : `${inFlight} in flight`)

const main = async () => {
  const started = performance.now()
  const cpus = os.cpus()
  console.log(
    `timebox bench: node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model ?? "?"}), load average ${
      os.loadavg().map((n) => n.toFixed(2)).join(" ")
    }${quick ? ", --quick" : ""}`
  )
  await Overhead.verify()
  await Inference.verify()

  // Precision first, on a heap that the overhead runs have not filled with garbage.
  const precision = await Precision.measureAll(kinds, precisionRuns, precisionWarmup)

  const overhead: Array<Overhead.OverheadCase> = []
  for (const inFlight of [1, 100]) overhead.push(await Overhead.measure(inFlight, overheadOptions))
  const inference = await Inference.measure(quick ? { rounds: 3, roundMs: 200 } : { rounds: 7, roundMs: 400 })

  console.log("")
  console.log(
    `Overhead: auth → history ∥ rag → inference → toolA ∥ toolB → assembly (9 timed stages), zero-latency async work`
  )
  console.log(
    `median of ${overheadOptions.rounds} rounds of ${overheadOptions.roundMs} ms per implementation; ` +
      "timebox builds the full report, the baselines build none"
  )
  console.log(
    table(
      [
        "case",
        "timebox µs/run",
        "baseline µs/run",
        "ratio",
        "target",
        "cpu µs/run timebox/baseline",
        "cpu ratio",
        "bare µs/run",
        "ratio to bare"
      ],
      overhead.map((c) => [
        label(c.inFlight),
        round(c.figures.timebox.usPerRun, 1),
        round(c.figures.baseline.usPerRun, 1),
        round(c.ratio, 2),
        `≤ ${targets.overheadRatio}×`,
        `${round(c.figures.timebox.cpuUsPerRun, 1)}/${round(c.figures.baseline.cpuUsPerRun, 1)}`,
        round(c.cpuRatio, 2),
        round(c.figures.bare.usPerRun, 1),
        round(c.ratioBare, 2)
      ])
    )
  )
  console.log("")
  console.log(
    `Deadline precision: 200 ms of work under a 50 ms window, real clock, ${precisionRuns} runs per row, ` +
      `the ${kinds.length} kinds side by side (${kinds.length} runs in flight, starts staggered)`
  )
  console.log("lateness = next stage starts − (slow stage starts + window), in ms")
  console.log(
    table(
      ["work", "runs", "min", "p50", "p99", "max", "timed-out", "abandoned", "target p99"],
      precision.map((c) => [
        c.kind,
        c.n,
        c.min,
        c.p50,
        c.p99,
        c.max,
        c.timedOut,
        c.abandoned,
        c.kind === "baseline" ? "(reference)" : `≤ ${targets.precisionP99Ms} ms`
      ])
    )
  )
  console.log("")

  console.log(
    "Inference: an inference stage with a two-tool loop on a zero-latency simulated model (Agent.run, full report) " +
      "vs the same LanguageModel called directly (two generateText calls, effect/ai resolving the tools) under Effect.timeout"
  )
  console.log(
    table(["case", "timebox µs/run", "direct µs/run", "ratio", "target"], [[
      "sequential",
      round(inference.timeboxUsPerRun, 1),
      round(inference.directUsPerRun, 1),
      round(inference.ratio, 2),
      `≤ ${targets.inferenceRatio}×`
    ]])
  )
  console.log("")

  const measured = precision.filter((c) => c.kind !== "baseline")
  const json = {
    node: process.version,
    cpus: cpus.length,
    loadAverage: os.loadavg().map((n) => round(n, 2)),
    quick,
    overhead: Object.fromEntries(
      overhead.map((c) => [
        c.inFlight === 1 ? "sequential" : `inFlight${c.inFlight}`,
        {
          inFlight: c.inFlight,
          rounds: c.rounds,
          roundMs: overheadOptions.roundMs,
          timeboxUsPerRun: round(c.figures.timebox.usPerRun, 2),
          baselineUsPerRun: round(c.figures.baseline.usPerRun, 2),
          bareUsPerRun: round(c.figures.bare.usPerRun, 2),
          ratio: round(c.ratio, 3),
          ratioBare: round(c.ratioBare, 3),
          timeboxCpuUsPerRun: round(c.figures.timebox.cpuUsPerRun, 2),
          baselineCpuUsPerRun: round(c.figures.baseline.cpuUsPerRun, 2),
          cpuRatio: round(c.cpuRatio, 3),
          runs: { timebox: c.figures.timebox.runs, baseline: c.figures.baseline.runs, bare: c.figures.bare.runs }
        }
      ])
    ),
    precision: Object.fromEntries(
      precision.map((c) => [
        c.kind,
        {
          runs: c.n,
          minMs: c.min,
          p50Ms: c.p50,
          p99Ms: c.p99,
          maxMs: c.max,
          timedOut: c.timedOut,
          abandoned: c.abandoned
        }
      ])
    ),
    inference: {
      timeboxUsPerRun: round(inference.timeboxUsPerRun, 2),
      directUsPerRun: round(inference.directUsPerRun, 2),
      ratio: round(inference.ratio, 3),
      rounds: inference.rounds
    },
    precisionInFlight: kinds.length,
    precisionWarmup,
    targets,
    met: {
      overhead: overhead.every((c) => c.ratio <= targets.overheadRatio),
      inference: inference.ratio <= targets.inferenceRatio,
      precision: measured.every((c) => c.p99 <= targets.precisionP99Ms),
      abandonedRecorded: precision.every((c) =>
        c.kind === "uninterruptible" || c.kind === "stage-promise" ? c.abandoned === c.n : true
      )
    },
    wallSeconds: round((performance.now() - started) / 1000, 1)
  }
  console.log(`BENCH_JSON ${JSON.stringify(json)}`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
