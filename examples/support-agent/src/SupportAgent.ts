/**
 * A customer-support agent with a 2 s budget: `auth` (required, 10 ms),
 * `context` (optional, 150 ms: conversation history 40% and required within
 * it, RAG 50% and dropped below 20 ms, user profile 30%), `inference`
 * (required, 1,400 ms), `tools` (optional, 300 ms: order lookup and
 * knowledge-base search in parallel) and `assembly` (required, 20 ms).
 * Latencies are simulated from seeded ranges through `Clock`, and any stage's
 * latency can be forced with `Simulation.withLatencies`.
 *
 * @since 0.1.0
 */
import { Agent, Inference, ModelProfile, Pipeline, Router, Simulation, Stage, ToolWindow } from "@timebox/core"
import { Effect } from "effect"
import type { Prompt } from "effect/ai"

/**
 * The simulated latency range of every stage and tool call, in milliseconds,
 * chosen inside typical production ranges (auth 2–10 ms, retrieval 20–200 ms,
 * time to first token 200–2,000 ms, a tool call 50–500 ms, assembly 5–20 ms)
 * so that with every seed a 2 s budget completes, 700 ms ends partial with
 * the knowledge-base search cut, and 100 ms fails.
 *
 * **Example** (A worst-case run: the slowest inference the simulation draws)
 *
 * ```ts
 * import { Agent, Simulation } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const worstCase = Agent.run(SupportAgent.agent, "Where is my order?").pipe(
 *   Simulation.withLatencies({ inference: SupportAgent.latencies.inference.max })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const latencies = {
  auth: { min: 2, max: 5 },
  history: { min: 10, max: 30 },
  rag: { min: 20, max: 55 },
  profile: { min: 5, max: 25 },
  inference: { min: 500, max: 600 },
  "order-lookup": { min: 100, max: 200 },
  "kb-search": { min: 170, max: 260 },
  assembly: { min: 5, max: 9 }
} as const satisfies Record<string, Simulation.Range>

/**
 * The caller, once authenticated.
 *
 * **Example** (Greeting by tier)
 *
 * ```ts
 * import type { SupportAgent } from "@timebox/example-support-agent"
 *
 * const greeting = (session: SupportAgent.Session): string =>
 *   session.tier === "priority" ? `Priority line for ${session.userId}` : `Hello ${session.userId}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Session {
  readonly userId: string
  readonly tier: "standard" | "priority"
}

/**
 * What the context stage gathered; each part may be empty when dropped.
 *
 * **Example** (Was the answer grounded in anything?)
 *
 * ```ts
 * import type { SupportAgent } from "@timebox/example-support-agent"
 *
 * const grounded = (context: SupportAgent.Context): boolean =>
 *   context.documents.length > 0 || context.history.length > 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Context {
  readonly history: ReadonlyArray<string>
  readonly documents: ReadonlyArray<string>
  readonly profile: { readonly name: string; readonly plan: string } | null
}

/**
 * The model's draft and the tool calls it asked for.
 *
 * **Example** (A draft about an order)
 *
 * ```ts
 * import type { SupportAgent } from "@timebox/example-support-agent"
 *
 * const draft: SupportAgent.Draft = { text: "Sorry about the wait.", orderId: "A-1666" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Draft {
  readonly text: string
  readonly orderId: string
}

/**
 * The agent's answer, with the tool results it used or the notes saying why
 * it has none.
 *
 * **Example** (The reply a chat widget shows)
 *
 * ```ts
 * import { Effect } from "effect"
import type { Prompt } from "effect/ai"
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const reply = Effect.map(
 *   Agent.run(SupportAgent.agent, "Where is my order?"),
 *   (result) => result.output === null ? "Sorry, we ran out of time." : result.output.answer
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Answer {
  readonly answer: string
  readonly sources: ReadonlyArray<string>
  readonly toolNotes: ReadonlyArray<string>
}

const emptyContext: Context = { history: [], documents: [], profile: null }

const auth = Stage.required(
  "auth",
  ({ input }: { readonly input: string }) =>
    Simulation.sleep("auth", latencies.auth).pipe(
      Effect.as<Session>({ userId: `user-${input.length % 97}`, tier: input.length > 40 ? "priority" : "standard" })
    ),
  { allocation: "10 millis", minUseful: "2 millis" }
)

const history = Stage.required(
  "history",
  (session: Session) =>
    Simulation.sleep("history", latencies.history).pipe(
      Effect.as([`${session.userId}: my order has not arrived`, "agent: let me check that for you"])
    ),
  { allocation: "40%" }
)

const rag = Stage.optional(
  "rag",
  (question: string) =>
    Simulation.sleep("rag", latencies.rag).pipe(
      Effect.as([`kb/shipping-delays.md (matched "${question.slice(0, 24)}")`, "kb/refund-policy.md"])
    ),
  { allocation: "50%", minUseful: "20 millis", fallback: () => [] }
)

const profile = Stage.optional(
  "profile",
  (session: Session) =>
    Simulation.sleep("profile", latencies.profile).pipe(
      Effect.as({ name: "Ada", plan: session.tier === "priority" ? "business" : "personal" })
    ),
  { allocation: "30%", fallback: () => null }
)

const context = Stage.optional(
  "context",
  ({ input, auth: session }: { readonly input: string; readonly auth: Session }) =>
    Effect.all(
      { history: Stage.run(history, session), documents: Stage.run(rag, input), profile: Stage.run(profile, session) },
      { concurrency: "unbounded" }
    ),
  { allocation: "150 millis", fallback: () => emptyContext }
)

/**
 * The profile of the support agent's model: a small, fast model whose calls
 * take 506–594 ms (first token 330 ms ± 8%, then 55 tokens at 250 tokens/s),
 * priced like the fast preset.
 *
 * **Example** (Its expected latency)
 *
 * ```ts
 * import { ModelProfile } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * ModelProfile.expectedMs(SupportAgent.model) // 550
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const model: ModelProfile.ModelProfile = {
  ...ModelProfile.presets.fast,
  name: "support-small",
  ttftMs: 330,
  ttftP95Ms: 360,
  tokensPerSecond: 250,
  jitter: 0.08,
  expectedOutputTokens: 55,
  maxOutputTokens: 256
}

/**
 * The embedded default: the simulated `support-small` model. Its latency can be
 * forced like a stage's, under the name `inference` (`--latency inference=1.6s`).
 *
 * **Example** (Choosing for a 1.4 s window)
 *
 * ```ts
 * import { Router } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const choice = Router.choose(SupportAgent.router, 1_400) // support-small, most-capable-that-fits
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const router = Router.simulated([model], { latencyKey: "inference" })

const prompt = (input: string, gathered: Context): Prompt.RawInput => [
  {
    role: "system",
    content: `You are a support agent. Customer: ${gathered.profile?.name ?? "unknown"}. ` +
      `Conversation so far: ${gathered.history.join(" | ") || "none"}. ` +
      `Documents: ${gathered.documents.join(", ") || "none"}.`
  },
  { role: "user", content: input }
]

const inference = Stage.required(
  "inference",
  ({ input, context: gathered }: { readonly input: string; readonly context: Context }) =>
    Effect.gen(function*() {
      // TIMEBOX_MODEL=openai:<model> swaps in a real model; the simulated one is the default.
      const models = yield* Router.fromEnvironment(router, model)
      const result = yield* Inference.run({ prompt: prompt(input, gathered), models, stream: true })
      return {
        text: `Sorry about the wait${gathered.profile === null ? "" : `, ${gathered.profile.name}`}. ` +
          `${
            gathered.documents.length > 0
              ? "Our shipping notes say delays clear within 48 hours."
              : "I checked our records."
          } ${result.text}`,
        orderId: `A-${1000 + (input.length * 37) % 9000}`
      } satisfies Draft
    }),
  { allocation: "1400 millis", minUseful: "200 millis" }
)

const tools = Stage.optional(
  "tools",
  ({ inference: draft }: { readonly inference: Draft }) =>
    ToolWindow.parallel([
      ToolWindow.call(
        "order-lookup",
        Simulation.sleep("order-lookup", latencies["order-lookup"]).pipe(
          Effect.as(`order ${draft.orderId}: shipped, arriving tomorrow`)
        ),
        { allocation: "250 millis" }
      ),
      ToolWindow.call(
        "kb-search",
        Simulation.sleep("kb-search", latencies["kb-search"]).pipe(Effect.as("faq/where-is-my-order (score 0.92)")),
        { allocation: "280 millis" }
      )
    ]),
  // Keep 30 ms back for assembly (its minUseful is 10 ms): the extra 20 ms absorb a late hand-over
  // when the tools are cut at their deadline on a loaded machine.
  { allocation: "300 millis", minUseful: "50 millis", reserve: "30 millis", fallback: () => [] }
)

const assembly = Stage.required(
  "assembly",
  (
    { context: gathered, inference: draft, tools: results }: {
      readonly context: Context
      readonly inference: Draft
      readonly tools: ReadonlyArray<ToolWindow.ToolResult<string>>
    }
  ) =>
    Simulation.sleep("assembly", latencies.assembly).pipe(
      Effect.as<Answer>({
        answer: [draft.text, ...results.filter(ToolWindow.isCompleted).map((result) => result.value)].join(" "),
        sources: gathered.documents,
        toolNotes: results.map((result) =>
          result._tag === "Completed" ? `${result.name}: ok` : `${result.name}: ${result.note}`
        )
      })
    ),
  { allocation: "20 millis", minUseful: "10 millis" }
)

/**
 * The pipeline: auth → context (history ∥ rag ∥ profile) → inference →
 * tools (order-lookup ∥ kb-search) → assembly.
 *
 * **Gotchas**
 *
 * Inference's allocation is 1,400 ms, so an agent made over this pipeline
 * with a budget under 1.4 s fails `Agent.validate`. To run it with less time,
 * pass `budget` to `Agent.run` instead.
 *
 * **Example** (The stages and what each keeps back)
 *
 * ```ts
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * SupportAgent.pipeline.stages.map((stage) => stage.name) // ["auth", "context", "inference", "tools", "assembly"]
 * SupportAgent.pipeline.reserves // [210, 210, 10, 10, 0]: the minUseful of inference and assembly
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const pipeline = Pipeline.make<string>()
  .add(auth)
  .add(context)
  .add(inference)
  .add(tools)
  .add(assembly)

/**
 * The support agent, 2 s by default.
 *
 * **Example** (Running it with a tighter budget)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 * import { SupportAgent } from "@timebox/example-support-agent"
 *
 * const result = Agent.run(SupportAgent.agent, "Where is my order?", { budget: "700 millis" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const agent = Agent.make({
  name: "support-agent",
  description: "Customer support: auth, context (history, RAG, profile), inference, tools, assembly in 2 s",
  budget: "2 seconds",
  pipeline
})
