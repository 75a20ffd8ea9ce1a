/**
 * Human output of `timebox`: one line per stage (children indented under
 * their parent) with its status, window, actual time and a bar placed on a
 * timeline scaled to the budget; the model each inference stage used and why,
 * with its first and last token; then the agent's output and a summary
 * (status, elapsed / budget, cost, skipped list). Pure functions from a result
 * to text, with ANSI colors only when asked.
 *
 * @since 0.1.0
 */
import type { Report } from "@timebox/core"

/**
 * How to render: colors on or off, the timeline width in cells, and the run's
 * settings, echoed in the header.
 *
 * **Example** (Plain text, a wider timeline)
 *
 * ```ts
 * import * as Render from "./render.ts"
 *
 * const plain: Render.Options = { colors: false, width: 60, profile: "full", seed: 7, latencies: { rag: 400 } }
 * const lines = Render.list([{ name: "support-agent", description: "customer support in 2 s" }], plain)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly colors: boolean
  /** @default 40 */
  readonly width?: number | undefined
  /** The profile the run used (`--profile`), echoed in the header. */
  readonly profile?: string | undefined
  readonly seed?: number | undefined
  readonly latencies?: Readonly<Record<string, number>> | undefined
}

const codes = {
  bold: "\u001b[1m",
  dim: "\u001b[2m",
  red: "\u001b[31m",
  green: "\u001b[32m",
  yellow: "\u001b[33m",
  cyan: "\u001b[36m"
} as const

type Color = keyof typeof codes

const painter = (colors: boolean) => (color: Color, text: string): string =>
  colors && text !== "" ? `${codes[color]}${text}\u001b[0m` : text

const stageColor = (status: Report.StageStatus): Color => {
  switch (status) {
    case "completed":
      return "green"
    case "failed":
      return "red"
    default:
      return "yellow"
  }
}

const failure = (result: Report.RunResult<unknown>): Report.RunFailureReason | undefined =>
  "reason" in result ? result.reason : undefined

const runColor = (status: Report.RunStatus): Color =>
  status === "complete" ? "green" : status === "partial" ? "yellow" : "red"

/**
 * Milliseconds as people read them: `7ms`, `1400ms`, `0.5ms`: whole numbers
 * from 100 ms up, one decimal below.
 *
 * **Example** (Whole and fractional milliseconds)
 *
 * ```ts
 * import { formatMillis } from "./render.ts"
 *
 * formatMillis(7) // "7ms"
 * formatMillis(0.25) // "0.3ms"
 * formatMillis(1400.4) // "1400ms"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const formatMillis = (ms: number): string =>
  `${Number.isInteger(ms) || ms >= 100 ? Math.round(ms) : Math.round(ms * 10) / 10}ms`

/**
 * The timeline cells of one stage, `width` cells spanning the budget: the
 * cells before `startedAtMs`, the cells it ran for (`actualMs`; at least one
 * for any stage that was not skipped), whether it ran past the budget, and
 * the rest.
 *
 * **Example** (Drawing a bar in ASCII)
 *
 * ```ts
 * import type { Bar } from "./render.ts"
 *
 * const ascii = (cells: Bar): string =>
 *   ".".repeat(cells.before) + "#".repeat(cells.filled) + (cells.overflow ? ">" : "") + ".".repeat(cells.after)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Bar {
  readonly before: number
  readonly filled: number
  readonly overflow: boolean
  readonly after: number
}

/**
 * Places one stage on the timeline.
 *
 * **Example** (A cut RAG stage on a 2 s timeline)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 * import { bar } from "./render.ts"
 *
 * const rag: Report.StageRecord = {
 *   name: "rag",
 *   status: "timed-out",
 *   reason: "deadline",
 *   allocatedMs: 75,
 *   windowMs: 75,
 *   actualMs: 75,
 *   startedAtMs: 10,
 *   overAllocation: false
 * }
 * bar(rag, 2000, 40) // { before: 0, filled: 2, overflow: false, after: 38 }
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const bar = (record: Report.StageRecord, budgetMs: number, width: number): Bar => {
  const scale = width / budgetMs
  const start = Math.min(width, Math.max(0, Math.floor(record.startedAtMs * scale)))
  const ran = record.status !== "skipped"
  const end = ran
    ? Math.max(start + 1, Math.ceil((record.startedAtMs + record.actualMs) * scale))
    : start
  const stop = Math.min(end, width)
  return { before: start, filled: stop - start, overflow: end > width, after: width - stop }
}

interface Row {
  readonly depth: number
  readonly record: Report.StageRecord
}

const flatten = (records: ReadonlyArray<Report.StageRecord>, depth: number, out: Array<Row>): Array<Row> => {
  for (const record of records) {
    out.push({ depth, record })
    if (record.children !== undefined) flatten(record.children, depth + 1, out)
  }
  return out
}

/** A reason on one line: a multi-line error message (a provider's transport error) joined with spaces. */
const oneLine = (text: string): string => text.includes("\n") ? text.trim().replace(/\s*\n\s*/g, " ") : text

const note = (record: Report.StageRecord): string => {
  const parts: Array<string> = []
  if (record.reason !== undefined) parts.push(oneLine(record.reason))
  if (record.status === "completed" && record.overAllocation) {
    parts.push(`over its ${formatMillis(record.allocatedMs)} allocation`)
  }
  if (record.abandoned === true) parts.push("abandoned")
  return parts.join(", ")
}

/**
 * The stage table: a header, then one line per stage, depth first.
 *
 * **Example** (The stage table of a run)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 * import { stages } from "./render.ts"
 *
 * const table = Effect.map(
 *   Agent.run(SupportAgent.agent, "Where is my order?"),
 *   (result) => stages(result.report, { colors: false }).join("\n")
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const stages = (report: Report.RunReport, options: Options): Array<string> => {
  const paint = painter(options.colors)
  const width = options.width ?? 40
  const rows = flatten(report.stages, 0, [])
  const nameWidth = Math.max(5, ...rows.map((row) => row.depth * 2 + row.record.name.length))
  const windowWidth = Math.max(6, ...rows.map((row) => formatMillis(row.record.windowMs).length))
  const actualWidth = Math.max(6, ...rows.map((row) => formatMillis(row.record.actualMs).length))
  const budgetLabel = formatMillis(report.budgetMs)
  const axis = `0${" ".repeat(Math.max(1, width - 1 - budgetLabel.length))}${budgetLabel}`
  const header = `  ${"stage".padEnd(nameWidth)}  ${"status".padEnd(9)}  ${"window".padStart(windowWidth)}  ` +
    `${"actual".padStart(actualWidth)}  ${axis}`
  const lines = [paint("dim", header)]
  for (const { depth, record } of rows) {
    const name = `${"  ".repeat(depth)}${record.name}`.padEnd(nameWidth)
    const status = paint(stageColor(record.status), record.status.padEnd(9))
    const cells = bar(record, report.budgetMs, width)
    const timeline = paint("dim", "·".repeat(cells.before)) +
      paint(stageColor(record.status), "█".repeat(cells.filled) + (cells.overflow ? "»" : "")) +
      paint("dim", "·".repeat(cells.after))
    const detail = note(record)
    lines.push(
      `  ${name}  ${status}  ${formatMillis(record.windowMs).padStart(windowWidth)}  ` +
        `${formatMillis(record.actualMs).padStart(actualWidth)}  ${timeline}` +
        (detail === "" ? "" : `  ${paint("dim", detail)}`)
    )
  }
  return lines
}

/**
 * The model lines: for every stage that called a model, which model the
 * router chose, why, within which window and among which candidates (each
 * with its p95 and whether it fitted), then its time to first and last
 * token and its steps when recorded. No lines when no stage called a model.
 *
 * **Example** (Why a 3 s run used the fast model)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 * import { models } from "./render.ts"
 *
 * const inference: Report.StageRecord = {
 *   name: "inference",
 *   status: "completed",
 *   allocatedMs: 9500,
 *   windowMs: 2575,
 *   actualMs: 2100,
 *   startedAtMs: 400,
 *   overAllocation: false,
 *   ttftMs: 1400,
 *   ttltMs: 2100,
 *   steps: 2,
 *   model: {
 *     chosen: "fast",
 *     reason: "most-capable-that-fits",
 *     candidates: [
 *       { name: "reasoning", p95Ms: 3469, accuracy: 4.7, fits: false },
 *       { name: "fast", p95Ms: 1176, accuracy: 4.1, fits: true }
 *     ]
 *   }
 * }
 * models({ stages: [inference] }, { colors: false })
 * // ["  inference  fast: most-capable-that-fits in a 2575ms window (reasoning p95 3469ms too slow, fast p95 1176ms fits)",
 * //  "             first token 1400ms  last token 2100ms  2 steps"]
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const models = (report: { readonly stages: ReadonlyArray<Report.StageRecord> }, options: Options): Array<
  string
> => {
  const paint = painter(options.colors)
  const rows = flatten(report.stages, 0, []).filter(({ record }) =>
    record.model !== undefined || record.ttftMs !== undefined || record.steps !== undefined
  )
  const nameWidth = Math.max(0, ...rows.map((row) => row.record.name.length))
  const lines: Array<string> = []
  for (const { record } of rows) {
    const timing: Array<string> = []
    if (record.ttftMs !== undefined) timing.push(`first token ${formatMillis(record.ttftMs)}`)
    if (record.ttltMs !== undefined) timing.push(`last token ${formatMillis(record.ttltMs)}`)
    if (record.steps !== undefined) timing.push(`${record.steps} step${record.steps === 1 ? "" : "s"}`)
    const name = record.name.padEnd(nameWidth)
    if (record.model === undefined) {
      lines.push(`  ${name}  ${timing.join("  ")}`)
      continue
    }
    const candidates = record.model.candidates.map((candidate) =>
      `${candidate.name} p95 ${formatMillis(candidate.p95Ms)} ${candidate.fits ? "fits" : "too slow"}`
    )
    lines.push(
      `  ${name}  ${paint("bold", record.model.chosen)}: ${record.model.reason} in a ${
        formatMillis(record.windowMs)
      } window` + (candidates.length === 0 ? "" : ` ${paint("dim", `(${candidates.join(", ")})`)}`)
    )
    if (timing.length > 0) lines.push(`  ${" ".repeat(nameWidth)}  ${timing.join("  ")}`)
  }
  return lines
}

/**
 * A run's cost in one phrase: micro-USD, then the tokens; `undefined` when
 * the run called no model.
 *
 * **Example** (A run that spent 412 µUSD)
 *
 * ```ts
 * import { cost } from "./render.ts"
 *
 * cost({ inputTokens: 1650, outputTokens: 172, reasoningTokens: 600, microUsd: 412 })
 * // "cost 412 µUSD (1650 in, 172 out, 600 reasoning tokens)"
 * cost({ inputTokens: 0, outputTokens: 0, reasoningTokens: 0, microUsd: 0 }) // undefined
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const cost = (spent: Report.RunCost): string | undefined => {
  if (spent.inputTokens + spent.outputTokens + spent.reasoningTokens === 0 && spent.microUsd === 0) return undefined
  const reasoning = spent.reasoningTokens > 0 ? `, ${spent.reasoningTokens} reasoning` : ""
  return `cost ${spent.microUsd} µUSD (${spent.inputTokens} in, ${spent.outputTokens} out${reasoning} tokens)`
}

/**
 * The text of an agent's output: a string as is, the `answer` field of an
 * object that has a string one, else its JSON.
 *
 * **Example** (Strings, answers and anything else)
 *
 * ```ts
 * import { outputText } from "./render.ts"
 *
 * outputText("Shipped.") // "Shipped."
 * outputText({ answer: "Shipped.", sources: [] }) // "Shipped."
 * outputText([1, 2]) // "[1,2]"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const outputText = (output: unknown): string => {
  if (typeof output === "string") return output
  if (typeof output === "object" && output !== null && "answer" in output && typeof output.answer === "string") {
    return output.answer
  }
  return JSON.stringify(output, printable()) ?? String(output)
}

/** A `JSON.stringify` replacer for display: `bigint`s as `123n`, a cycle as `[Circular]`. */
const printable = () => {
  const open: Array<unknown> = []
  return function(this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === "bigint") return `${value}n`
    if (typeof value !== "object" || value === null) return value
    // `this` is the object holding `value`: drop the ones no longer on the path from the root
    while (open.length > 0 && open[open.length - 1] !== this) open.pop()
    if (open.includes(value)) return "[Circular]"
    open.push(value)
    return value
  }
}

/**
 * The summary line: status, elapsed / budget, the cost when the run called a
 * model, and the skipped list.
 *
 * **Example** (The last line of the human report)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 * import { summary } from "./render.ts"
 *
 * const line = Effect.map(
 *   Agent.run(SupportAgent.agent, "Where is my order?", { budget: "700 millis" }),
 *   (result) => summary(result, { colors: false })
 * ) // e.g. "partial  676ms / 700ms  cost 3 µUSD (92 in, 55 out tokens)  skipped: tools/order-lookup (timed-out: deadline), ..."
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const summary = (result: Report.RunResult<unknown>, options: Options): string => {
  const paint = painter(options.colors)
  const report = result.report
  const reason = failure(result)
  const status = reason === undefined || reason === result.status ? result.status : `${result.status} (${reason})`
  const elapsed = `${formatMillis(report.elapsedMs)} / ${formatMillis(report.budgetMs)}`
  const skipped = report.skipped.length === 0
    ? "skipped: none"
    : `skipped: ${
      report.skipped.map((entry) => `${entry.path} (${entry.status}: ${oneLine(entry.reason)})`).join(", ")
    }`
  const spent = cost(report.cost)
  return `${paint("bold", paint(runColor(result.status), status))}  ${
    paint(report.withinBudget ? "bold" : "red", elapsed)
  }  ${spent === undefined ? "" : `${spent}  `}${skipped}`
}

/**
 * The whole human report of a run: header, stage table, model lines (when a
 * stage called a model), output, summary.
 *
 * **Example** (Printing a run without colors)
 *
 * ```ts
 * import { Console, Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 * import * as Render from "./render.ts"
 *
 * const program = Agent.run(SupportAgent.agent, "Where is my order?").pipe(
 *   Effect.flatMap((result) => Console.log(Render.run(result, { colors: false, seed: 1 }).join("\n")))
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const run = (result: Report.RunResult<unknown>, options: Options): Array<string> => {
  const paint = painter(options.colors)
  const report = result.report
  const settings = options.profile === undefined ? [] : [`profile ${options.profile}`]
  settings.push(`budget ${formatMillis(report.budgetMs)}`)
  if (options.seed !== undefined) settings.push(`seed ${options.seed}`)
  for (const [name, ms] of Object.entries(options.latencies ?? {})) settings.push(`latency ${name}=${formatMillis(ms)}`)
  const modelLines = models(report, options)
  const reason = failure(result)
  const output = reason === undefined
    ? outputText(result.output)
    : paint("dim", reason === result.status ? `none (${reason})` : `none (${result.status}: ${reason})`)
  return [
    `${paint("bold", paint("cyan", report.agent))}  ${paint("dim", settings.join("  "))}`,
    "",
    ...stages(report, options),
    "",
    ...(modelLines.length === 0 ? [] : [paint("bold", "model"), ...modelLines, ""]),
    `${paint("bold", "output")}  ${output}`,
    "",
    summary(result, options)
  ]
}

/**
 * The lines of `timebox list`: one per example, name then description, then
 * its profiles when it has any.
 *
 * **Example** (Names padded to one column)
 *
 * ```ts
 * import { list } from "./render.ts"
 *
 * list(
 *   [{ name: "support-agent", description: "customer support in 2 s" }],
 *   { colors: false }
 * ) // ["support-agent  customer support in 2 s"]
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const list = (
  entries: ReadonlyArray<
    {
      readonly name: string
      readonly description: string
      readonly profiles?: Readonly<Record<string, unknown>> | undefined
    }
  >,
  options: Options
): Array<string> => {
  const paint = painter(options.colors)
  const nameWidth = Math.max(0, ...entries.map((entry) => entry.name.length))
  return entries.map((entry) => {
    const profiles = Object.keys(entry.profiles ?? {})
    return `${paint("bold", entry.name.padEnd(nameWidth))}  ${entry.description}` +
      (profiles.length === 0 ? "" : ` ${paint("dim", `(--profile ${profiles.join(" | ")})`)}`)
  })
}
