/**
 * Where finished runs go: every run's `RunResult` (complete, partial, failed
 * and interrupted alike) is published to the `ReportSink`. The default sink
 * drops them; provide one to log, export or collect reports.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { RunResult } from "./Report.ts"

/**
 * The sink's shape. `publish` must not fail; a defect in it is ignored so that
 * a broken sink never breaks a run.
 *
 * **Gotchas**
 *
 * `Agent.run` waits for `publish` before it returns, after the report is
 * built: a slow sink delays the caller without showing in `elapsedMs`. Fork
 * slow work (`Effect.forkDetach`) inside `publish`.
 *
 * **Example** (Warn on failed runs only)
 *
 * ```ts
 * import { Effect } from "effect"
 * import type { ReportSink } from "@timebox/core"
 *
 * const failuresOnly: ReportSink.Service = {
 *   publish: (result) =>
 *     result.status === "failed"
 *       ? Effect.logWarning(`${result.report.agent} failed: ${result.reason}`)
 *       : Effect.void
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  readonly publish: (result: RunResult<unknown>) => Effect.Effect<void>
}

/**
 * The current report sink; by default a no-op.
 *
 * **Example** (Logging every run)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ReportSink } from "@timebox/core"
 *
 * const logging = ReportSink.layer({
 *   publish: (result) => Effect.log(`${result.report.agent}: ${result.status} in ${result.report.elapsedMs}ms`)
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const ReportSink = Context.Reference<Service>("@timebox/core/ReportSink", {
  defaultValue: () => ({ publish: () => Effect.void })
})

/**
 * A layer that installs `sink` as the report sink.
 *
 * **Example** (Collecting every run of a program)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, ReportSink } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const { sink, results } = ReportSink.makeMemory()
 * const program = Agent.run(SupportAgent.agent, "Where is my order?").pipe(Effect.provide(ReportSink.layer(sink)))
 * // after it runs, results.length === 1
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (sink: Service): Layer.Layer<never> => Layer.succeed(ReportSink, sink)

/**
 * A sink that keeps every result in memory, and the array it fills; for tests
 * and demos.
 *
 * **Example** (Collecting reports in a test)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ReportSink } from "@timebox/core"
 *
 * const { sink, results } = ReportSink.makeMemory()
 * const program = Effect.void.pipe(Effect.provideService(ReportSink.ReportSink, sink))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory = (): { readonly sink: Service; readonly results: Array<RunResult<unknown>> } => {
  const results: Array<RunResult<unknown>> = []
  return {
    results,
    sink: {
      publish: (result) =>
        Effect.sync(() => {
          results.push(result)
        })
    }
  }
}

/**
 * Publishes a result to the current sink, ignoring any failure or defect of
 * the sink itself.
 *
 * **When to use**
 *
 * `Agent.run` already publishes every result. Call it for a result built
 * elsewhere, so that the sink sees every answer given.
 *
 * **Example** (A cached answer still leaves a report)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { type Report, ReportSink } from "@timebox/core"
 *
 * const replay = (cached: Report.RunResult<string>) => Effect.as(ReportSink.publish(cached), cached)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const publish = (result: RunResult<unknown>): Effect.Effect<void> =>
  Effect.flatMap(ReportSink, (sink) => Effect.ignore(Effect.catchDefect(sink.publish(result), () => Effect.void)))
