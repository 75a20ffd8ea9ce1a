/**
 * The report every run leaves behind: one `StageRecord` per stage (children
 * nested under their parent), the skipped list and the budget figures. Its
 * JSON form is a Schema, stable and documented: the CLI's `--json` prints it.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * What happened to a stage.
 *
 * - `completed`: its work finished within its window.
 * - `skipped`: never started (too little time, or an earlier required stage ended the run).
 * - `timed-out`: started, then cut at its window; its fiber was interrupted.
 * - `failed`: its work failed with a typed error or a defect.
 * - `degraded`: its work finished, but some of its children did not.
 *
 * **Example** (Validating a status read from storage)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Report } from "@timebox/core"
 *
 * const isStageStatus = Schema.is(Report.StageStatus)
 * isStageStatus("timed-out") // true
 * isStageStatus("cancelled") // false
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const StageStatus = Schema.Literals(["completed", "skipped", "timed-out", "failed", "degraded"])

/**
 * What happened to a stage, as a type.
 *
 * **Example** (Did the stage's work run at all?)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * // Only a skipped stage never started; a timed-out one ran until its window closed
 * const started = (status: Report.StageStatus): boolean => status !== "skipped"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StageStatus = typeof StageStatus.Type

/**
 * Reasons the core writes into records. A failed stage carries its error's
 * message instead.
 *
 * - `insufficient-budget`: an optional stage's window was below its `minUseful` (or ≤ 0).
 * - `budget-exhausted`: the same for a required stage, or a required stage that ran past its window.
 * - `deadline`: an optional stage cut at its window.
 * - `not-reached`: the run ended before this stage's turn.
 * - `interrupted`: the run was interrupted from outside while this stage ran.
 *
 * **Example** (Stages that were starved of time)
 *
 * ```ts
 * import { Report } from "@timebox/core"
 *
 * const starved = (report: Report.RunReport) =>
 *   Report.collectSkipped(report.stages).filter((entry) =>
 *     entry.reason === Report.Reason.insufficientBudget || entry.reason === Report.Reason.budgetExhausted
 *   )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Reason = {
  insufficientBudget: "insufficient-budget",
  budgetExhausted: "budget-exhausted",
  deadline: "deadline",
  notReached: "not-reached",
  interrupted: "interrupted"
} as const

/**
 * One stage's record. Times are milliseconds; `startedAtMs` is the offset from
 * the run's start.
 *
 * **Example** (A cut RAG stage, and a check on any record)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const rag: Report.StageRecord = {
 *   name: "rag",
 *   status: "timed-out",
 *   reason: "deadline",
 *   allocatedMs: 75,
 *   windowMs: 75,
 *   actualMs: 75,
 *   startedAtMs: 5,
 *   overAllocation: false
 * }
 * const overran = (record: Report.StageRecord): boolean => record.overAllocation || record.abandoned === true
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface StageRecord {
  readonly name: string
  readonly status: StageStatus
  readonly reason?: string
  /** The most this stage was allowed (its allocation, or what was left when it had none). */
  readonly allocatedMs: number
  /** The window it actually got: `min(allocation, remaining − reserve)`, never negative. */
  readonly windowMs: number
  readonly actualMs: number
  readonly startedAtMs: number
  /** `actualMs > allocatedMs`: the stage took more than it was given. */
  readonly overAllocation: boolean
  /** Time to the first streamed token, from the stage's start (inference stages). */
  readonly ttftMs?: number
  /** Time to the last streamed token, from the stage's start. */
  readonly ttltMs?: number
  /** Model calls made by a tool loop. */
  readonly steps?: number
  /** Which model the router chose, why, and among which candidates. */
  readonly model?: ModelChoice
  /** The stage's work ignored interruption and was left running when the run moved on. */
  readonly abandoned?: boolean
  readonly children?: ReadonlyArray<StageRecord>
}

/**
 * The Schema of a `StageRecord` (recursive through `children`).
 *
 * **Example** (Decoding a record from JSON)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Report } from "@timebox/core"
 *
 * const record = Schema.decodeUnknownSync(Report.StageRecord)({
 *   name: "auth", status: "completed", allocatedMs: 10, windowMs: 10, actualMs: 3, startedAtMs: 0, overAllocation: false
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const StageRecord: Schema.Codec<StageRecord> = Schema.Struct({
  name: Schema.String,
  status: StageStatus,
  reason: Schema.optionalKey(Schema.String),
  allocatedMs: Schema.Number,
  windowMs: Schema.Number,
  actualMs: Schema.Number,
  startedAtMs: Schema.Number,
  overAllocation: Schema.Boolean,
  ttftMs: Schema.optionalKey(Schema.Number),
  ttltMs: Schema.optionalKey(Schema.Number),
  steps: Schema.optionalKey(Schema.Number),
  model: Schema.optionalKey(Schema.suspend((): Schema.Codec<ModelChoice> => ModelChoice)),
  abandoned: Schema.optionalKey(Schema.Boolean),
  children: Schema.optionalKey(Schema.Array(Schema.suspend((): Schema.Codec<StageRecord> => StageRecord)))
})

/**
 * A model the router considered: its p95 latency, its accuracy, and whether it
 * fitted the window.
 *
 * **Example** (A candidate that did not fit)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const large: Report.ModelCandidate = { name: "large", p95Ms: 2962, accuracy: 4.6, fits: false }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ModelCandidate = Schema.Struct({
  name: Schema.String,
  p95Ms: Schema.Number,
  accuracy: Schema.Number,
  fits: Schema.Boolean
})

/**
 * A model the router considered, as a type.
 *
 * **Example** (The candidates that fitted)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const fitting = (candidates: ReadonlyArray<Report.ModelCandidate>): Array<string> =>
 *   candidates.filter((candidate) => candidate.fits).map((candidate) => candidate.name)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ModelCandidate = typeof ModelCandidate.Type

/**
 * The router's choice for a stage: the model, the reason
 * (`most-capable-that-fits`, `none-fits-fastest`, `fallback-after-error`,
 * `first-token-timeout`) and the candidates.
 *
 * **Example** (Reading the choice from a report)
 *
 * ```ts
 * import { Report } from "@timebox/core"
 *
 * const chosen = (report: Report.RunReport) => Report.find(report, "inference")?.model?.chosen
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ModelChoice = Schema.Struct({
  chosen: Schema.String,
  reason: Schema.String,
  candidates: Schema.Array(ModelCandidate),
  /** The chosen model's time to first token on its first call, from that call's start: what routers learn from. */
  ttftMs: Schema.optionalKey(Schema.Number)
})

/**
 * The router's choice for a stage, as a type.
 *
 * **Example** (A choice between a small and a large model)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const choice: Report.ModelChoice = {
 *   chosen: "small",
 *   reason: "most-capable-that-fits",
 *   candidates: [
 *     { name: "small", p95Ms: 640, accuracy: 3.1, fits: true },
 *     { name: "large", p95Ms: 2962, accuracy: 4.6, fits: false }
 *   ]
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ModelChoice = typeof ModelChoice.Type

/**
 * The tokens and money a run spent on model calls; `microUsd` is rounded up
 * from exact integer nano-USD.
 *
 * **Example** (A run's cost)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const cost: Report.RunCost = { inputTokens: 420, outputTokens: 110, reasoningTokens: 0, microUsd: 403 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const RunCost = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  reasoningTokens: Schema.Number,
  microUsd: Schema.Number
})

/**
 * The tokens and money a run spent, as a type.
 *
 * **Example** (Dollars for a dashboard)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const dollars = (cost: Report.RunCost): string => `$${(cost.microUsd / 1_000_000).toFixed(6)}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RunCost = typeof RunCost.Type

/**
 * An entry of the skipped list: every stage or child whose status is
 * `skipped`, `timed-out` or `failed`. `path` names its ancestors
 * (`context/rag`).
 *
 * **Example** (Decoding an entry)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Report } from "@timebox/core"
 *
 * const entry = Schema.decodeUnknownSync(Report.SkippedEntry)({
 *   stage: "rag",
 *   path: "context/rag",
 *   status: "timed-out",
 *   reason: "deadline"
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const SkippedEntry = Schema.Struct({
  stage: Schema.String,
  path: Schema.String,
  status: Schema.Literals(["skipped", "timed-out", "failed"]),
  reason: Schema.String
})

/**
 * An entry of the skipped list, as a type.
 *
 * **Example** (One line per dropped stage)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const line = (entry: Report.SkippedEntry): string => `${entry.path} (${entry.status}: ${entry.reason})`
 * // "context/rag (timed-out: deadline)"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type SkippedEntry = typeof SkippedEntry.Type

/**
 * What the model guard asked the cost ledger around one model call, and what
 * the ledger answered: `reserve` → `allowed` (the worst case is held) or
 * `denied` (the call was never made); then `commit` → `committed` (the real
 * usage is charged) or `release` → `released` (the call failed or was
 * interrupted). A commit or release the store could not apply is `failed`.
 * A call that outlived its reservation (its commit `failed` with
 * `reservation-expired`) is then charged directly: `event` → `charged`, or
 * `failed`. A commit above the worst case that the overage policy refused
 * (`failed` with `budget-exceeded` under `REJECT`, or
 * `overdraft-limit-exceeded`) is followed by the commit of the amount held
 * (`committed`) and an `event` → `charged` for the rest, capped at what the
 * budget has left. A commit or release that `failed` with `store-unavailable` is
 * tried again before the next guarded call of the tenant on the same ledger,
 * and a reserve `denied` that way is sent again and its reservation, if it
 * made one, released: the outcome is an entry of that later run, with the
 * detail `recovered: …`; one given up after 5 tries (while the ledger
 * answered other calls), or older than the ledger's retention, is `failed`
 * with the reason `given-up`, and a call whose store call died (a first
 * reserve, or a try) is `failed` with the reason `defect`.
 * `amount` is an integer in `unit`: the worst case held or denied, the amount
 * charged, or the amount given back. `reason` is the ledger's reason in
 * kebab-case (`budget-exceeded`, `store-unavailable`, …) and `detail` its
 * message, with the numbers.
 *
 * **Example** (The denial that stopped a run)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const denial: Report.LedgerEntry = {
 *   operation: "reserve",
 *   decision: "denied",
 *   stage: "loop",
 *   model: "runaway",
 *   amount: 1_000_000,
 *   unit: "USD_MICROCENTS",
 *   reason: "budget-exceeded",
 *   detail: "Ledger.reserve: tenant:demo: requested 1000000, 0 remaining",
 *   atMs: 2_000
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const LedgerEntry = Schema.Struct({
  operation: Schema.Literals(["reserve", "commit", "release", "event"]),
  decision: Schema.Literals(["allowed", "denied", "committed", "released", "charged", "failed"]),
  /** The path of the stage that made the call (`inference`, `context/rag`). */
  stage: Schema.String,
  model: Schema.String,
  amount: Schema.Number,
  unit: Schema.String,
  reservationId: Schema.optionalKey(Schema.String),
  reason: Schema.optionalKey(Schema.String),
  detail: Schema.optionalKey(Schema.String),
  /** When the ledger answered, from the run's start. */
  atMs: Schema.Number
})

/**
 * A ledger entry of a run's report, as a type.
 *
 * **Example** (Counting the guarded calls of a run)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const calls = (report: Report.RunReport): number =>
 *   (report.ledger ?? []).filter((entry: Report.LedgerEntry) => entry.decision === "committed").length
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type LedgerEntry = typeof LedgerEntry.Type

/**
 * A run's report.
 *
 * **Example** (Reading a stored report)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Report } from "@timebox/core"
 *
 * const readReport = (text: string): Report.RunReport => Schema.decodeUnknownSync(Report.RunReport)(JSON.parse(text))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const RunReport = Schema.Struct({
  agent: Schema.String,
  budgetMs: Schema.Number,
  elapsedMs: Schema.Number,
  withinBudget: Schema.Boolean,
  stages: Schema.Array(StageRecord),
  skipped: Schema.Array(SkippedEntry),
  cost: RunCost,
  /** The cost ledger's decisions around the run's model calls, in order (absent when no call was guarded). */
  ledger: Schema.optionalKey(Schema.Array(LedgerEntry))
})

/**
 * A run's report, as a type.
 *
 * **Details**
 *
 * `elapsedMs` may exceed `budgetMs` by scheduling jitter (a timer that fires
 * late); `withinBudget` says whether it did.
 *
 * **Example** (A one-line headline)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const headline = (report: Report.RunReport): string =>
 *   `${report.agent}: ${report.elapsedMs} / ${report.budgetMs} ms${report.withinBudget ? "" : " (over budget)"}, ` +
 *   `${report.skipped.length} dropped`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RunReport = typeof RunReport.Type

/**
 * How a run ended.
 *
 * - `complete`: every stage completed.
 * - `partial`: an output exists, but some optional stage was skipped, timed out, failed or degraded.
 * - `failed`: a required stage could not finish; no output, the report is whole.
 * - `interrupted`: the run was interrupted from outside (reported to the `ReportSink` only).
 *
 * **Example** (A status field in your own schema)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Report } from "@timebox/core"
 *
 * const RunSummary = Schema.Struct({ agent: Schema.String, status: Report.RunStatus })
 * const summary = Schema.decodeUnknownSync(RunSummary)({ agent: "support-agent", status: "partial" })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const RunStatus = Schema.Literals(["complete", "partial", "failed", "interrupted"])

/**
 * How a run ended, as a type.
 *
 * **Example** (Process exit codes, as the CLI sets them)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const exitCode = (status: Report.RunStatus): number =>
 *   status === "failed" ? 1 : status === "interrupted" ? 130 : 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RunStatus = typeof RunStatus.Type

/**
 * Why a run ended `failed` or `interrupted`.
 *
 * **Example** (Checking a reason read from a log)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Report } from "@timebox/core"
 *
 * Schema.is(Report.RunFailureReason)("budget-exhausted") // true
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const RunFailureReason = Schema.Literals(["budget-exhausted", "stage-failed", "interrupted"])

/**
 * Why a run ended `failed` or `interrupted`, as a type.
 *
 * **Example** (What to tell the operator)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const advice = (reason: Report.RunFailureReason): string => {
 *   switch (reason) {
 *     case "budget-exhausted":
 *       return "a required stage ran out of time: raise the budget or its allocation"
 *     case "stage-failed":
 *       return "a required stage failed: see its reason in the report"
 *     case "interrupted":
 *       return "the caller went away"
 *   }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RunFailureReason = typeof RunFailureReason.Type

/**
 * The result of `Agent.run`: an output when one exists, always a report.
 *
 * **Example** (Narrowing on the status)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 *
 * const answer = (result: Report.RunResult<string>) =>
 *   result.status === "complete" || result.status === "partial" ? result.output : "sorry, out of time"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RunResult<A> =
  | { readonly status: "complete" | "partial"; readonly output: A; readonly report: RunReport }
  | {
    readonly status: "failed" | "interrupted"
    readonly reason: RunFailureReason
    readonly output: null
    readonly report: RunReport
  }

/**
 * The Schema of a `RunResult` whose output is described by `output`. Its
 * encoded form is the stable JSON of a run.
 *
 * **Example** (Encoding a run for the wire)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Report } from "@timebox/core"
 *
 * const json = (result: Report.RunResult<string>) =>
 *   Schema.encodeSync(Report.RunResultSchema(Schema.String))(result)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const RunResultSchema = <S extends Schema.Top>(output: S) =>
  Schema.Union([
    Schema.Struct({ status: Schema.Literals(["complete", "partial"]), output, report: RunReport }),
    Schema.Struct({
      status: Schema.Literals(["failed", "interrupted"]),
      reason: RunFailureReason,
      output: Schema.Null,
      report: RunReport
    })
  ])

/**
 * The JSON codec of a run whose output is any JSON value; what the CLI's
 * `--json` prints.
 *
 * **Example** (Printing a run as JSON, as `timebox run --json` does)
 *
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent, Report } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const json = Agent.run(SupportAgent.agent, "Where is my order?").pipe(
 *   Effect.flatMap(Schema.encodeEffect(Report.RunResultJson)),
 *   Effect.map((encoded) => JSON.stringify(encoded, null, 2))
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const RunResultJson = Schema.toCodecJson(RunResultSchema(Schema.Unknown))

/**
 * Collects the skipped list from records: every stage or child whose status is
 * `skipped`, `timed-out` or `failed`, depth first, in execution order.
 *
 * **Example** (Listing what was dropped)
 *
 * ```ts
 * import { Report } from "@timebox/core"
 *
 * const dropped = (report: Report.RunReport) => Report.collectSkipped(report.stages).map((entry) => entry.path)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const collectSkipped = (stages: ReadonlyArray<StageRecord>): Array<SkippedEntry> => {
  const out: Array<SkippedEntry> = []
  const visit = (records: ReadonlyArray<StageRecord>, prefix: string) => {
    for (const record of records) {
      const path = prefix === "" ? record.name : `${prefix}/${record.name}`
      if (record.status === "skipped" || record.status === "timed-out" || record.status === "failed") {
        out.push({ stage: record.name, path, status: record.status, reason: record.reason ?? record.status })
      }
      if (record.children !== undefined) visit(record.children, path)
    }
  }
  visit(stages, "")
  return out
}

/**
 * Finds a record by path (`"context/rag"`) or plain name, depth first.
 *
 * **Example** (Asserting on a nested stage)
 *
 * ```ts
 * import { Report } from "@timebox/core"
 *
 * const ragStatus = (report: Report.RunReport) => Report.find(report, "context/rag")?.status
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const find = (
  report: { readonly stages: ReadonlyArray<StageRecord> },
  path: string
): StageRecord | undefined => {
  const parts = path.split("/")
  if (parts.length > 1) {
    let records: ReadonlyArray<StageRecord> | undefined = report.stages
    let found: StageRecord | undefined
    for (const part of parts) {
      found = records?.find((record) => record.name === part)
      if (found === undefined) return undefined
      records = found.children
    }
    return found
  }
  const search = (records: ReadonlyArray<StageRecord>): StageRecord | undefined => {
    for (const record of records) {
      if (record.name === path) return record
      const inner = record.children === undefined ? undefined : search(record.children)
      if (inner !== undefined) return inner
    }
    return undefined
  }
  return search(report.stages)
}
