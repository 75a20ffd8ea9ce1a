/**
 * An agent is a named pipeline with a default budget. `Agent.run` sets the
 * run's deadline from `Clock`, runs the stages and always returns a
 * `RunResult` with a whole report; it never fails for budget reasons.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Exit, Queue, Schema, Stream } from "effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Budget from "./Budget.ts"
import * as Cost from "./Cost.ts"
import { CurrentDeadline } from "./Deadline.ts"
import { pushNotReached } from "./internal/execute.ts"
import { CurrentFrame, type Frame, freeze, makeRunState } from "./internal/frame.ts"
import * as Pipeline from "./Pipeline.ts"
import { collectSkipped, Reason, type RunFailureReason, type RunReport, type RunResult } from "./Report.ts"
import * as ReportSink from "./ReportSink.ts"
import type * as RunEvent from "./RunEvent.ts"
import * as TimeboxError from "./TimeboxError.ts"

/**
 * The key every agent carries; `Agent.isAgent` looks for it.
 *
 * **Example** (Telling an agent from other exports)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const marked = Agent.TypeId in SupportAgent.agent // true
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const TypeId = "~@timebox/core/Agent" as const

/**
 * A named pipeline from `In` to `Out` with a default budget.
 *
 * **Example** (Describing any agent)
 *
 * ```ts
 * import type { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const describe = <In, Out, R>(agent: Agent.Agent<In, Out, R>): string =>
 *   `${agent.name}: ${agent.pipeline.stages.map((stage) => stage.name).join(" → ")}`
 *
 * describe(SupportAgent.agent) // "support-agent: auth → context → inference → tools → assembly"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Agent<in out In, out Out, out R = never> extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  readonly description: string
  /** The default total budget, as written. */
  readonly budget: Budget.DurationText
  readonly pipeline: Pipeline.Pipeline<In, unknown, Out, R>
  /** Decodes the input from text (the CLI's `--input`); strings pass through when absent. */
  readonly input: Schema.Codec<In, string> | undefined
}

/**
 * Any agent, whatever its types.
 *
 * **Example** (A registry of agents with different types)
 *
 * ```ts
 * import type { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const registry: ReadonlyMap<string, Agent.Any> = new Map([[SupportAgent.agent.name, SupportAgent.agent]])
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Any = Agent<any, any, any>

/**
 * The options of `Agent.make`.
 *
 * **Example** (Options built apart from `Agent.make`)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Pipeline, Stage } from "@timebox/core"
 *
 * const options: Agent.Options<string, string, never> = {
 *   name: "echo",
 *   description: "Repeats the question",
 *   budget: "200 millis",
 *   pipeline: Pipeline.make<string>().add(Stage.required("echo", ({ input }) => Effect.succeed(input)))
 * }
 * const echo = Agent.make(options)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<In, Out, R> {
  readonly name: string
  readonly description?: string | undefined
  /** The total budget of a run unless `Agent.run` is given another. */
  readonly budget: Budget.DurationText
  readonly pipeline: Pipeline.Pipeline<In, any, Out, R>
  /**
   * How to read the input from text, for the CLI.
   * @default strings pass through unchanged
   */
  readonly input?: Schema.Codec<In, string> | undefined
}

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    // oxlint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}

/**
 * Defines an agent.
 *
 * **Example** (A two-stage agent with a 500 ms budget)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Pipeline, Stage } from "@timebox/core"
 *
 * export const agent = Agent.make({
 *   name: "echo",
 *   budget: "500 millis",
 *   pipeline: Pipeline.make<string>()
 *     .add(Stage.required("auth", () => Effect.succeed("user-1"), { allocation: "10 millis" }))
 *     .add(Stage.required("answer", ({ input, auth }) => Effect.succeed(`${auth}: ${input}`)))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <In, Out, R>(options: Options<In, Out, R>): Agent<In, Out, R> =>
  Object.assign(Object.create(Proto), {
    name: options.name,
    description: options.description ?? "",
    budget: options.budget,
    pipeline: options.pipeline,
    input: options.input
  })

/**
 * The options of one run.
 *
 * **Details**
 *
 * `budget` replaces the agent's budget for this run; shares (`"40%"`) of
 * top-level stages are then taken of it. It may be smaller or larger than the
 * agent's own: allocations are only checked against the agent's budget. It
 * must be a positive duration: `"0 millis"` fails with `InvalidConfig` before
 * any stage runs.
 *
 * **Example** (A tighter budget for one request)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const tight: Agent.RunOptions = { budget: "700 millis" }
 * const result = Agent.run(SupportAgent.agent, "Where is my order?", tight) // partial: tool calls are cut
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RunOptions {
  /**
   * The total budget of this run.
   * @default the agent's budget
   */
  readonly budget?: Budget.DurationText | undefined
}

const validated = new WeakMap<Any, Exit.Exit<number, TimeboxError.TimeboxError>>()

/**
 * Checks an agent's configuration: its budget is a positive duration, every
 * allocation fits within it, every `minUseful` within its allocation, stage
 * names are unique. Checked once per agent and cached; succeeds with the
 * agent's budget in milliseconds.
 *
 * **Details**
 *
 * A run may be given a smaller budget than the agent's (`Agent.run`'s
 * `options.budget`, a request's deadline): that is time pressure, not a
 * configuration error, and windows simply shrink to what is left.
 *
 * **Example** (Failing fast at start-up)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Pipeline, Stage } from "@timebox/core"
 *
 * const agent = Agent.make({
 *   name: "bad",
 *   budget: "1 second",
 *   pipeline: Pipeline.make<string>().add(Stage.required("slow", () => Effect.void, { allocation: "2 seconds" }))
 * })
 * const check = Agent.validate(agent) // fails: invalid stages.slow.allocation ("2 seconds"): 2000ms exceeds ...
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const validate = (agent: Any): Effect.Effect<number, TimeboxError.TimeboxError> => {
  let exit = validated.get(agent)
  if (exit === undefined) {
    const total = Budget.parseTotal("Agent.run", "budget", agent.budget)
    const error = typeof total === "number"
      ? Budget.policyError(
        "Agent.run",
        total,
        agent.pipeline.stages.map((stage) => ({ name: stage.name, ...stage.policy }))
      )
      : total
    exit = error === undefined ? Exit.succeed(total as number) : Exit.fail(error)
    validated.set(agent, exit)
  }
  return exit
}

const budgetFor = (agent: Any, options: RunOptions | undefined): Effect.Effect<number, TimeboxError.TimeboxError> =>
  Effect.flatMap(
    validate(agent),
    (budgetMs) =>
      options?.budget === undefined
        ? Effect.succeed(budgetMs)
        : Budget.decodeTotal("Agent.run", "options.budget", options.budget)
  )

const statusOf = (stages: RunReport["stages"]): "complete" | "partial" => {
  for (const stage of stages) if (stage.status !== "completed") return "partial"
  return "complete"
}

/**
 * Runs an agent within its budget (or `options.budget`). The deadline is
 * `start + budget`, with `start` read from `Clock`.
 *
 * - every stage completed → `complete`;
 * - an output exists but an optional stage was skipped, cut, failed or degraded → `partial`;
 * - a required stage could not finish → `failed` (reason `budget-exhausted` or `stage-failed`), `output: null`.
 *
 * The result is also published to the `ReportSink`; a run interrupted from
 * outside publishes a report with status `interrupted`. No defect escapes:
 * a defect in a stage becomes that stage's failure. The only error is a
 * `TimeboxError` with reason `InvalidConfig`, before anything runs.
 *
 * **Example** (Running under TestClock)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Pipeline, Stage } from "@timebox/core"
 *
 * const agent = Agent.make({
 *   name: "echo",
 *   budget: "100 millis",
 *   pipeline: Pipeline.make<string>().add(Stage.required("answer", ({ input }) => Effect.succeed(input)))
 * })
 * const program = Effect.map(Agent.run(agent, "hi"), (result) => result.status) // "complete"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const run = <In, Out, R>(
  agent: Agent<In, Out, R>,
  input: In,
  options?: RunOptions
): Effect.Effect<RunResult<Out>, TimeboxError.TimeboxError, R> => runWith(agent, input, options, undefined)

const runWith = <In, Out, R>(
  agent: Agent<In, Out, R>,
  input: In,
  options: RunOptions | undefined,
  emit: ((event: RunEvent.RunEvent) => void) | undefined
): Effect.Effect<RunResult<Out>, TimeboxError.TimeboxError, R> =>
  Effect.flatMap(budgetFor(agent, options), (budgetMs) =>
    Effect.withFiber((fiber) => {
      const clock = fiber.getRef(Clock.Clock)
      const start = clock.currentTimeMillisUnsafe()
      const frame: Frame = {
        runStartMillis: start,
        children: [],
        windowMs: budgetMs,
        unsettled: 0,
        cuts: undefined,
        owner: undefined,
        path: "",
        run: makeRunState(emit as ((event: unknown) => void) | undefined)
      }
      const tally = frame.run.tally
      const report = (runningReason: string): RunReport => {
        const now = clock.currentTimeMillisUnsafe()
        const stages = freeze(frame.children, now, start, runningReason)
        const elapsedMs = Math.round((now - start) * 1000) / 1000
        return {
          agent: agent.name,
          budgetMs,
          elapsedMs,
          withinBudget: elapsedMs <= budgetMs,
          stages,
          skipped: collectSkipped(stages),
          cost: {
            inputTokens: tally.inputTokens,
            outputTokens: tally.outputTokens,
            reasoningTokens: tally.reasoningTokens,
            microUsd: Cost.toMicroUsd(tally.nanoUsd)
          },
          ...(frame.run.ledger.length === 0 ? {} : { ledger: frame.run.ledger.slice() })
        }
      }
      const failed = (reason: RunFailureReason, runningReason: string): RunResult<Out> => {
        if (reason === "interrupted") {
          // The run stopped under a stage: list the stages it never reached, as a failed run does.
          pushNotReached(frame, agent.pipeline.stages.slice(frame.children.length), clock.currentTimeMillisUnsafe())
        }
        return {
          status: reason === "interrupted" ? "interrupted" : "failed",
          reason,
          output: null,
          report: report(runningReason)
        }
      }
      return Pipeline.run(agent.pipeline, input).pipe(
        Effect.provideService(CurrentFrame, frame),
        Effect.provideService(CurrentDeadline, start + budgetMs),
        Effect.exit,
        Effect.onInterrupt(() =>
          Effect.suspend(() => {
            const interrupted = failed("interrupted", Reason.interrupted)
            emit?.({ type: "run-end", result: interrupted })
            return ReportSink.publish(interrupted)
          })
        ),
        Effect.flatMap((exit) => {
          let result: RunResult<Out>
          if (Exit.isSuccess(exit)) {
            const built = report(Reason.interrupted)
            result = { status: statusOf(built.stages), output: exit.value, report: built }
          } else {
            const error = exit.cause.reasons.find((item) => item._tag === "Fail")
            const reason: RunFailureReason = error !== undefined && TimeboxError.isTimeboxError(error.error)
              ? (error.error.reason._tag === "BudgetExhausted" ? "budget-exhausted" : "stage-failed")
              : exit.cause.reasons.every((item) => item._tag === "Interrupt")
              ? "interrupted"
              : "stage-failed"
            result = failed(reason, Reason.interrupted)
          }
          emit?.({ type: "run-end", result })
          return Effect.as(ReportSink.publish(result), result)
        })
      )
    }))

/**
 * Runs an agent like `Agent.run` and streams what happens as it happens:
 * `stage-start` and `stage-end` for every stage, `text-delta` as the model
 * streams tokens (from `Inference` with `stream: true`), `tool-call` and
 * `tool-result`, and finally `run-end` carrying the `RunResult`. The stream
 * ends after `run-end`; interrupting it interrupts the run (whose `run-end`
 * then says `interrupted`).
 *
 * **Example** (Printing tokens as they arrive)
 *
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Agent } from "@timebox/core"
 *
 * declare const agent: Agent.Agent<string, string>
 * const program = Agent.stream(agent, "Where is my order?").pipe(
 *   Stream.runForEach((event) => (event.type === "text-delta" ? Effect.log(event.delta) : Effect.void))
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const stream = <In, Out, R>(
  agent: Agent<In, Out, R>,
  input: In,
  options?: RunOptions
): Stream.Stream<RunEvent.RunEvent, TimeboxError.TimeboxError, R> =>
  Stream.callback<RunEvent.RunEvent, TimeboxError.TimeboxError, R>((queue) =>
    Effect.flatMap(
      runWith(agent, input, options, (event) => {
        Queue.offerUnsafe(queue, event)
      }),
      () => Queue.end(queue)
    )
  )

/**
 * Reads an agent's input from text with its `input` codec (strings pass
 * through when it has none).
 *
 * **Example** (CLI input)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 *
 * declare const agent: Agent.Agent<string, string>
 * const input = Agent.decodeInput(agent, "Where is my order?")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeInput = <In>(
  agent: Agent<In, unknown, unknown>,
  text: string
): Effect.Effect<In, TimeboxError.TimeboxError> =>
  agent.input === undefined
    ? Effect.succeed(text as In)
    : Schema.decodeEffect(agent.input)(text).pipe(
      Effect.mapError((error) => TimeboxError.invalidConfig("Agent.decodeInput", "input", text, error.message))
    )

/**
 * Whether a value is an agent (for modules loaded at run time).
 *
 * **Example** (Picking the agent out of an imported module)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 *
 * const agentOf = (module: Record<string, unknown>): Agent.Any | undefined =>
 *   [module.default, module.agent].find(Agent.isAgent)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isAgent = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u
