/**
 * Test helpers for timebox users, published as `@timebox/core/testing`:
 * run an agent under `TestClock` and read its report deterministically.
 *
 * @since 0.1.0
 */
import { type Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Agent from "../Agent.ts"
import type { RunResult } from "../Report.ts"
import type * as TimeboxError from "../TimeboxError.ts"

/**
 * Runs `agent` on a forked fiber, moves the `TestClock` forward by `advance`
 * (default: one hour, past any budget), and returns the result. Use inside
 * `it.effect`, where the `TestClock` starts at 0 and only moves when told.
 *
 * **Example** (A degradation path in a unit test)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Report, Simulation } from "@timebox/core"
 * import { runUnderTestClock } from "@timebox/core/testing"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const slowRag = Effect.gen(function*() {
 *   const result = yield* runUnderTestClock(SupportAgent.agent, "Where is my order?").pipe(
 *     Simulation.withLatencies({ rag: 400 })
 *   )
 *   return Report.find(result.report, "context/rag")?.status // "timed-out"
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const runUnderTestClock = <In, Out, R>(
  agent: Agent.Agent<In, Out, R>,
  input: In,
  options?: Agent.RunOptions & { readonly advance?: Duration.Input | undefined }
): Effect.Effect<RunResult<Out>, TimeboxError.TimeboxError, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Agent.run(agent, input, options))
    yield* TestClock.adjust(options?.advance ?? "1 hour")
    return yield* Fiber.join(fiber)
  })
