/**
 * What `Agent.stream` emits while a run goes on: stages starting and ending,
 * text as the model streams it, tool calls and their results, and at the end
 * the `RunResult`. The CLI's `--stream --json` prints these as newline-delimited
 * JSON.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { StageStatus } from "./Report.ts"

/**
 * A stage started; `windowMs` is its window.
 *
 * **Example** (Logging starts)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const line = (event: RunEvent.StageStart) => `${event.path} starts with ${event.windowMs}ms`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const StageStart = Schema.Struct({
  type: Schema.Literal("stage-start"),
  stage: Schema.String,
  path: Schema.String,
  startedAtMs: Schema.Number,
  windowMs: Schema.Number
})

/**
 * A stage started, as a type.
 *
 * **Example** (RAG starts with a 75 ms window)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const start: RunEvent.StageStart = { type: "stage-start", stage: "rag", path: "context/rag", startedAtMs: 12, windowMs: 75 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StageStart = typeof StageStart.Type

/**
 * A stage ended (or was skipped without starting).
 *
 * **Example** (Spotting cut stages)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const cut = (event: RunEvent.StageEnd) => event.status === "timed-out"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const StageEnd = Schema.Struct({
  type: Schema.Literal("stage-end"),
  stage: Schema.String,
  path: Schema.String,
  status: StageStatus,
  reason: Schema.optionalKey(Schema.String),
  actualMs: Schema.Number
})

/**
 * A stage ended, as a type.
 *
 * **Example** (RAG cut at its window)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const end: RunEvent.StageEnd = {
 *   type: "stage-end",
 *   stage: "rag",
 *   path: "context/rag",
 *   status: "timed-out",
 *   reason: "deadline",
 *   actualMs: 75
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StageEnd = typeof StageEnd.Type

/**
 * Text as the model streams it; `atMs` is the offset from the run's start.
 *
 * **Example** (Printing tokens live)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const print = (event: RunEvent.TextDelta) => process.stdout.write(event.delta)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const TextDelta = Schema.Struct({
  type: Schema.Literal("text-delta"),
  path: Schema.String,
  delta: Schema.String,
  atMs: Schema.Number
})

/**
 * Streamed text, as a type.
 *
 * **Example** (Joining the deltas of one stage)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const textOf = (events: ReadonlyArray<RunEvent.TextDelta>, path: string): string =>
 *   events.filter((event) => event.path === path).map((event) => event.delta).join("")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type TextDelta = typeof TextDelta.Type

/**
 * The model asked for a tool call.
 *
 * **Example** (Counting calls)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const isSearch = (event: RunEvent.ToolCall) => event.name === "Search"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ToolCall = Schema.Struct({
  type: Schema.Literal("tool-call"),
  path: Schema.String,
  id: Schema.String,
  name: Schema.String,
  params: Schema.Unknown
})

/**
 * A tool call the model asked for, as a type.
 *
 * **Example** (An order lookup)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const call: RunEvent.ToolCall = {
 *   type: "tool-call",
 *   path: "tools",
 *   id: "call-1",
 *   name: "order-lookup",
 *   params: { orderId: "A-1666" }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ToolCall = typeof ToolCall.Type

/**
 * A tool call's result as the model sees it: its value, or a
 * `"skipped: deadline"` note.
 *
 * **Example** (Results that did not make it)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const skipped = (event: RunEvent.ToolResult) => event.status !== "completed"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ToolResult = Schema.Struct({
  type: Schema.Literal("tool-result"),
  path: Schema.String,
  id: Schema.String,
  name: Schema.String,
  status: Schema.Literals(["completed", "skipped", "timed-out", "failed"]),
  result: Schema.Unknown
})

/**
 * A tool call's result, as a type.
 *
 * **Example** (A search cut by the deadline)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const result: RunEvent.ToolResult = {
 *   type: "tool-result",
 *   path: "tools",
 *   id: "call-2",
 *   name: "kb-search",
 *   status: "timed-out",
 *   result: "skipped: deadline"
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ToolResult = typeof ToolResult.Type

/**
 * The run ended; `result` is the whole `RunResult` (JSON form).
 *
 * **Example** (The last event)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const status = (event: RunEvent.RunEnd) => (event.result as { status: string }).status
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const RunEnd = Schema.Struct({
  type: Schema.Literal("run-end"),
  result: Schema.Unknown
})

/**
 * The run ended, as a type.
 *
 * **Example** (Decoding the final result)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Report, type RunEvent } from "@timebox/core"
 *
 * const resultOf = (event: RunEvent.RunEnd) => Schema.decodeUnknownSync(Report.RunResultJson)(event.result)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RunEnd = typeof RunEnd.Type

/**
 * Any event of a run.
 *
 * **Example** (Decoding NDJSON lines)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { RunEvent } from "@timebox/core"
 *
 * const decode = (line: string) => Schema.decodeUnknownSync(RunEvent.RunEvent)(JSON.parse(line))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const RunEvent = Schema.Union([StageStart, StageEnd, TextDelta, ToolCall, ToolResult, RunEnd])

/**
 * Any event of a run, as a type.
 *
 * **Example** (One line per event)
 *
 * ```ts
 * import type { RunEvent } from "@timebox/core"
 *
 * const render = (event: RunEvent.RunEvent): string => {
 *   switch (event.type) {
 *     case "stage-start":
 *       return `> ${event.path} (${event.windowMs}ms)`
 *     case "stage-end":
 *       return `< ${event.path} ${event.status}`
 *     case "text-delta":
 *       return event.delta
 *     case "tool-call":
 *       return `-> ${event.name}`
 *     case "tool-result":
 *       return `<- ${event.name} ${event.status}`
 *     case "run-end":
 *       return "done"
 *   }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RunEvent = typeof RunEvent.Type
