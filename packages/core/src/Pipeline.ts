/**
 * A pipeline is stages in sequence. Each stage sees the run's input and the
 * outputs of the stages before it, by name; each keeps back, by default, the
 * `minUseful` of every later required stage, so that an early stage cannot
 * eat the time a later required one needs.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { execute, recordNotReached } from "./internal/execute.ts"
import type * as Stage from "./Stage.ts"
import type * as TimeboxError from "./TimeboxError.ts"

/**
 * The key every pipeline carries; `Pipeline.isPipeline` looks for it.
 *
 * **Example** (The marker on a pipeline)
 *
 * ```ts
 * import { Pipeline } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const marked = Pipeline.TypeId in SupportAgent.pipeline // true
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const TypeId = "~@timebox/core/Pipeline" as const

/**
 * Stages in sequence from an `In` to an `Out` (the last stage's output).
 * `Ctx` is what the next stage sees: `{ input }` plus one key per stage.
 *
 * **Details**
 *
 * `reserves[i]` is what stage `i` keeps back by default: the sum of the
 * `minUseful` of the required stages after it. At run time `Budget.Slack` is
 * added to a non-zero reserve; a stage's own `reserve` replaces both.
 *
 * **Example** (The context type, and the reserves)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Pipeline, Stage } from "@timebox/core"
 *
 * const pipeline: Pipeline.Pipeline<
 *   string,
 *   { readonly input: string } & { readonly auth: string } & { readonly answer: string },
 *   string,
 *   never
 * > = Pipeline.make<string>()
 *   .add(Stage.required("auth", ({ input }) => Effect.succeed(`user-${input.length}`), { minUseful: "2 millis" }))
 *   .add(Stage.required("answer", ({ auth }) => Effect.succeed(`hello ${auth}`), { minUseful: "50 millis" }))
 *
 * pipeline.reserves // [50, 0]: auth keeps 50 ms back for answer
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Pipeline<in out In, out Ctx, out Out, out R> extends Pipeable {
  readonly [TypeId]: {
    readonly _In: (_: In) => In
    readonly _Out: (_: never) => Out
    readonly _R: (_: never) => R
  }
  readonly stages: ReadonlyArray<Stage.Any>
  /** For each stage, the `minUseful` of the later required stages: its default reserve. */
  readonly reserves: ReadonlyArray<number>
  /**
   * Appends a stage that sees everything so far.
   *
   * **Example** (Method style)
   *
   * ```ts
   * import { Effect } from "effect"
   * import { Pipeline, Stage } from "@timebox/core"
   *
   * const pipeline = Pipeline.make<string>()
   *   .add(Stage.required("auth", ({ input }) => Effect.succeed({ user: input })))
   *   .add(Stage.required("answer", ({ auth }) => Effect.succeed(`hello ${auth.user}`)))
   * ```
   */
  add<const Name extends string, A, E, R2, C extends Stage.Criticality>(
    stage: Stage.Stage<Name, Ctx, A, E, R2, C>
  ): Pipeline<In, Ctx & { readonly [K in Name]: A }, A, R | R2>
}

/**
 * Any pipeline, whatever its types.
 *
 * **Example** (The required stages of any pipeline)
 *
 * ```ts
 * import type { Pipeline } from "@timebox/core"
 *
 * const requiredStages = (pipeline: Pipeline.Any): Array<string> =>
 *   pipeline.stages.filter((stage) => stage.criticality === "required").map((stage) => stage.name)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Any = Pipeline<any, any, any, any>

const reservesOf = (stages: ReadonlyArray<Stage.Any>): Array<number> => {
  const reserves = new Array<number>(stages.length)
  let after = 0
  for (let i = stages.length - 1; i >= 0; i--) {
    reserves[i] = after
    const stage = stages[i]!
    if (stage.criticality === "required") after += stage.minUsefulMs
  }
  return reserves
}

const variance = { _In: (_: unknown) => _, _Out: (_: never) => _, _R: (_: never) => _ }

const Proto = {
  [TypeId]: variance,
  pipe() {
    // oxlint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  },
  add(this: Any, stage: Stage.Any) {
    return fromStages([...this.stages, stage])
  }
}

const fromStages = (stages: ReadonlyArray<Stage.Any>): Any =>
  Object.assign(Object.create(Proto), { stages, reserves: reservesOf(stages) })

/**
 * An empty pipeline over inputs of type `In`; its output is the input until a
 * stage is added.
 *
 * **Example** (The support agent's shape)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Pipeline, Stage } from "@timebox/core"
 *
 * const pipeline = Pipeline.make<{ readonly question: string }>().pipe(
 *   Pipeline.add(Stage.required("auth", (_: { readonly input: { readonly question: string } }) => Effect.succeed("user-1"), {
 *     allocation: "10 millis"
 *   }))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <In>(): Pipeline<In, { readonly input: In }, In, never> =>
  fromStages([]) as Pipeline<In, { readonly input: In }, In, never>

/**
 * Appends a stage; data-last form of `pipeline.add(stage)`.
 *
 * **Gotchas**
 *
 * In the data-last form TypeScript cannot infer the stage's input from the
 * pipeline: annotate the stage function's parameter, or use `.add`.
 *
 * **Example** (Data-last, with annotated inputs)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Pipeline, Stage } from "@timebox/core"
 *
 * const pipeline = Pipeline.make<string>().pipe(
 *   Pipeline.add(Stage.required("auth", ({ input }: { readonly input: string }) => Effect.succeed(`user-${input.length}`))),
 *   Pipeline.add(Stage.required("answer", ({ auth }: { readonly auth: string }) => Effect.succeed(`hello ${auth}`)))
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const add: {
  <const Name extends string, Ctx, A, E, R2, C extends Stage.Criticality>(
    stage: Stage.Stage<Name, Ctx, A, E, R2, C>
  ): <In, R>(self: Pipeline<In, Ctx, unknown, R>) => Pipeline<In, Ctx & { readonly [K in Name]: A }, A, R | R2>
  <In, Ctx, R, const Name extends string, A, E, R2, C extends Stage.Criticality>(
    self: Pipeline<In, Ctx, unknown, R>,
    stage: Stage.Stage<Name, Ctx, A, E, R2, C>
  ): Pipeline<In, Ctx & { readonly [K in Name]: A }, A, R | R2>
} = dual(2, (self: Any, stage: Stage.Any): Any => self.add(stage))

/**
 * Runs the stages in order and returns the last one's output. Inside a stage
 * it runs as that stage's children, within its window. When a required stage
 * cannot finish, the stages after it are recorded `skipped` with reason
 * `not-reached` and the run fails with that stage's `TimeboxError`.
 *
 * **Example** (A nested pipeline as one stage)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Pipeline, Stage } from "@timebox/core"
 *
 * const lookup = Pipeline.make<string>()
 *   .add(Stage.required("find", ({ input }) => Effect.succeed(input.length)))
 *   .add(Stage.optional("enrich", ({ find }) => Effect.succeed(find * 2), { fallback: () => 0 }))
 * const tools = Stage.optional("tools", (q: string) => Pipeline.run(lookup, q), { fallback: () => 0 })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const run = <In, Ctx, Out, R>(
  self: Pipeline<In, Ctx, Out, R>,
  input: In
): Effect.Effect<Out, TimeboxError.TimeboxError, R> =>
  Effect.suspend(() => {
    const stages = self.stages
    const reserves = self.reserves
    const ctx: Record<string, unknown> = { input }
    let last: unknown = input
    let index = 0
    const step: Effect.Effect<Out, TimeboxError.TimeboxError, R> = Effect.suspend(() => {
      if (index >= stages.length) return Effect.succeed(last as Out)
      const stage = stages[index]!
      const reserve = reserves[index]!
      index++
      return execute(stage, ctx, reserve).pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.andThen(recordNotReached(stages.slice(index)), Effect.fail(error)),
          onSuccess: (value) => {
            ctx[stage.name] = value
            last = value
            return step
          }
        })
      )
    })
    return step
  })

/**
 * Whether a value is a pipeline.
 *
 * **Example** (An agent is not a pipeline)
 *
 * ```ts
 * import { Pipeline } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * Pipeline.isPipeline(SupportAgent.pipeline) // true
 * Pipeline.isPipeline(SupportAgent.agent) // false: it has a pipeline
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isPipeline = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u
