/**
 * The per-run bookkeeping a stage reads from its context: where its record
 * goes, when the run started, and the parent window that shares refer to.
 * Records are mutable while the run is in flight and frozen into plain
 * `StageRecord`s when the report is built.
 */
import { Context } from "effect"
import type * as Cost from "../Cost.ts"
import type { LedgerEntry, ModelChoice, StageRecord, StageStatus } from "../Report.ts"

/** A record under construction; `running` until the stage ends. */
export interface MutableRecord {
  name: string
  status: StageStatus | "running"
  reason: string | undefined
  allocatedMs: number
  windowMs: number
  actualMs: number
  startedAtMs: number
  abandoned: boolean
  children: Array<MutableRecord> | undefined
  /** Figures an inference stage adds: first and last token, steps, model choice. */
  extra: StageExtra | undefined
  /** Set by the stage's work when it delivered less than it wanted (`step-unaffordable`). */
  degradation: string | undefined
}

/** The optional figures of a record. */
export interface StageExtra {
  ttftMs?: number
  ttltMs?: number
  steps?: number
  model?: ModelChoice
}

/** A fresh run state. */
export const makeRunState = (emit?: (event: unknown) => void): RunState => ({
  tally: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, nanoUsd: 0, calls: 0 },
  ledger: [],
  emit
})

/**
 * What a run shares across all its frames: the cost tally, the model guard's
 * ledger decisions and the event sink of `Agent.stream`.
 */
export interface RunState {
  readonly tally: Cost.Tally
  readonly ledger: Array<LedgerEntry>
  readonly emit: ((event: unknown) => void) | undefined
}

/** Where the records of the stages started in this scope go. */
export interface Frame {
  readonly runStartMillis: number
  readonly children: Array<MutableRecord>
  /** The window shares (`"40%"`) are taken of. */
  readonly windowMs: number
  /** Promises started by `Stage.promise` in this frame that have not settled yet. */
  unsettled: number
  /**
   * How to cut each child still running: when this frame's window closes, its
   * children (whose deadlines are never later) are cut first, so their
   * fallbacks reach the work before the work itself is cut.
   */
  cuts: Set<() => void> | undefined
  /** The record of the stage this frame belongs to (none for the run's root frame). */
  readonly owner: MutableRecord | undefined
  /** The owner's path in the report (`context/rag`), "" for the root. */
  readonly path: string
  readonly run: RunState
}

export const CurrentFrame = Context.Reference<Frame | undefined>("@timebox/core/internal/CurrentFrame", {
  defaultValue: () => undefined
})

export const makeRecord = (
  name: string,
  allocatedMs: number,
  windowMs: number,
  startedAtMs: number
): MutableRecord => ({
  name,
  status: "running",
  reason: undefined,
  allocatedMs,
  windowMs,
  actualMs: 0,
  startedAtMs,
  abandoned: false,
  children: undefined,
  extra: undefined,
  degradation: undefined
})

const round = (ms: number): number => Math.round(ms * 1000) / 1000

/**
 * Freezes mutable records into report records. Records still `running`
 * (the run was interrupted under them) become `failed` with `reason`.
 */
export const freeze = (
  records: ReadonlyArray<MutableRecord>,
  nowMillis: number,
  runStartMillis: number,
  runningReason: string
): Array<StageRecord> => {
  const out: Array<StageRecord> = new Array(records.length)
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    const running = record.status === "running"
    const actualMs = running ? Math.max(0, nowMillis - runStartMillis - record.startedAtMs) : record.actualMs
    const frozen = { name: record.name, status: running ? "failed" : record.status } as {
      -readonly [K in keyof StageRecord]: StageRecord[K]
    }
    const reason = running ? runningReason : record.reason
    if (reason !== undefined) frozen.reason = reason
    frozen.allocatedMs = round(record.allocatedMs)
    frozen.windowMs = round(record.windowMs)
    frozen.actualMs = round(actualMs)
    frozen.startedAtMs = round(record.startedAtMs)
    // Compared as reported, so that a share's float residue (5.6000000001) never flags a stage.
    frozen.overAllocation = frozen.actualMs > frozen.allocatedMs
    const extra = record.extra
    if (extra !== undefined) {
      if (extra.ttftMs !== undefined) frozen.ttftMs = round(extra.ttftMs)
      if (extra.ttltMs !== undefined) frozen.ttltMs = round(extra.ttltMs)
      if (extra.steps !== undefined) frozen.steps = extra.steps
      if (extra.model !== undefined) frozen.model = extra.model
    }
    if (record.abandoned) frozen.abandoned = true
    if (record.children !== undefined && record.children.length > 0) {
      frozen.children = freeze(record.children, nowMillis, runStartMillis, runningReason)
    }
    out[i] = frozen
  }
  return out
}
