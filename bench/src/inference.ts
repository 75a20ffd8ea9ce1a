/**
 * Inference overhead: an inference stage running a two-tool loop (step 1: the
 * model asks for two tools, they run in parallel under the window; step 2: it
 * answers) on a zero-latency simulated model, through `Agent.run` with the
 * full report, against calling the same `LanguageModel` directly — two
 * `generateText` calls, `effect/ai` resolving the tools itself — under a plain
 * `Effect.timeout`. Both run sequentially in the same process, in rotating
 * rounds.
 */
import { Agent, Inference, ModelProfile, Pipeline, SimulatedModel, Stage } from "@timebox/core"
import { Effect, Layer, Schema } from "effect"
import { LanguageModel, Prompt, Tool, Toolkit } from "effect/ai"
import { sortNumbers } from "./stats.ts"

const instant: ModelProfile.ModelProfile = {
  ...ModelProfile.presets.fast,
  name: "instant",
  ttftMs: 0,
  ttftP95Ms: 0,
  tokensPerSecond: Number.POSITIVE_INFINITY,
  jitter: 0,
  expectedOutputTokens: 12
}

const LookupOrder = Tool.make("LookupOrder", {
  parameters: Schema.Struct({ id: Schema.String }),
  success: Schema.String
})
const SearchKb = Tool.make("SearchKb", {
  parameters: Schema.Struct({ query: Schema.String }),
  success: Schema.String
})
const Tools = Toolkit.make(LookupOrder, SearchKb)
const Handlers = Tools.toLayer({
  LookupOrder: ({ id }) => Effect.succeed(`order ${id}: shipped`),
  SearchKb: ({ query }) => Effect.succeed(`faq about ${query}`)
})

const model = SimulatedModel.layer({
  profile: instant,
  script: [{ calls: [{ name: "LookupOrder", params: { id: "A-1" } }, { name: "SearchKb", params: { query: "x" } }] }]
})

const services = Layer.mergeAll(model, Handlers)

const agent = Agent.make({
  name: "inference-bench",
  budget: "2 seconds",
  pipeline: Pipeline.make<string>().add(
    Stage.required(
      "inference",
      ({ input }) =>
        Effect.flatMap(Tools, (toolkit) =>
          Inference.run({
            prompt: input,
            models: instant,
            toolkit,
            toolAllocations: { LookupOrder: "250 millis", SearchKb: "250 millis" }
          })),
      { allocation: "1500 millis" }
    )
  )
})

const timeboxRun = (question: string) => Agent.run(agent, question).pipe(Effect.provide(services))

const directRun = (question: string) =>
  Effect.gen(function*() {
    const first = yield* LanguageModel.generateText({ prompt: question, toolkit: Tools })
    const prompt = Prompt.concat(Prompt.make(question), Prompt.fromResponseParts(first.content))
    return yield* LanguageModel.generateText({ prompt, toolkit: Tools })
  }).pipe(Effect.timeout("1500 millis"), Effect.provide(services))

/** Checks both paths do the work: two steps, two tool results. */
export const verify = async (): Promise<void> => {
  const result = await Effect.runPromise(timeboxRun("where is A-1?"))
  if (result.status !== "complete") throw new Error(`inference bench: timebox run ended ${result.status}`)
  if (result.output.steps !== 2 || result.output.toolResults.length !== 2) {
    throw new Error(`inference bench: expected 2 steps and 2 tool results, got ${result.output.steps}`)
  }
  const direct = await Effect.runPromise(directRun("where is A-1?"))
  if (direct.text.length === 0) throw new Error("inference bench: the direct call produced no text")
}

export interface InferenceCase {
  readonly timeboxUsPerRun: number
  readonly directUsPerRun: number
  readonly ratio: number
  readonly rounds: number
}

const measureFor = async (run: (q: string) => Promise<unknown>, ms: number): Promise<number> => {
  let runs = 0
  const start = performance.now()
  while (performance.now() - start < ms) {
    await run(`where is order #${runs % 64}?`)
    runs++
  }
  return ((performance.now() - start) * 1000) / runs
}

/** Median µs/run of each path over `rounds` rotating rounds of `roundMs`. */
export const measure = async (
  options: { readonly rounds: number; readonly roundMs: number }
): Promise<InferenceCase> => {
  const paths = {
    timebox: (q: string) => Effect.runPromise(timeboxRun(q)),
    direct: (q: string) => Effect.runPromise(directRun(q))
  }
  await measureFor(paths.timebox, 300)
  await measureFor(paths.direct, 300)
  const timebox: Array<number> = []
  const direct: Array<number> = []
  const ratios: Array<number> = []
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? (["timebox", "direct"] as const) : (["direct", "timebox"] as const)
    const figures: Record<string, number> = {}
    for (const name of order) figures[name] = await measureFor(paths[name], options.roundMs)
    timebox.push(figures.timebox!)
    direct.push(figures.direct!)
    ratios.push(figures.timebox! / figures.direct!)
  }
  const median = (values: ReadonlyArray<number>) => sortNumbers(values)[Math.floor(values.length / 2)]!
  return {
    timeboxUsPerRun: median(timebox),
    directUsPerRun: median(direct),
    ratio: median(ratios),
    rounds: options.rounds
  }
}
