/**
 * `timebox run <agent> [--profile <name>] [--budget <duration>] [--json]
 * [--stream] [--seed <n>] [--input <text>] [--latency <stage>=<duration>]...`:
 * runs a bundled example or a user's agent module within a budget and prints
 * its report, as text for people or as the `RunResult` JSON; with `--stream`,
 * tokens as they arrive, or newline-delimited JSON events. An example with a
 * runner of its own (`runaway-agent`, with `--unguarded-for <duration>` and
 * `--backend memory|redis`) is handed the flags instead.
 *
 * @since 0.1.0
 */
import { Agent, Budget, Report, ReportSink, RunEvent, Simulation } from "@timebox/core"
import { Console, Effect, Schema, Stream } from "effect"
import { Argument, Command, Flag, TerminalCapabilities } from "effect/cli"
import { OutputNotJson, RunFailed, UsageError } from "../errors.ts"
import * as Examples from "../examples.ts"
import { fromText } from "../internal/flagText.ts"
import * as Load from "../load.ts"
import * as Render from "../render.ts"
import * as Warm from "../warm.ts"

// =============================================================================
// Flag codecs
// =============================================================================

const durationHint = "not a duration (try 150ms, 2s, 1.5s or \"2 seconds\")"

/**
 * A total budget from text (`150ms`, `2s`, `1.5s`, `2 seconds`) to positive
 * milliseconds, with the core's messages (`Budget.parseTotal`).
 *
 * **Example** (Decoding and encoding `--budget`)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { BudgetMillis } from "./run.ts"
 *
 * Schema.decodeUnknownSync(BudgetMillis)("1.5s") // 1500
 * Schema.encodeSync(BudgetMillis)(700) // "700ms"
 * // Schema.decodeUnknownSync(BudgetMillis)("0ms") throws: must be a positive, finite duration
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const BudgetMillis: Schema.Codec<number, string> = fromText(Schema.Number, (text) => {
  const total = Budget.parseTotal("timebox run", "--budget", text)
  if (typeof total === "number") return { value: total }
  return total.reason._tag === "InvalidConfig" ? total.reason.problem : total.message
}, (ms) => `${ms}ms`)

/**
 * A seed from text: an integer.
 *
 * **Example** (Decoding `--seed`)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Seed } from "./run.ts"
 *
 * Schema.decodeUnknownSync(Seed)("42") // 42
 * // Schema.decodeUnknownSync(Seed)("4.2") throws: not an integer
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Seed: Schema.Codec<number, string> = fromText(Schema.Int, (text) => {
  const digits = /^\s*[-+]?\d+\s*$/.test(text)
  const seed = digits ? Number(text) : Number.NaN
  return Number.isSafeInteger(seed)
    ? { value: seed }
    : digits
    ? "too large: at most 9007199254740991 either way (a safe integer)"
    : "not an integer"
}, String)

/**
 * One forced latency.
 *
 * **Example** (A decoded latency)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Latency } from "./run.ts"
 *
 * const slowRag = Schema.decodeUnknownSync(Latency)({ stage: "rag", millis: 400 })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Latency = Schema.Struct({ stage: Schema.NonEmptyString, millis: Schema.Number })

/**
 * One forced latency, as a type.
 *
 * **Example** (Forcing it on a run)
 *
 * ```ts
 * import { Agent, Simulation } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 * import type { Latency } from "./run.ts"
 *
 * const slowRag: Latency = { stage: "rag", millis: 400 }
 * const program = Agent.run(SupportAgent.agent, "Where is my order?").pipe(
 *   Simulation.withLatencies({ [slowRag.stage]: slowRag.millis })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Latency = typeof Latency.Type

/**
 * A forced latency from `<stage>=<duration>` (`rag=400ms`); the duration may
 * be zero.
 *
 * **Example** (Decoding `--latency`)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { LatencyFlag } from "./run.ts"
 *
 * Schema.decodeUnknownSync(LatencyFlag)("rag=400ms") // { stage: "rag", millis: 400 }
 * Schema.encodeSync(LatencyFlag)({ stage: "rag", millis: 0 }) // "rag=0ms"
 * // Schema.decodeUnknownSync(LatencyFlag)("rag") throws: expected <stage>=<duration>, e.g. rag=400ms
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const LatencyFlag: Schema.Codec<Latency, string> = fromText(Latency, (text) => {
  const at = text.indexOf("=")
  const stage = at < 0 ? "" : text.slice(0, at).trim()
  if (stage === "") return "expected <stage>=<duration>, e.g. rag=400ms"
  if (stage.includes("/")) {
    return `expected a stage name, not a path: latencies are forced by name, at any depth (e.g. ${
      stage.slice(stage.lastIndexOf("/") + 1) || "rag"
    }=400ms)`
  }
  const millis = Budget.parseMillis(text.slice(at + 1))
  return millis === undefined || !Number.isFinite(millis) ? durationHint : { value: { stage, millis } }
}, (latency) => `${latency.stage}=${latency.millis}ms`)

const decodeFlag = <A>(flag: string, codec: Schema.Codec<A, string>) => (text: string): Effect.Effect<A, UsageError> =>
  Schema.decodeEffect(codec)(text).pipe(
    Effect.mapError((error) =>
      new UsageError({ message: `invalid --${flag} ${JSON.stringify(text)}: ${error.message}` })
    )
  )

// =============================================================================
// Command
// =============================================================================

/**
 * The question a run gets when `--input` is absent.
 *
 * **Example** (The run `timebox run support-agent` makes)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 * import { defaultInput } from "./run.ts"
 *
 * const program = Agent.run(SupportAgent.agent, defaultInput)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const defaultInput = "Where is my order?"

/**
 * The decoded settings of one run.
 *
 * **Example** (Applying settings to a run)
 *
 * ```ts
 * import { Agent, Simulation } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 * import { defaultInput, type Settings } from "./run.ts"
 *
 * const settings: Settings = { budgetMs: 700, seed: 1, latencies: { rag: 400 } }
 * const program = Agent.run(
 *   SupportAgent.agent,
 *   defaultInput,
 *   settings.budgetMs === undefined ? undefined : { budget: settings.budgetMs }
 * ).pipe(Simulation.withSeed(settings.seed), Simulation.withLatencies(settings.latencies))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Settings {
  readonly budgetMs: number | undefined
  readonly seed: number
  readonly latencies: Readonly<Record<string, number>>
}

/**
 * Decodes the raw flag strings into `Settings`, failing with a `UsageError`
 * that names the first bad flag and its value.
 *
 * **Example** (The flags of `--budget 700ms --latency rag=400ms`)
 *
 * ```ts
 * import { decodeSettings } from "./run.ts"
 *
 * const settings = decodeSettings({ budget: "700ms", seed: "1", latency: ["rag=400ms"] })
 * // succeeds with { budgetMs: 700, seed: 1, latencies: { rag: 400 } }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeSettings = Effect.fn("run.decodeSettings")(function*(flags: {
  readonly budget: string | undefined
  readonly seed: string
  readonly latency: ReadonlyArray<string>
}) {
  const budgetMs = flags.budget === undefined ? undefined : yield* decodeFlag("budget", BudgetMillis)(flags.budget)
  const seed = yield* decodeFlag("seed", Seed)(flags.seed)
  const latencies: Record<string, number> = {}
  for (const text of flags.latency) {
    const latency = yield* decodeFlag("latency", LatencyFlag)(text)
    if (Object.hasOwn(latencies, latency.stage)) {
      return yield* new UsageError({
        message: `--latency given 2 times for ${JSON.stringify(latency.stage)}: at most 1 value a stage`
      })
    }
    latencies[latency.stage] = latency.millis
  }
  return { budgetMs, seed, latencies } satisfies Settings
})

/**
 * The result in its JSON form (`Report.RunResultJson`); an agent whose output
 * is `undefined` prints `null`, one whose output is not JSON fails.
 */
const resultJson = (result: Report.RunResult<unknown>): Effect.Effect<unknown, OutputNotJson> =>
  Schema.encodeEffect(Report.RunResultJson)(
    result.output === undefined ? { ...result, output: null } as Report.RunResult<unknown> : result
  ).pipe(
    Effect.mapError((error) =>
      // the first issue and its path ("Expected JSON value at ["output"]")
      new OutputNotJson({
        agent: result.report.agent,
        detail: error.message.split("\n").slice(0, 2).map((line) => line.trim()).join(" ")
      })
    )
  )

const encodeJson = (result: Report.RunResult<unknown>): Effect.Effect<string, OutputNotJson> =>
  Effect.map(resultJson(result), (json) => JSON.stringify(json, null, 2))

/** The `run-end` line of `--stream --json` (`encodeEvent`'s, for an output that may not be JSON). */
const encodeRunEnd = (result: Report.RunResult<unknown>): Effect.Effect<string, OutputNotJson> =>
  Effect.map(
    resultJson(result),
    (json) => JSON.stringify(Schema.encodeSync(RunEvent.RunEvent)({ type: "run-end", result: json as never }))
  )

/**
 * One line of `--stream --json`: the event encoded with the `RunEvent`
 * Schema, its `run-end` result in the `RunResult` JSON form, as one line of
 * JSON.
 *
 * **Example** (Decoding the lines back)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { RunEvent } from "@timebox/core"
 * import { encodeEvent } from "./run.ts"
 *
 * const line = encodeEvent({ type: "text-delta", path: "inference", delta: "Solid", atMs: 1400 })
 * // '{"type":"text-delta","path":"inference","delta":"Solid","atMs":1400}'
 * const event = Schema.decodeUnknownSync(RunEvent.RunEvent)(JSON.parse(line))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const encodeEvent = (event: RunEvent.RunEvent): string =>
  JSON.stringify(
    Schema.encodeSync(RunEvent.RunEvent)(
      event.type === "run-end"
        ? {
          type: "run-end",
          result: Schema.encodeSync(Report.RunResultJson)(event.result as Report.RunResult<unknown>)
        }
        : event
    )
  )

// Text deltas go straight to stdout, without a newline each.
const write = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stdout.write(text)
  })

/**
 * `timebox run`.
 *
 * **Example** (A command tree with `run` only)
 *
 * ```ts
 * import { Command } from "effect/cli"
 * import { run } from "./run.ts"
 *
 * const timebox = Command.make("timebox").pipe(Command.withSubcommands([run]))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const run = Command.make(
  "run",
  {
    agent: Argument.String("agent").pipe(
      Argument.withDescription("A bundled example (see timebox list) or a path to a module that exports an agent")
    ),
    budget: Flag.String("budget").pipe(
      Flag.withMetavar("duration"),
      Flag.withDescription(
        "Total budget: 150ms, 2s, 1.5s, \"2 seconds\"; a bare number is milliseconds (default: the agent's own)"
      ),
      Flag.optional
    ),
    profile: Flag.String("profile").pipe(
      Flag.withMetavar("name"),
      Flag.withDescription("Which of the agent's profiles to run (timebox list shows them)"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription(
        "Print the RunResult JSON and nothing else on stdout (with --stream: one JSON event a line; runaway-agent: its two halves' figures)"
      ),
      Flag.withDefault(false)
    ),
    stream: Flag.Boolean("stream").pipe(
      Flag.withDescription("Print the model's tokens as they arrive, then the report"),
      Flag.withDefault(false)
    ),
    seed: Flag.String("seed").pipe(
      Flag.withMetavar("n"),
      Flag.withDescription("Seed of the simulated latencies (an integer)"),
      Flag.withDefault("1")
    ),
    input: Flag.String("input").pipe(
      Flag.withMetavar("text"),
      Flag.withDescription(`The agent's input (default: the example's own question, else "${defaultInput}")`),
      Flag.optional
    ),
    latency: Flag.String("latency").pipe(
      Flag.withMetavar("stage=duration"),
      Flag.withDescription("Force a stage's simulated latency, e.g. rag=400ms (repeatable)"),
      Flag.atLeast(0)
    ),
    unguardedFor: Flag.String("unguarded-for").pipe(
      Flag.withMetavar("duration"),
      Flag.withDescription(
        "runaway-agent: how long its unguarded half runs, e.g. 5s; a bare number is milliseconds (default 30s)"
      ),
      Flag.optional
    ),
    backend: Flag.String("backend").pipe(
      Flag.withMetavar("memory|redis"),
      Flag.withDescription(
        "runaway-agent: where its guarded half's ledger lives (redis: REDIS_URL, else redis://127.0.0.1:6379)"
      ),
      Flag.optional
    )
  },
  Effect.fn("timebox run")(function*(flags) {
    // An example with a runner of its own (runaway-agent) takes the flags from here.
    const runner = Examples.find(flags.agent)?.runner
    if (runner !== undefined) {
      const given = (name: string, value: boolean) => (value ? [`--${name}`] : [])
      return yield* runner({
        agent: flags.agent,
        json: flags.json,
        unguardedFor: flags.unguardedFor._tag === "Some" ? flags.unguardedFor.value : undefined,
        backend: flags.backend._tag === "Some" ? flags.backend.value : undefined,
        unsupported: [
          ...given("budget", flags.budget._tag === "Some"),
          ...given("profile", flags.profile._tag === "Some"),
          ...given("stream", flags.stream),
          ...given("seed", flags.seed !== "1"),
          ...given("input", flags.input._tag === "Some"),
          ...given("latency", flags.latency.length > 0)
        ]
      })
    }
    for (const [name, value] of [["unguarded-for", flags.unguardedFor], ["backend", flags.backend]] as const) {
      if (value._tag === "Some") {
        const owners = Examples.examples.filter((example) => example.runner !== undefined).map((example) =>
          example.name
        )
        return yield* new UsageError({ message: `--${name} applies to ${owners.join(", ")} only` })
      }
    }
    const settings = yield* decodeSettings({
      budget: flags.budget._tag === "Some" ? flags.budget.value : undefined,
      seed: flags.seed,
      latency: flags.latency
    })
    const resolved = yield* Load.resolve(flags.agent, flags.profile._tag === "Some" ? flags.profile.value : undefined)
    const agent = resolved.agent
    const text = flags.input._tag === "Some" ? flags.input.value : (resolved.input ?? defaultInput)
    const input = yield* Agent.decodeInput(agent, text).pipe(
      Effect.mapError((error) =>
        new UsageError({
          message: `invalid ${flags.input._tag === "Some" ? "--input" : "default input (no --input given)"} ${
            JSON.stringify(text)
          }: ${error.reason._tag === "InvalidConfig" ? error.reason.problem : error.message}`
        })
      )
    )
    const { canColor } = yield* TerminalCapabilities.TerminalCapabilities
    // Whether streamed text is waiting for its line to end.
    let midLine = false
    const print = (result: Report.RunResult<unknown>): Effect.Effect<void, OutputNotJson> => {
      if (flags.json && flags.stream) return Effect.flatMap(encodeRunEnd(result), Console.log)
      if (flags.json) return Effect.flatMap(encodeJson(result), Console.log)
      const report = Render.run(result, {
        colors: canColor,
        profile: resolved.profile,
        seed: settings.seed,
        latencies: settings.latencies
      }).join("\n")
      const lead = midLine ? "\n\n" : ""
      midLine = false
      return Console.log(`${lead}${report}`)
    }
    const options = settings.budgetMs === undefined ? undefined : { budget: settings.budgetMs }
    const onEvent = (event: RunEvent.RunEvent): Effect.Effect<void> => {
      if (event.type === "run-end") return Effect.void
      if (flags.json) return Console.log(encodeEvent(event))
      if (event.type !== "text-delta") return Effect.void
      midLine = !event.delta.endsWith("\n")
      return write(event.delta)
    }
    const streamed = Effect.gen(function*() {
      let last: Report.RunResult<unknown> | undefined
      yield* Stream.runForEach(Agent.stream(agent, input, options), (event) => {
        if (event.type === "run-end") last = event.result as Report.RunResult<unknown>
        return onEvent(event)
      })
      // `Agent.stream` always ends with `run-end`; an interrupted run never gets here.
      return last!
    })
    yield* Warm.warmUp
    const result = yield* (flags.stream ? streamed : Agent.run(agent, input, options)).pipe(
      Simulation.withSeed(settings.seed),
      Simulation.withLatencies(settings.latencies),
      // A run interrupted from outside (Ctrl-C) never returns; its report comes through the sink.
      Effect.provideService(ReportSink.ReportSink, {
        publish: (published) =>
          published.status === "interrupted"
            // an interrupted result's output is null: always JSON
            ? Effect.catch(print(published), (error) => Console.error(`timebox: ${error.message}`))
            : Effect.void
      }),
      Effect.mapError((error) => new UsageError({ message: `${JSON.stringify(flags.agent)}: ${error.message}` }))
    )
    yield* print(result)
    for (const stage of Object.keys(settings.latencies)) {
      if (Report.find(result.report, stage) === undefined) {
        yield* Console.error(`timebox: warning: --latency ${stage}=…: no stage named ${JSON.stringify(stage)} ran`)
      }
    }
    if (result.status === "interrupted") return yield* Effect.interrupt
    if (result.status === "failed") {
      return yield* new RunFailed({ agent: result.report.agent, reason: result.reason })
    }
  })
).pipe(
  Command.withDescription("Run an agent within a budget and print its report"),
  Command.withExamples([
    { command: "timebox run support-agent", description: "The support agent with its own 2 s budget" },
    { command: "timebox run support-agent --budget 700ms", description: "Partial: optional stages are cut" },
    { command: "timebox run support-agent --latency rag=400ms --json", description: "A slow RAG, as JSON" },
    {
      command: "timebox run research-agent --profile full --budget 12s --stream",
      description: "Reasoning model, tools and verifier; tokens as they arrive"
    },
    {
      command: "timebox run research-agent --budget 3s --stream --json",
      description: "Routed to the fast model; one JSON event a line"
    },
    {
      command: "timebox run runaway-agent --unguarded-for 5s",
      description: "$0.01 model calls: 5 s unguarded next to a $1.00 budget that stops after 100 calls"
    },
    { command: "timebox run ./my-agent.mjs --input \"hello\"", description: "Your own agent module" }
  ])
)
