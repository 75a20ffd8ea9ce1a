/**
 * A stage is `name + effect + policy`: the unit of work whose deadline comes
 * from what is left of the budget. Its window is
 * `min(allocation, remaining − reserve)`; below `minUseful` it does not start;
 * past its window its fiber is interrupted and the run moves on.
 *
 * @since 0.1.0
 */
import { Cause, Effect } from "effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Budget from "./Budget.ts"
import { execute, type Outcome as ExecuteOutcome, type StageSpec } from "./internal/execute.ts"
import { CurrentFrame } from "./internal/frame.ts"
import type * as TimeboxError from "./TimeboxError.ts"

/**
 * The key every stage carries; `Stage.isStage` looks for it.
 *
 * **Example** (The marker on a stage)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const auth = Stage.required("auth", (token: string) => Effect.succeed(token))
 * const marked = Stage.TypeId in auth // true
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const TypeId = "~@timebox/core/Stage" as const

/**
 * `required`: the run cannot produce an output without it. `optional`: when
 * it is skipped, cut or fails, its fallback stands in and the run goes on.
 *
 * **Example** (The optional stages of the support agent)
 *
 * ```ts
 * import type { Pipeline, Stage } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const namesOf = (pipeline: Pipeline.Any, criticality: Stage.Criticality): Array<string> =>
 *   pipeline.stages.filter((stage) => stage.criticality === criticality).map((stage) => stage.name)
 *
 * namesOf(SupportAgent.pipeline, "optional") // ["context", "tools"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Criticality = "required" | "optional"

/**
 * What happened to a stage that did not complete, as its fallback sees it:
 * `skipped` (reason `insufficient-budget`), `timed-out` (reason `deadline`) or
 * `failed` (reason: the error's message).
 *
 * **Example** (A fallback that says why it stands in)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const rag = Stage.optional("rag", (question: string) => Effect.succeed([`doc about ${question}`]), {
 *   allocation: "50%",
 *   fallback: (_question, outcome: Stage.Outcome) =>
 *     outcome.status === "failed" ? [`(search failed: ${outcome.reason})`] : []
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome = ExecuteOutcome

/**
 * A stage named `Name` that turns an `In` into an `A`.
 *
 * **Example** (Name, input, output and criticality in the type)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const auth: Stage.Stage<"auth", string, { readonly user: string }, never, never, "required"> = Stage.required(
 *   "auth",
 *   (token: string) => Effect.succeed({ user: token.slice(0, 8) }),
 *   { allocation: "10 millis" }
 * )
 * auth.policy.allocation // "10 millis"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Stage<
  out Name extends string,
  in In,
  out A,
  out E = never,
  out R = never,
  out C extends Criticality = Criticality
> extends StageSpec<In, A, E, R>, Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly name: Name
  readonly criticality: C
  /** The allocation as written, for reports and validation. */
  readonly policy: Policy
}

/**
 * The policy fields as written by the user.
 *
 * **Details**
 *
 * The window is `min(allocation, remaining − reserve)`. When it is zero or
 * less, or below `minUseful`, the stage does not start at all. Once started,
 * the stage never runs past its window: its fiber is interrupted when the
 * window closes. An explicit `reserve` is used as is; `Budget.Slack` is only
 * added to the pipeline's default reserve.
 *
 * **Example** (One policy, shared by two stages)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const tight: Stage.Policy = { allocation: "40%", minUseful: "20 millis", reserve: "30 millis" }
 * const history = Stage.required("history", (userId: string) => Effect.succeed([`${userId}: hello`]), tight)
 * const orders = Stage.required("orders", (userId: string) => Effect.succeed([`${userId}: A-1666`]), tight)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Policy {
  /**
   * The most this stage may take: a duration or a share of its parent's
   * window (`"40%"`; for a top-level stage, of the run's budget).
   * @default what is left of the parent's window, less the reserve
   */
  readonly allocation?: Budget.Allocation | undefined
  /**
   * Below this window the stage is not started.
   * @default 0
   */
  readonly minUseful?: Budget.DurationText | undefined
  /**
   * Time kept back for later stages. A pipeline defaults it to the sum of the
   * `minUseful` of its later required stages.
   * @default set by the pipeline
   */
  readonly reserve?: Budget.DurationText | undefined
}

/**
 * The options of an optional stage: its policy and its fallback.
 *
 * **Example** (A profile that may be missing)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const options: Stage.OptionalOptions<string, { readonly plan: string } | null> = {
 *   allocation: "30%",
 *   fallback: () => null
 * }
 * const profile = Stage.optional("profile", (userId: string) => Effect.succeed({ plan: `plan of ${userId}` }), options)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface OptionalOptions<In, A> extends Policy {
  /** The value used when the stage is skipped, cut or fails. */
  readonly fallback: (input: In, outcome: Outcome) => A
}

/**
 * Any stage, whatever its types.
 *
 * **Example** (Listing stages of any types)
 *
 * ```ts
 * import type { Stage } from "@timebox/core"
 *
 * const describe = (stages: ReadonlyArray<Stage.Any>): Array<string> =>
 *   stages.map((stage) => `${stage.name} (${stage.criticality})`)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Any = Stage<string, any, any, any, any, Criticality>

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    // oxlint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}

const update = <S extends Any>(self: S, changes: Partial<StageSpec<any, any, any, any>> & { policy?: Policy }): S =>
  Object.assign(Object.create(Proto), self, changes)

const make = <Name extends string, In, A, E, R, C extends Criticality>(
  name: Name,
  criticality: C,
  run: (input: In) => Effect.Effect<A, E, R>,
  policy: Policy,
  fallback: ((input: In, outcome: Outcome) => A) | undefined
): Stage<Name, In, A, E, R, C> =>
  Object.assign(Object.create(Proto), {
    name,
    criticality,
    run,
    policy,
    fallback,
    allocation: policy.allocation === undefined ? undefined : Budget.resolveAllocation(policy.allocation),
    minUsefulMs: policy.minUseful === undefined ? 0 : (Budget.toMillis(policy.minUseful) ?? 0),
    reserveMs: policy.reserve === undefined ? undefined : Budget.toMillis(policy.reserve)
  })

/**
 * A stage the run cannot do without. If its window is below `minUseful`, or
 * it runs past its window, the run ends `failed` with reason
 * `budget-exhausted`; if it fails, the run ends `failed` with its message.
 *
 * **Example** (Authentication, 10 ms)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const auth = Stage.required("auth", (ctx: { readonly input: string }) => Effect.succeed({ user: ctx.input }), {
 *   allocation: "10 millis",
 *   minUseful: "2 millis"
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const required = <const Name extends string, In, A, E = never, R = never>(
  name: Name,
  run: (input: In) => Effect.Effect<A, E, R>,
  policy: Policy = {}
): Stage<Name, In, A, E, R, "required"> => make(name, "required", run, policy, undefined)

/**
 * A stage the run can do without: when its window is below `minUseful` it is
 * `skipped` (`insufficient-budget`), past its window it is `timed-out`
 * (`deadline`), on a failure or defect it is `failed`; each time its
 * `fallback` stands in and the run goes on.
 *
 * **Gotchas**
 *
 * A timed-out stage's fiber is interrupted; if its work ignores interruption
 * the run still moves on at the deadline and the record says
 * `abandoned: true`.
 *
 * **Example** (RAG, half of the context window, dropped below 20 ms)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const rag = Stage.optional("rag", (question: string) => Effect.succeed([`doc about ${question}`]), {
 *   allocation: "50%",
 *   minUseful: "20 millis",
 *   fallback: () => []
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const optional = <const Name extends string, In, A, E = never, R = never, B = A>(
  name: Name,
  run: (input: In) => Effect.Effect<A, E, R>,
  options: OptionalOptions<NoInfer<In>, B>
): Stage<Name, In, A | B, E, R, "optional"> => {
  const { fallback, ...policy } = options
  return make<Name, In, A | B, E, R, "optional">(name, "optional", run, policy, fallback)
}

/**
 * The error type of running a stage: `never` for an optional stage (its
 * fallback stands in), `TimeboxError` for a required one.
 *
 * **Example** (The error channel follows the criticality)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const rag = Stage.optional("rag", (question: string) => Effect.succeed([question]), { fallback: () => [] })
 * const auth = Stage.required("auth", (token: string) => Effect.succeed(token))
 *
 * const documents: Effect.Effect<Array<string>, Stage.Error<"optional">> = Stage.run(rag, "where is my order?")
 * const user: Effect.Effect<string, Stage.Error<"required">> = Stage.run(auth, "token-1")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Error<C extends Criticality> = C extends "optional" ? never : TimeboxError.TimeboxError

/**
 * Runs a stage on its own or inside another stage (it then appears as that
 * stage's child in the report). The window comes from the current deadline
 * and, for a share, from the enclosing stage's window.
 *
 * **When to use**
 *
 * Inside a stage's effect to split its window among sub-stages, in parallel
 * with `Effect.all(..., { concurrency: "unbounded" })` or in sequence.
 *
 * **Example** (Context: history and RAG in parallel under one window)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const history = Stage.required("history", (q: string) => Effect.succeed([q]), { allocation: "40%" })
 * const rag = Stage.optional("rag", (q: string) => Effect.succeed([q]), { allocation: "50%", fallback: () => [] })
 * const context = Stage.optional(
 *   "context",
 *   (q: string) => Effect.all({ history: Stage.run(history, q), rag: Stage.run(rag, q) }, { concurrency: "unbounded" }),
 *   { allocation: "150 millis", fallback: () => ({ history: [], rag: [] }) }
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const run = <In, A, E, R, C extends Criticality>(
  stage: Stage<string, In, A, E, R, C>,
  input: In
): Effect.Effect<A, Error<C>, R> => execute(stage, input, 0) as Effect.Effect<A, Error<C>, R>

/**
 * Returns the stage with another allocation.
 *
 * **Example** (Both call styles)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const auth = Stage.required("auth", (_: unknown) => Effect.void)
 * const a = Stage.withAllocation(auth, "20 millis")
 * const b = auth.pipe(Stage.withAllocation("20 millis"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withAllocation: {
  (allocation: Budget.Allocation): <S extends Any>(self: S) => S
  <S extends Any>(self: S, allocation: Budget.Allocation): S
} = dual(
  2,
  <S extends Any>(self: S, allocation: Budget.Allocation): S =>
    update(self, { policy: { ...self.policy, allocation }, allocation: Budget.resolveAllocation(allocation) })
)

/**
 * Returns the stage with another `minUseful`.
 *
 * **Example** (Drop retrieval early rather than cut it half-way)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const rag = Stage.optional("rag", (question: string) => Effect.succeed([question]), {
 *   allocation: "50%",
 *   fallback: () => []
 * })
 * const pickyRag = rag.pipe(Stage.withMinUseful("40 millis"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withMinUseful: {
  (minUseful: Budget.DurationText): <S extends Any>(self: S) => S
  <S extends Any>(self: S, minUseful: Budget.DurationText): S
} = dual(
  2,
  <S extends Any>(self: S, minUseful: Budget.DurationText): S =>
    update(self, { policy: { ...self.policy, minUseful }, minUsefulMs: Budget.toMillis(minUseful) ?? 0 })
)

/**
 * Returns the stage with an explicit reserve, overriding the pipeline's.
 *
 * **Gotchas**
 *
 * The reserve replaces the pipeline's default for this stage, slack included:
 * too small a reserve lets the stage eat the `minUseful` of a later required
 * stage.
 *
 * **Example** (Keep 30 ms back for assembly)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const tools = Stage.optional("tools", (orderId: string) => Effect.succeed([`order ${orderId}: shipped`]), {
 *   allocation: "300 millis",
 *   fallback: () => []
 * }).pipe(Stage.withReserve("30 millis"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withReserve: {
  (reserve: Budget.DurationText): <S extends Any>(self: S) => S
  <S extends Any>(self: S, reserve: Budget.DurationText): S
} = dual(
  2,
  <S extends Any>(self: S, reserve: Budget.DurationText): S =>
    update(self, { policy: { ...self.policy, reserve }, reserveMs: Budget.toMillis(reserve) })
)

/**
 * Returns the stage with another fallback (optional stages only).
 *
 * **Gotchas**
 *
 * In the data-last form (`stage.pipe(Stage.withFallback(f))`) annotate `f`'s
 * parameters: TypeScript cannot infer them from the stage.
 *
 * **Example** (A fallback that leaves a note)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const rag = Stage.optional("rag", (question: string) => Effect.succeed([`doc about ${question}`]), {
 *   fallback: () => []
 * })
 * const noted = Stage.withFallback(rag, (_question, outcome) => [`(no documents: ${outcome.reason})`])
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withFallback: {
  <In, A>(
    fallback: (input: In, outcome: Outcome) => A
  ): <Name extends string, E, R>(
    self: Stage<Name, In, A, E, R, "optional">
  ) => Stage<Name, In, A, E, R, "optional">
  <Name extends string, In, A, E, R>(
    self: Stage<Name, In, A, E, R, "optional">,
    fallback: (input: In, outcome: Outcome) => A
  ): Stage<Name, In, A, E, R, "optional">
} = dual(
  2,
  <Name extends string, In, A, E, R>(
    self: Stage<Name, In, A, E, R, "optional">,
    fallback: (input: In, outcome: Outcome) => A
  ): Stage<Name, In, A, E, R, "optional"> => update(self, { fallback })
)

/**
 * Runs promise-returning work inside a stage, handing it an `AbortSignal`
 * that fires when the stage is cut (or the run interrupted). A rejection
 * fails with `Cause.UnknownError`.
 *
 * **Details**
 *
 * The stage never waits for the promise once its window closes. If the
 * promise ignores the signal and is still pending when the stage moves on,
 * the stage's record says `abandoned: true`: the work goes on in the
 * background, unawaited. A promise that honours the signal (`fetch`) settles
 * at once and is not abandoned.
 *
 * **Example** (An HTTP call that stops at the stage's deadline)
 *
 * ```ts
 * import { Stage } from "@timebox/core"
 *
 * const search = Stage.optional(
 *   "search",
 *   (query: string) => Stage.promise((signal) => fetch(`http://127.0.0.1:8080/?q=${query}`, { signal }).then((r) => r.text())),
 *   { allocation: "200 millis", fallback: () => "" }
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const promise = <A>(evaluate: (signal: AbortSignal) => PromiseLike<A>): Effect.Effect<A, Cause.UnknownError> =>
  Effect.withFiber((fiber) => {
    const frame = fiber.getRef(CurrentFrame)
    return Effect.callback<A, Cause.UnknownError>((resume, signal) => {
      let settled = false
      if (frame !== undefined) frame.unsettled++
      const done = () => {
        if (settled) return false
        settled = true
        if (frame !== undefined) frame.unsettled--
        return true
      }
      // Deferred by one microtask so that a synchronous throw becomes a rejection.
      Promise.resolve(signal).then(evaluate).then(
        (value) => {
          if (done()) resume(Effect.succeed(value))
        },
        (error: unknown) => {
          if (done()) resume(Effect.fail(new Cause.UnknownError(error)))
        }
      )
    })
  })

/**
 * Whether a value is a stage.
 *
 * **Example** (The stages among a module's exports)
 *
 * ```ts
 * import { Stage } from "@timebox/core"
 *
 * const stagesIn = (values: ReadonlyArray<unknown>): Array<Stage.Any> => values.filter(Stage.isStage)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isStage = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u
