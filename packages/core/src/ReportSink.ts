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
 * @category combinators
 * @since 0.1.0
 */
export const publish = (result: RunResult<unknown>): Effect.Effect<void> =>
  Effect.flatMap(ReportSink, (sink) => Effect.ignore(Effect.catchDefect(sink.publish(result), () => Effect.void)))
