/**
 * A research agent in three "pick two" profiles: `retrieval` (optional,
 * 600 ms: two indexes in parallel, 200–400 ms each when warm, 1.5 s when cold
 * and then cut at 500 ms), `inference` (required: a routed model that calls
 * three tools of 600–900 ms each and streams its answer), `verifier`
 * (optional, 600–1,200 ms, `full` only) and `assembly` (required). `full`
 * runs a reasoning model with dependent tool calls and the verifier in 12 s;
 * `fast-tools` a fast model with the three tools in parallel in 4 s;
 * `fast-small-toolset` a fast model with one tool in 4 s.
 *
 * @since 0.1.0
 */
import {
  Agent,
  type Budget,
  Inference,
  ModelProfile,
  Pipeline,
  Router,
  SimulatedModel,
  Simulation,
  Stage,
  type TimeboxError,
  ToolWindow
} from "@timebox/core"
import { type Config, Effect, Schema } from "effect"
import { type AiError, type Prompt, Tool, Toolkit } from "effect/ai"

// =============================================================================
// Latencies
// =============================================================================

/**
 * The simulated latency range of every index, tool call and stage, in
 * milliseconds: a warm index answers in 200–400 ms, a tool call takes
 * 600–900 ms, the verifier 600–1,200 ms. Each is drawn per seed through
 * `Clock` and can be forced by name (`--latency ReadPage=2s`).
 *
 * **Details**
 *
 * The ranges are chosen so that, for every seed, `full` completes in 12 s
 * and routes to the fast model in 3 s, and both fast profiles complete in
 * 4 s and stop before a second model step in 2 s (see the README).
 *
 * **Example** (The slowest tool call the simulation draws)
 *
 * ```ts
 * import { Agent, Simulation } from "@timebox/core"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const slowRead = Agent.run(ResearchAgent.agent, "Why do solid-state batteries fade?").pipe(
 *   Simulation.withLatencies({ ReadPage: ResearchAgent.latencies.ReadPage.max })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const latencies = {
  "papers-index": { min: 200, max: 400 },
  "wiki-index": { min: 200, max: 400 },
  WebSearch: { min: 600, max: 900 },
  ReadPage: { min: 600, max: 900 },
  QueryData: { min: 600, max: 900 },
  verifier: { min: 600, max: 1_200 },
  assembly: { min: 5, max: 15 }
} as const satisfies Record<string, Simulation.Range>

/**
 * The latency of a cold index, in milliseconds. An index is warm unless its
 * latency is forced: `--latency papers-index=1.5s` (or
 * `Simulation.withLatencies({ "papers-index": ResearchAgent.coldMillis })`)
 * makes it cold, and each index's 500 ms window then cuts it.
 *
 * **Example** (A cold paper index)
 *
 * ```ts
 * import { Agent, Simulation } from "@timebox/core"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const cold = Agent.run(ResearchAgent.agent, "Why do solid-state batteries fade?").pipe(
 *   Simulation.withLatencies({ "papers-index": ResearchAgent.coldMillis })
 * ) // partial: retrieval/papers-index timed-out (deadline)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const coldMillis = 1_500

// =============================================================================
// Tools
// =============================================================================

/**
 * Searches the web; answers with the addresses of the best hits.
 *
 * **Example** (A toolkit of one)
 *
 * ```ts
 * import { Toolkit } from "effect/ai"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const searchOnly = Toolkit.make(ResearchAgent.WebSearch)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const WebSearch = Tool.make("WebSearch", {
  description: "Search the web and return the addresses of the best hits",
  parameters: Schema.Struct({ query: Schema.String }),
  success: Schema.Array(Schema.String)
})

/**
 * Reads a page and extracts the passage that answers the question.
 *
 * **Example** (The tool's name, as the model sees it)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const name = ResearchAgent.ReadPage.name // "ReadPage"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ReadPage = Tool.make("ReadPage", {
  description: "Read a page and extract the passage that answers the question",
  parameters: Schema.Struct({ url: Schema.String }),
  success: Schema.String
})

/**
 * Queries a dataset of published measurements.
 *
 * **Example** (The tool's description)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const description = ResearchAgent.QueryData.description
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const QueryData = Tool.make("QueryData", {
  description: "Query a dataset of published measurements",
  parameters: Schema.Struct({ query: Schema.String }),
  success: Schema.String
})

/**
 * The three tools of `full` and `fast-tools`.
 *
 * **Example** (The tool names)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const names = Object.keys(ResearchAgent.tools.tools) // ["WebSearch", "ReadPage", "QueryData"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const tools = Toolkit.make(WebSearch, ReadPage, QueryData)

/**
 * The pruned toolset of `fast-small-toolset`: web search only.
 *
 * **Example** (The tool names)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const names = Object.keys(ResearchAgent.smallTools.tools) // ["WebSearch"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const smallTools = Toolkit.make(WebSearch)

// The first six words of the question, for simulated addresses and file names.
const slug = (text: string): string => text.toLowerCase().match(/[a-z0-9]+/g)?.slice(0, 6).join("-") ?? "question"

const handlers = {
  WebSearch: ({ query }: { readonly query: string }) =>
    Simulation.sleep("WebSearch", latencies.WebSearch).pipe(
      Effect.as([`https://example.org/review/${slug(query)}`, `https://example.org/survey/${slug(query)}`])
    ),
  ReadPage: ({ url }: { readonly url: string }) =>
    Simulation.sleep("ReadPage", latencies.ReadPage).pipe(
      Effect.as(`${url}: the effect is reproduced in 4 of 5 studies, with a median effect size of 0.3`)
    ),
  QueryData: ({ query }: { readonly query: string }) =>
    Simulation.sleep("QueryData", latencies.QueryData).pipe(
      Effect.as(`dataset rows matching "${query.slice(0, 40)}": 128, median 0.31, IQR 0.22–0.40`)
    )
}

/**
 * The handlers of the three tools: each sleeps its simulated latency through
 * `Clock`, then answers with canned text.
 *
 * **Example** (Calling a tool directly)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const hits = Effect.gen(function*() {
 *   const toolkit = yield* ResearchAgent.tools
 *   return yield* toolkit.handle("WebSearch", { query: "sodium batteries" })
 * }).pipe(Effect.provide(ResearchAgent.toolsLayer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const toolsLayer = tools.toLayer(handlers)

/**
 * The handler of the pruned toolset.
 *
 * **Example** (Providing the pruned toolset)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const toolkit = Effect.provide(ResearchAgent.smallTools, ResearchAgent.smallToolsLayer)
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const smallToolsLayer = smallTools.toLayer({ WebSearch: handlers.WebSearch })

// =============================================================================
// Profiles
// =============================================================================

/**
 * The name of a profile.
 *
 * **Example** (Validating a name from user input)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const isProfile = (name: string): name is ResearchAgent.ProfileName => name in ResearchAgent.agents
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ProfileName = "full" | "fast-tools" | "fast-small-toolset"

/**
 * One "pick two" architecture: its default budget, the models its router
 * chooses from (most capable first), its toolset, whether the verifier runs,
 * and the inference stage's allocation.
 *
 * **Example** (What a profile trades)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const describe = (profile: ResearchAgent.Profile): string =>
 *   `${profile.models.map((model) => model.name).join(" / ")} with ${profile.tools.length} tools` +
 *   (profile.verifier ? ", verified" : "")
 * describe(ResearchAgent.profiles.full) // "reasoning / fast with 3 tools, verified"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Profile {
  readonly name: ProfileName
  readonly description: string
  readonly budget: Budget.DurationText
  readonly models: ReadonlyArray<ModelProfile.ModelProfile>
  readonly tools: ReadonlyArray<"WebSearch" | "ReadPage" | "QueryData">
  readonly verifier: boolean
  readonly inferenceAllocation: Budget.DurationText
}

/**
 * The three profiles.
 *
 * - `full`: accuracy first. The reasoning model (fast as the router's fallback
 *   when its p95 step does not fit the window), the three tools called over
 *   two dependent steps, the verifier. 12 s.
 * - `fast-tools`: speed with breadth. The fast model calls the three tools in
 *   parallel in one step; no verifier. 4 s.
 * - `fast-small-toolset`: speed and cost. The fast model with web search
 *   only; no verifier. 4 s.
 *
 * **Example** (Default budgets)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const budgets = Object.values(ResearchAgent.profiles).map((profile) => `${profile.name}: ${profile.budget}`)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const profiles: { readonly [Name in ProfileName]: Profile & { readonly name: Name } } = {
  full: {
    name: "full",
    description: "reasoning model, three tools over two dependent steps, verifier; 12 s",
    budget: "12 seconds",
    models: [ModelProfile.presets.reasoning, ModelProfile.presets.fast],
    tools: ["WebSearch", "ReadPage", "QueryData"],
    verifier: true,
    inferenceAllocation: "10500 millis"
  },
  "fast-tools": {
    name: "fast-tools",
    description: "fast model, three tools in parallel, no verifier; 4 s",
    budget: "4 seconds",
    models: [ModelProfile.presets.fast],
    tools: ["WebSearch", "ReadPage", "QueryData"],
    verifier: false,
    inferenceAllocation: "3 seconds"
  },
  "fast-small-toolset": {
    name: "fast-small-toolset",
    description: "fast model, web search only, no verifier; 4 s",
    budget: "4 seconds",
    models: [ModelProfile.presets.fast],
    tools: ["WebSearch"],
    verifier: false,
    inferenceAllocation: "3 seconds"
  }
}

/**
 * Each tool call's own allocation inside the inference window: 1 s, above
 * the slowest simulated call (900 ms), so only a slow or forced call, or a
 * short window, cuts one.
 *
 * **Example** (A slow page read is cut at 1 s)
 *
 * ```ts
 * import { Agent, Simulation } from "@timebox/core"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const cut = Agent.run(ResearchAgent.agents["fast-tools"], "Why do solid-state batteries fade?").pipe(
 *   Simulation.withLatencies({ ReadPage: 2_000 })
 * ) // ReadPage timed-out at ResearchAgent.toolAllocations.ReadPage; the model reads "skipped: deadline"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const toolAllocations = {
  WebSearch: "1 second",
  ReadPage: "1 second",
  QueryData: "1 second"
} as const satisfies Record<string, Budget.Allocation>

/**
 * The tool script of a simulated model: a reasoning model searches the web
 * and the dataset in parallel, then reads the best hit (two dependent
 * steps); a fast model asks for all three at once. Calls to tools the
 * profile does not offer are dropped by the model.
 *
 * **Example** (The fast model's single step)
 *
 * ```ts
 * import { ModelProfile } from "@timebox/core"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const steps = ResearchAgent.script(ModelProfile.presets.fast, "Why do batteries fade?").length // 1
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const script = (
  model: ModelProfile.ModelProfile,
  question: string
): ReadonlyArray<SimulatedModel.ScriptStep> => {
  const search = { name: "WebSearch", params: { query: question } }
  const data = { name: "QueryData", params: { query: question } }
  const read = { name: "ReadPage", params: { url: `https://example.org/review/${slug(question)}` } }
  return model.reasoningMs > 0 ? [{ calls: [search, data] }, { calls: [read] }] : [{ calls: [search, data, read] }]
}

/**
 * The simulated router of a profile for one question: one simulated model per
 * candidate, with its tool script. A fast model writes short answers (64
 * tokens, where its profile budgets 110: the router and the step check stay
 * on the safe side). Every model's latency can be forced under the name
 * `inference` (`--latency inference=2s` forces each model call).
 *
 * **Example** (Which model 3 s leaves room for)
 *
 * ```ts
 * import { Router } from "@timebox/core"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const router = ResearchAgent.router(ResearchAgent.profiles.full, "Why do batteries fade?")
 * Router.choose(router, 2_500).chosen.profile.name // "fast": reasoning's p95 step (≈ 3.5 s) does not fit
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const router = (profile: Profile, question: string): Router.Router =>
  Router.make(profile.models.map((model) => ({
    profile: model,
    layer: SimulatedModel.layer({
      profile: model,
      script: script(model, question),
      latencyKey: "inference",
      outputTokens: model.reasoningMs > 0 ? undefined : 64
    })
  })))

// =============================================================================
// Stages
// =============================================================================

/**
 * What the two indexes returned; an index that was cut or skipped returns
 * nothing.
 *
 * **Example** (Was anything retrieved?)
 *
 * ```ts
 * import type { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const grounded = (retrieved: ResearchAgent.Retrieved): boolean =>
 *   retrieved.papers.length + retrieved.wiki.length > 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Retrieved {
  readonly papers: ReadonlyArray<string>
  readonly wiki: ReadonlyArray<string>
}

/**
 * What the verifier concluded; `checked` is false when it did not run (or
 * the profile has none), and `note` says why.
 *
 * **Example** (A line for the answer)
 *
 * ```ts
 * import type { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const line = (verdict: ResearchAgent.Verdict): string => (verdict.checked ? "verified" : verdict.note)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Verdict {
  readonly checked: boolean
  readonly note: string
}

/**
 * The agent's answer: the text, the model that wrote it and why it stopped,
 * the sources, one note per tool call, and the verification.
 *
 * **Example** (The reply, flagged when unverified)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const reply = Effect.map(Agent.run(ResearchAgent.agent, "Why do batteries fade?"), (result) =>
 *   result.output === null
 *     ? "Out of time."
 *     : `${result.output.answer}${result.output.verification.checked ? "" : " (unverified)"}`)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Answer {
  readonly profile: ProfileName
  readonly answer: string
  readonly model: string
  readonly stopReason: Inference.StopReason
  readonly sources: ReadonlyArray<string>
  readonly toolNotes: ReadonlyArray<string>
  readonly verification: Verdict
}

const noRetrieval: Retrieved = { papers: [], wiki: [] }

const index = (name: "papers-index" | "wiki-index", found: (question: string) => ReadonlyArray<string>) =>
  Stage.optional(
    name,
    (question: string) => Simulation.sleep(name, latencies[name]).pipe(Effect.map(() => found(question))),
    // Above the slowest warm answer (400 ms), far below a cold one (1.5 s).
    { allocation: "500 millis", fallback: () => [] }
  )

const papersIndex = index("papers-index", (question) => [
  `papers/${slug(question)}-meta-analysis.pdf`,
  `papers/${slug(question)}-replication.pdf`
])

const wikiIndex = index("wiki-index", (question) => [`wiki/${slug(question)}.md`])

const retrieval = Stage.optional(
  "retrieval",
  ({ input }: { readonly input: string }) =>
    Effect.all(
      { papers: Stage.run(papersIndex, input), wiki: Stage.run(wikiIndex, input) },
      { concurrency: "unbounded" }
    ),
  { allocation: "600 millis", minUseful: "100 millis", fallback: () => noRetrieval }
)

const promptFor = (question: string, retrieved: Retrieved): Prompt.RawInput => [
  {
    role: "system",
    content: "You are a research assistant. Answer from the sources and the tools, and say how sure you are. " +
      `Sources: ${[...retrieved.papers, ...retrieved.wiki].join(", ") || "none"}.`
  },
  { role: "user", content: question }
]

// `Inference.run` leaves its requirements open: the models come from the
// router's layers and the tool handlers are provided here, so nothing is left.
const infer = (
  profile: Profile,
  question: string,
  retrieved: Retrieved
): Effect.Effect<Inference.Result, AiError.AiError | TimeboxError.TimeboxError | Config.ConfigError> => {
  const small = profile.tools.length === 1
  return Effect.gen(function*() {
    // TIMEBOX_MODEL=openai:<model> swaps in a real model; the simulated router is the default.
    const models = yield* Router.fromEnvironment(router(profile, question))
    const toolkit = small ? yield* smallTools : yield* tools
    return yield* Inference.run({
      prompt: promptFor(question, retrieved),
      models,
      toolkit,
      toolAllocations,
      maxSteps: 4,
      stream: true
    })
  }).pipe(Effect.provide(small ? smallToolsLayer : toolsLayer)) as Effect.Effect<
    Inference.Result,
    AiError.AiError | TimeboxError.TimeboxError | Config.ConfigError
  >
}

const inference = (profile: Profile) =>
  Stage.required(
    "inference",
    ({ input, retrieval: retrieved }: { readonly input: string; readonly retrieval: Retrieved }) =>
      infer(profile, input, retrieved),
    // Below 1.2 s not even one fast step and its tools fit.
    { allocation: profile.inferenceAllocation, minUseful: "1200 millis" }
  )

const verifier = Stage.optional(
  "verifier",
  ({ inference: result }: { readonly inference: Inference.Result }) =>
    Simulation.sleep("verifier", latencies.verifier).pipe(
      Effect.map((): Verdict => ({
        checked: true,
        note: `verified against ${result.toolResults.filter(ToolWindow.isCompleted).length} tool results`
      }))
    ),
  // It starts only when its slowest pass (1.2 s) fits with 100 ms to spare: under pressure it is
  // skipped, never cut half-way.
  {
    allocation: "1500 millis",
    minUseful: "1300 millis",
    fallback: (_, outcome): Verdict => ({ checked: false, note: `not verified (${outcome.status}: ${outcome.reason})` })
  }
)

const answerText = (result: Inference.Result): string => {
  if (result.text !== "") return result.text
  const found = result.toolResults.filter(ToolWindow.isCompleted).map((entry) =>
    typeof entry.value === "string"
      ? entry.value
      : Array.isArray(entry.value)
      ? entry.value.join(", ")
      : JSON.stringify(entry.value)
  )
  return `No time for the model's final step (${result.stopReason}); from the tools: ${found.join("; ") || "nothing"}.`
}

const assembly = (profile: Profile) =>
  Stage.required(
    "assembly",
    ({ inference: result, retrieval: retrieved, verifier: verdict }: {
      readonly retrieval: Retrieved
      readonly inference: Inference.Result
      readonly verifier?: Verdict
    }) =>
      Simulation.sleep("assembly", latencies.assembly).pipe(
        Effect.as<Answer>({
          profile: profile.name,
          answer: answerText(result),
          model: result.model,
          stopReason: result.stopReason,
          sources: [...retrieved.papers, ...retrieved.wiki],
          toolNotes: result.toolResults.map((entry) =>
            entry._tag === "Completed" ? `${entry.name}: ok` : `${entry.name}: ${entry.note}`
          ),
          verification: verdict ?? { checked: false, note: `no verifier in ${profile.name}` }
        })
      ),
    { allocation: "50 millis", minUseful: "20 millis" }
  )

// =============================================================================
// Agents
// =============================================================================

/**
 * The pipeline of a profile: retrieval (papers-index ∥ wiki-index) →
 * inference (tool calls as its children) → verifier (`full` only) →
 * assembly.
 *
 * **Example** (The stages of each profile)
 *
 * ```ts
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * ResearchAgent.pipeline(ResearchAgent.profiles.full).stages.map((stage) => stage.name)
 * // ["retrieval", "inference", "verifier", "assembly"]
 * ResearchAgent.pipeline(ResearchAgent.profiles["fast-tools"]).stages.map((stage) => stage.name)
 * // ["retrieval", "inference", "assembly"]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const pipeline = (profile: Profile): Pipeline.Pipeline<string, unknown, Answer, never> => {
  const base = Pipeline.make<string>().add(retrieval).add(inference(profile))
  return profile.verifier ? base.add(verifier).add(assembly(profile)) : base.add(assembly(profile))
}

const make = (profile: Profile): Agent.Agent<string, Answer> =>
  Agent.make({
    name: "research-agent",
    description: `Research (${profile.name}): ${profile.description}`,
    budget: profile.budget,
    pipeline: pipeline(profile)
  })

/**
 * One agent per profile, by name; the CLI's `--profile` picks among them.
 *
 * **Example** (The three architectures on one question)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Agent } from "@timebox/core"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const compare = Effect.forEach(Object.values(ResearchAgent.agents), (agent) =>
 *   Agent.run(agent, "Why do solid-state batteries fade?", { budget: "4 seconds" }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const agents: { readonly [Name in ProfileName]: Agent.Agent<string, Answer> } = {
  full: make(profiles.full),
  "fast-tools": make(profiles["fast-tools"]),
  "fast-small-toolset": make(profiles["fast-small-toolset"])
}

/**
 * The default agent: the `full` profile, 12 s.
 *
 * **Example** (Routing to the fast model under a 3 s budget)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 * import { ResearchAgent } from "@timebox/example-research-agent"
 *
 * const result = Agent.run(ResearchAgent.agent, "Why do solid-state batteries fade?", { budget: "3 seconds" })
 * // partial: inference routed to "fast" (most-capable-that-fits), verifier skipped (insufficient-budget)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const agent: Agent.Agent<string, Answer> = agents.full
