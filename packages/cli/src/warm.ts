/**
 * A warm-up before the measured run: a CLI process is short-lived, and the
 * first run through the stage machinery pays for JIT compilation and lazy
 * initialisation, which would show up as the first stage's latency (an auth
 * stage reported at 20–30 ms instead of 3 ms). A few runs of a tiny agent with
 * the same shapes (nested stages, parallel children, a timeout, a timer) make
 * the measured run honest.
 *
 * @since 0.1.0
 */
import { Agent, Pipeline, Stage } from "@timebox/core"
import { Effect } from "effect"

const child = (name: string) =>
  Stage.optional(name, () => Effect.promise(() => Promise.resolve(name)), { allocation: "50%", fallback: () => "" })

const warmAgent = Agent.make({
  name: "warm-up",
  budget: "50 millis",
  pipeline: Pipeline.make<void>()
    .add(Stage.required("a", () => Effect.sleep(0), { allocation: "5 millis" }))
    .add(
      Stage.optional(
        "b",
        () => Effect.all([Stage.run(child("b1"), undefined), Stage.run(child("b2"), undefined)], { concurrency: 2 }),
        { allocation: "10 millis", fallback: () => [] }
      )
    )
    .add(Stage.optional("c", () => Effect.sleep("1 second"), { allocation: "1 millis", fallback: () => undefined }))
    .add(Stage.required("d", () => Effect.promise(() => Promise.resolve(1)), { minUseful: "1 millis" }))
})

/**
 * Runs the warm-up agent a few times, ignoring its results.
 *
 * **Gotchas**
 *
 * It runs on the ambient `Clock`, for a few tens of milliseconds of real time;
 * under `TestClock` it does not finish until the clock is moved.
 *
 * **Example** (Warm up, then measure)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 * import { warmUp } from "./warm.ts"
 *
 * const measured = Effect.andThen(warmUp, Agent.run(SupportAgent.agent, "Where is my order?"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const warmUp: Effect.Effect<void> = Effect.ignore(
  Effect.forEach([1, 2, 3], () => Agent.run(warmAgent, undefined), { discard: true })
)
