/**
 * Tool calls under one window. Independent calls run in parallel, each with
 * its own allocation inside the shared window; dependent calls run in
 * sequence with per-call timeouts, and once the window is spent the rest are
 * skipped unstarted. Every call yields a result value: a skipped or cut call
 * says `"skipped: deadline"`, never silence.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type * as Budget from "./Budget.ts"
import { execute, type Outcome, type StageSpec } from "./internal/execute.ts"
import * as Stage from "./Stage.ts"

/**
 * The note a skipped or cut call leaves for the model or the assembly.
 *
 * **Gotchas**
 *
 * The note is the same for a call cut at its window (`timed-out`) and a call
 * never started because too little time was left (`skipped`,
 * `insufficient-budget`): read `status` and `reason` to tell them apart.
 *
 * **Example** (The calls the deadline dropped)
 *
 * ```ts
 * import { ToolWindow } from "@timebox/core"
 *
 * const dropped = (results: ReadonlyArray<ToolWindow.ToolResult<unknown>>): Array<string> =>
 *   results.flatMap((result) => result._tag === "Skipped" && result.note === ToolWindow.skippedNote ? [result.name] : [])
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const skippedNote = "skipped: deadline"

/**
 * The result of one call: its value, or why there is none.
 *
 * **Gotchas**
 *
 * A failed call is tagged `Skipped` too, with `status: "failed"` and the note
 * `"failed: <message>"`.
 *
 * **Example** (One prompt line per call)
 *
 * ```ts
 * import type { ToolWindow } from "@timebox/core"
 *
 * const forPrompt = (result: ToolWindow.ToolResult<string>): string =>
 *   result._tag === "Completed" ? `${result.name}: ${result.value}` : `${result.name}: ${result.note}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ToolResult<A> =
  | { readonly _tag: "Completed"; readonly name: string; readonly value: A }
  | {
    readonly _tag: "Skipped"
    readonly name: string
    readonly status: Outcome["status"]
    readonly reason: string
    /** `"skipped: deadline"`, or `"failed: <message>"`. */
    readonly note: string
  }

/**
 * One tool call. `run` may read the results of the calls before it (in
 * `sequential`).
 *
 * **Example** (Calls built from a list of sources)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ToolWindow } from "@timebox/core"
 *
 * const calls: ReadonlyArray<ToolWindow.Call<string>> = ["orders", "faq"].map((source) =>
 *   ToolWindow.call(`search-${source}`, Effect.succeed(`${source}: 3 hits`), { allocation: "200 millis" })
 * )
 * const results = ToolWindow.parallel(calls)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Call<out A, out E = never, out R = never> {
  readonly name: string
  readonly allocation?: Budget.Allocation | undefined
  readonly minUseful?: Budget.DurationText | undefined
  readonly run: (previous: ReadonlyArray<ToolResult<unknown>>) => Effect.Effect<A, E, R>
}

/**
 * Describes a call.
 *
 * **Example** (An order lookup with 250 ms of its own)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ToolWindow } from "@timebox/core"
 *
 * const lookup = ToolWindow.call("order-lookup", Effect.succeed({ status: "shipped" }), { allocation: "250 millis" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const call = <A, E = never, R = never>(
  name: string,
  run: Effect.Effect<A, E, R> | ((previous: ReadonlyArray<ToolResult<unknown>>) => Effect.Effect<A, E, R>),
  options: {
    readonly allocation?: Budget.Allocation | undefined
    readonly minUseful?: Budget.DurationText | undefined
  } = {}
): Call<A, E, R> => ({ name, ...options, run: typeof run === "function" ? run : () => run })

const toStage = <A, E, R>(
  tool: Call<A, E, R>
): StageSpec<ReadonlyArray<ToolResult<unknown>>, ToolResult<A>, E, R> =>
  Stage.optional(
    tool.name,
    (previous: ReadonlyArray<ToolResult<unknown>>) =>
      Effect.map(tool.run(previous), (value): ToolResult<A> => ({ _tag: "Completed", name: tool.name, value })),
    {
      allocation: tool.allocation,
      minUseful: tool.minUseful,
      fallback: (_, outcome): ToolResult<A> => ({
        _tag: "Skipped",
        name: tool.name,
        status: outcome.status,
        reason: outcome.reason,
        note: outcome.status === "failed" ? `failed: ${outcome.reason}` : skippedNote
      })
    }
  )

/**
 * The results of a list of calls, position by position.
 *
 * **Example** (Typed results, position by position)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ToolWindow } from "@timebox/core"
 *
 * const calls = [
 *   ToolWindow.call("order-lookup", Effect.succeed({ status: "shipped" })),
 *   ToolWindow.call("kb-search", Effect.succeed(["faq-12"]))
 * ] as const
 * const summarize = ([order, kb]: ToolWindow.Results<typeof calls>): string =>
 *   `${order._tag === "Completed" ? order.value.status : order.note}; ${kb._tag === "Completed" ? kb.value.length : 0} articles`
 * const summary = Effect.map(ToolWindow.parallel(calls), summarize)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Results<Calls extends ReadonlyArray<Call<any, any, any>>> = {
  -readonly [K in keyof Calls]: Calls[K] extends Call<infer A, any, any> ? ToolResult<A> : never
}

type Requirements<Calls extends ReadonlyArray<Call<any, any, any>>> = Calls[number] extends Call<any, any, infer R> ? R
  : never

/**
 * Runs independent calls in parallel under the current window (the enclosing
 * stage's). Each call's window is `min(its allocation, what is left)`; a slow
 * call is cut at its own deadline without delaying the others. Each call
 * appears in the report as a child of the enclosing stage.
 *
 * **Example** (Order lookup and knowledge-base search)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage, ToolWindow } from "@timebox/core"
 *
 * const tools = Stage.optional(
 *   "tools",
 *   () =>
 *     ToolWindow.parallel([
 *       ToolWindow.call("order-lookup", Effect.succeed("shipped"), { allocation: "250 millis" }),
 *       ToolWindow.call("kb-search", Effect.succeed(["faq-12"]), { allocation: "250 millis" })
 *     ]),
 *   { allocation: "300 millis", fallback: () => [] }
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const parallel = <const Calls extends ReadonlyArray<Call<any, any, any>>>(
  calls: Calls
): Effect.Effect<Results<Calls>, never, Requirements<Calls>> =>
  Effect.forEach(calls, (tool) => execute(toStage(tool), [], 0), { concurrency: "unbounded" }) as Effect.Effect<
    any,
    never,
    Requirements<Calls>
  >

/**
 * Runs dependent calls one after another under the current window. Each call
 * sees the results before it; each has a timeout of
 * `min(its allocation, what is left)`; once the window is spent the remaining
 * calls are skipped without starting, each with a `"skipped: deadline"`
 * result.
 *
 * **Example** (Search, then fetch the best hit)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ToolWindow } from "@timebox/core"
 *
 * const chain = ToolWindow.sequential([
 *   ToolWindow.call("search", Effect.succeed(["doc-7"]), { allocation: "100 millis" }),
 *   ToolWindow.call("fetch", (previous) => Effect.succeed(previous[0]?._tag === "Completed" ? "body" : "none"))
 * ])
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const sequential = <const Calls extends ReadonlyArray<Call<any, any, any>>>(
  calls: Calls
): Effect.Effect<Results<Calls>, never, Requirements<Calls>> =>
  Effect.suspend(() => {
    const results: Array<ToolResult<unknown>> = []
    return Effect.as(
      Effect.forEach(
        calls,
        (tool) =>
          Effect.map(execute(toStage(tool), results.slice(), 0), (result) => {
            results.push(result)
          }),
        { discard: true }
      ),
      results
    )
  }) as Effect.Effect<any, never, Requirements<Calls>>

/**
 * Whether a result is a completed call.
 *
 * **Example** (The values of the calls that completed)
 *
 * ```ts
 * import { ToolWindow } from "@timebox/core"
 *
 * const values = (results: ReadonlyArray<ToolWindow.ToolResult<string>>): Array<string> =>
 *   results.filter(ToolWindow.isCompleted).map((result) => result.value)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isCompleted = <A>(
  result: ToolResult<A>
): result is Extract<ToolResult<A>, { readonly _tag: "Completed" }> => result._tag === "Completed"
