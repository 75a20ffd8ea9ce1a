/**
 * The embedded default model: a `LanguageModel` that runs offline,
 * deterministic for a seed and a prompt, whose time to first token, tokens per
 * second, jitter and hidden reasoning follow a `ModelProfile` through `Clock`
 * (so it runs under `TestClock` and in real time alike). It streams real text
 * token by token, reports token usage like any `effect/ai` provider, and emits
 * tool calls from a small declarative script, so tool loops run for real.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Layer, Stream } from "effect"
import { LanguageModel, Model, type Prompt, type Response } from "effect/ai"
import * as ModelProfile from "./ModelProfile.ts"
import * as Simulation from "./Simulation.ts"

/**
 * One step of a tool script: the calls the model makes at that step (they
 * come in one response, so they are independent and may run in parallel).
 * The step after the last scripted one answers in text.
 *
 * **Example** (Search and look up in parallel, then fetch what search found)
 *
 * ```ts
 * import type { SimulatedModel } from "@timebox/core"
 *
 * const script: ReadonlyArray<SimulatedModel.ScriptStep> = [
 *   { calls: [{ name: "Search", params: { query: "refunds" } }, { name: "LookupOrder", params: { id: "A-1" } }] },
 *   { calls: [{ name: "Fetch", params: { url: "kb/refunds.md" } }] }
 * ]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ScriptStep {
  readonly calls: ReadonlyArray<{ readonly name: string; readonly params: unknown }>
}

/**
 * The options of a simulated model.
 *
 * **Example** (The fast preset with a one-step tool script)
 *
 * ```ts
 * import { ModelProfile, type SimulatedModel } from "@timebox/core"
 *
 * const options: SimulatedModel.Options = {
 *   profile: ModelProfile.presets.fast,
 *   script: [{ calls: [{ name: "LookupOrder", params: { id: "A-1" } }] }]
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly profile: ModelProfile.ModelProfile
  /** Tool calls per step, used when the request offers tools. */
  readonly script?: ReadonlyArray<ScriptStep> | undefined
  /**
   * The `Simulation.Overrides` key that forces this model's total latency per
   * call (`--latency <key>=<duration>`).
   * @default the profile's name
   */
  readonly latencyKey?: string | undefined
  /**
   * Visible output tokens of a text answer.
   * @default the profile's `expectedOutputTokens`
   */
  readonly outputTokens?: number | undefined
}

const sentences = [
  "I looked into this for you",
  "the order left our warehouse yesterday and is with the carrier",
  "delivery is expected within two business days",
  "a refund is issued automatically if the parcel is lost",
  "you can follow the parcel from the link in your confirmation email",
  "our records show no problem with the payment",
  "the knowledge base covers this case in detail",
  "I can open a ticket with the carrier if it has not arrived by Friday",
  "the item is covered by the standard thirty day return policy",
  "nothing else is needed from you at this point"
]

const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

const promptText = (prompt: Prompt.Prompt): string => {
  let text = ""
  for (const message of prompt.content) {
    if (typeof message.content === "string") text += message.content
    else {
      for (const part of message.content) {
        if (part.type === "text") text += part.text
        else if (part.type === "tool-result") text += JSON.stringify(part.result)
      }
    }
  }
  return text
}

/** The step of the conversation: how many tool turns the prompt already holds. */
const stepOf = (prompt: Prompt.Prompt): number => prompt.content.filter((message) => message.role === "tool").length

interface Plan {
  readonly beforeFirstMs: number
  readonly perTokenMs: number
  readonly tokens: ReadonlyArray<string>
  readonly calls: ReadonlyArray<{ readonly name: string; readonly params: unknown }>
  readonly usage: Response.FinishPartEncoded["usage"]
  /** Stopped at the output limit before the text it would have written. */
  readonly truncated: boolean
}

const plan = (options: Options, request: LanguageModel.ProviderOptions): Effect.Effect<Plan> =>
  Effect.gen(function*() {
    const profile = options.profile
    const seed = yield* Simulation.Seed
    const overrides = yield* Simulation.Overrides
    const text = promptText(request.prompt)
    const step = stepOf(request.prompt)
    const key = `${profile.name}:${hash(text)}:${step}`
    const jittered = (ms: number, salt: string) =>
      ms * (1 + profile.jitter * (2 * Simulation.uniform(seed, `${key}:${salt}`) - 1))
    const offered = new Set(request.tools.map((tool) => tool.name))
    const scripted = options.script?.[step]?.calls.filter((call) => offered.has(call.name)) ?? []
    // what the caller lets one call produce (`ModelProfile.OutputLimit`), reasoning included: a provider stops there
    const limit = (yield* ModelProfile.OutputLimit) ?? Number.POSITIVE_INFINITY
    const reasoningTokens = Math.min(profile.reasoningTokens, limit)
    const wanted = scripted.length > 0 ? 0 : (options.outputTokens ?? profile.expectedOutputTokens)
    const visible = Math.max(0, Math.min(wanted, limit - reasoningTokens - scripted.length * 20))
    const truncated = visible < wanted
    const tokens: Array<string> = []
    let sentence = 0
    while (tokens.length < visible) {
      const pick = sentences[Math.floor(Simulation.uniform(seed, `${key}:s${sentence++}`) * sentences.length)]!
      const parts = pick.split(" ")
      for (let i = 0; i < parts.length && tokens.length < visible; i++) {
        const word = i === 0 ? parts[i]!.charAt(0).toUpperCase() + parts[i]!.slice(1) : parts[i]!
        tokens.push(tokens.length === 0 ? word : ` ${word}`)
      }
      if (tokens.length < visible) tokens[tokens.length - 1] += "."
    }
    if (tokens.length > 0 && !tokens[tokens.length - 1]!.endsWith(".")) tokens[tokens.length - 1] += "."
    const callTokens = Math.min(scripted.length * 20, limit - reasoningTokens)
    let beforeFirstMs = jittered(profile.reasoningMs, "reasoning") + jittered(profile.ttftMs, "ttft")
    let perTokenMs = jittered(1000 / profile.tokensPerSecond, "tps")
    const forced = overrides.get(options.latencyKey ?? profile.name)
    if (forced !== undefined) {
      // A forced total: 40% to the first token, the rest spread over the tokens after it.
      const later = tokens.length - 1
      beforeFirstMs = later > 0 ? forced * 0.4 : forced
      perTokenMs = later > 0 ? (forced * 0.6) / later : 0
    }
    const inputTokens = Math.ceil(text.length / 4)
    const outputTokens = tokens.length + callTokens
    return {
      beforeFirstMs,
      perTokenMs,
      tokens,
      calls: scripted,
      usage: {
        inputTokens: { total: inputTokens, uncached: inputTokens, cacheRead: 0, cacheWrite: 0 },
        outputTokens: {
          total: outputTokens + reasoningTokens,
          text: outputTokens,
          reasoning: reasoningTokens
        }
      },
      truncated
    }
  })

/** Sleeps through `Clock`; a zero-latency profile does not touch the timer at all. */
const wait = (ms: number): Effect.Effect<void> => (ms > 0 ? Effect.sleep(ms) : Effect.void)

const callParts = (calls: Plan["calls"], step: number): Array<Response.ToolCallPartEncoded> =>
  calls.map((call, index) => ({ type: "tool-call", id: `call_${step}_${index}`, name: call.name, params: call.params }))

const finish = (current: Plan): Response.FinishPartEncoded => ({
  type: "finish",
  reason: current.truncated ? "length" : current.calls.length > 0 ? "tool-calls" : "stop",
  usage: current.usage
})

/**
 * A simulated `LanguageModel` service.
 *
 * **Details**
 *
 * A call waits `reasoningMs + ttftMs` (each ± jitter, seeded by the seed, the
 * prompt and the step) before its first visible token, then one token every
 * `1000 / tokensPerSecond` ms. With the same `Simulation.Seed` and prompt, the
 * text, the tool calls and the timings are the same every time. Like a
 * provider, it stops at `ModelProfile.OutputLimit` (reasoning tokens
 * included; `Inference.run` sets it to what a guard reserved), finishing
 * with the reason `length`.
 *
 * **Example** (Generating text under TestClock)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { ModelProfile, SimulatedModel } from "@timebox/core"
 *
 * const program = LanguageModel.generateText({ prompt: "Where is my order?" }).pipe(
 *   Effect.provide(SimulatedModel.layer({ profile: ModelProfile.presets.fast }))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<LanguageModel.LanguageModel> =>
  LanguageModel.make({
    generateText: (request) =>
      Effect.gen(function*() {
        const current = yield* plan(options, request)
        yield* wait(current.beforeFirstMs + current.perTokenMs * Math.max(0, current.tokens.length - 1))
        const parts: Array<Response.PartEncoded> = current.tokens.length > 0
          ? [{ type: "text", text: current.tokens.join("") }]
          : []
        parts.push(...callParts(current.calls, stepOf(request.prompt)), finish(current))
        return parts
      }),
    streamText: (request) =>
      Stream.unwrap(Effect.gen(function*() {
        const current = yield* plan(options, request)
        const clock = yield* Clock.Clock
        // Tokens are scheduled against the call's start, so a late timer delays one token, not all the later ones.
        const started = clock.currentTimeMillisUnsafe()
        const until = (offsetMs: number) =>
          Effect.suspend(() => wait(started + offsetMs - clock.currentTimeMillisUnsafe()))
        const id = `text_${stepOf(request.prompt)}`
        const start: Array<Response.StreamPartEncoded> = current.tokens.length > 0 ? [{ type: "text-start", id }] : []
        const first = Stream.fromEffect(until(current.beforeFirstMs)).pipe(
          Stream.drain,
          Stream.concat(Stream.fromIterable(start))
        )
        // The first token arrives at the time to first token, each later one a token interval after it.
        const deltas = Stream.fromIterable(current.tokens.map((delta, index) => ({ delta, index }))).pipe(
          Stream.mapEffect(({ delta, index }) =>
            Effect.as(
              until(current.beforeFirstMs + index * current.perTokenMs),
              { type: "text-delta", id, delta } as Response.StreamPartEncoded
            )
          )
        )
        const end: Array<Response.StreamPartEncoded> = current.tokens.length > 0 ? [{ type: "text-end", id }] : []
        const rest: Array<Response.StreamPartEncoded> = [
          ...end,
          ...callParts(current.calls, stepOf(request.prompt)),
          finish(current)
        ]
        return first.pipe(Stream.concat(deltas), Stream.concat(Stream.fromIterable(rest)))
      }))
  })

/**
 * A layer providing the simulated model as `LanguageModel`.
 *
 * **Example** (The default model of an agent)
 *
 * ```ts
 * import { ModelProfile, SimulatedModel } from "@timebox/core"
 *
 * const ModelLive = SimulatedModel.layer({ profile: ModelProfile.presets.balanced })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<LanguageModel.LanguageModel> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))

/**
 * The simulated model as an `effect/ai` `Model` (provider `"simulated"`, named
 * after its profile), for `ExecutionPlan`s and `Model.ModelName`.
 *
 * **Example** (A fallback plan)
 *
 * ```ts
 * import { Effect, ExecutionPlan } from "effect"
 * import { ModelProfile, SimulatedModel } from "@timebox/core"
 *
 * const plan = ExecutionPlan.make(
 *   { provide: SimulatedModel.model({ profile: ModelProfile.presets.large }) },
 *   { provide: SimulatedModel.model({ profile: ModelProfile.presets.fast }) }
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const model = (options: Options) => Model.make("simulated", options.profile.name, layer(options))
