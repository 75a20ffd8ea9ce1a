/**
 * A `LanguageModel` over any OpenAI-compatible chat-completions endpoint
 * (OpenAI, vLLM, Ollama, LM Studio, OpenRouter, …), on `effect/http`'s
 * `HttpClient`; selected by `TIMEBOX_MODEL=openai:<model>`.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, Option, type Redacted, Schema } from "effect"
import { LanguageModel, Model } from "effect/ai"
import { HttpClient } from "effect/http"
import * as internal from "./internal/openAiCompatible.ts"

// =============================================================================
// Models
// =============================================================================

/**
 * How to reach one model.
 *
 * **Example** (A local vLLM server without a key)
 *
 * ```ts
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const options: OpenAiCompatible.Options = { model: "qwen2.5-7b-instruct", baseUrl: "http://127.0.0.1:8000/v1" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The model name sent as `model`, e.g. `"gpt-4o-mini"`. */
  readonly model: string
  /**
   * Sent as `Authorization: Bearer <key>`.
   * @default no `Authorization` header (local servers need none)
   */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /**
   * The API root; requests go to `${baseUrl}/chat/completions`.
   * @default "https://api.openai.com/v1"
   */
  readonly baseUrl?: string | undefined
  /**
   * The body field that asks the model to stop at `ModelProfile.OutputLimit`
   * (set by `Inference.run` to the worst case a `Guard` reserved):
   * `"max_tokens"`, which most OpenAI-compatible servers read, or
   * `"max_completion_tokens"`, which OpenAI's reasoning models require.
   * @default "max_tokens"
   */
  readonly outputLimitField?: "max_tokens" | "max_completion_tokens" | undefined
}

/**
 * The provider name this module reports through `Model.ProviderName`.
 *
 * **Example** (Which provider answered)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Model } from "effect/ai"
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const isReal = Effect.map(Model.ProviderName, (name) => name === OpenAiCompatible.providerName)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const providerName = "openai-compatible" as const

/**
 * The API root used when `OPENAI_BASE_URL` and `Options.baseUrl` are unset.
 *
 * **Example** (OpenAI itself)
 *
 * ```ts
 * import { Redacted } from "effect"
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const options: OpenAiCompatible.Options = {
 *   model: "gpt-4o-mini",
 *   apiKey: Redacted.make("sk-…"),
 *   baseUrl: OpenAiCompatible.defaultBaseUrl
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const defaultBaseUrl = "https://api.openai.com/v1"

/**
 * The layer of one model: `LanguageModel` plus `Model.ProviderName` and
 * `Model.ModelName`; it needs an `HttpClient`.
 *
 * **Example** (Keeping a configured model in a variable)
 *
 * ```ts
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const fast: OpenAiCompatible.ModelLayer = OpenAiCompatible.layer({ model: "gpt-4o-mini" })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ModelLayer = Model.Model<typeof providerName, LanguageModel.LanguageModel, HttpClient.HttpClient>

// =============================================================================
// Constructors
// =============================================================================

/**
 * Builds the `LanguageModel` service for one chat-completions model, with the
 * `HttpClient` in context.
 *
 * **When to use**
 *
 * To build your own layer around the service; most code wants `layer`.
 *
 * **Details**
 *
 * - `generateText` POSTs `${baseUrl}/chat/completions` with `model`,
 *   `messages` (system, user text and images, assistant text and tool calls,
 *   tool results), `tools` (each tool's parameters as JSON Schema),
 *   `tool_choice`, and `max_tokens` (or `max_completion_tokens`, see
 *   `Options.outputLimitField`) when `ModelProfile.OutputLimit` is set, as
 *   `Inference.run` sets it for each call; the body is decoded with Schema into `text`, `reasoning`,
 *   `tool-call` and `finish` parts (reason and token usage).
 * - `streamText` adds `stream: true` and `stream_options.include_usage`;
 *   SSE `data:` chunks become `text-start`/`-delta`/`-end`, tool-call deltas
 *   are assembled into whole `tool-call` parts, and the last part is `finish`
 *   with the usage.
 * - Failures are `AiError`s: 400 `InvalidRequestError`, 401/403
 *   `AuthenticationError`, 429 `RateLimitError` (with `retry-after`), 5xx
 *   `InternalProviderError` (also an error body after a 200, as an event or
 *   as the whole body), transport `NetworkError` (also a connection that
 *   breaks while the body is read), an undecodable body `InvalidResponseError`
 *   (also a 200 that is not an event stream, and a stream that ends with
 *   neither a finish reason nor `[DONE]`: a cut answer), tool arguments that
 *   are not JSON `InvalidOutputError`. A `retry:` field is ignored, a last
 *   event without its blank line is delivered, a tool call's name is taken
 *   once (some servers repeat it) and a tool-call delta without `index` is
 *   matched by its `id`.
 *
 * **Gotchas**
 *
 * Interrupting the call (a stage's deadline) aborts the HTTP request: the
 * `HttpClient` passes an `AbortSignal` to `fetch`, so the server sees the
 * connection close and the stage does not wait for it.
 *
 * **Example** (A service for a local server)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const service = OpenAiCompatible.make({ model: "llama3.1", baseUrl: "http://127.0.0.1:11434/v1" }).pipe(
 *   Effect.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Effect.flatMap(HttpClient.HttpClient, (client) => {
    const connection: internal.Connection = {
      model: options.model,
      apiKey: options.apiKey,
      baseUrl: options.baseUrl ?? defaultBaseUrl,
      outputLimitField: options.outputLimitField ?? "max_tokens"
    }
    return LanguageModel.make({
      generateText: internal.generateText(client, connection),
      streamText: internal.streamText(client, connection)
    })
  })

/**
 * Reads the model after the `openai:` prefix of a `TIMEBOX_MODEL` value:
 * `"openai:gpt-4o-mini"` → `Some("gpt-4o-mini")`; another provider's value
 * or an empty model → `None`.
 *
 * **Example** (Fine-tuned names keep their colons)
 *
 * ```ts
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const model = OpenAiCompatible.parseSelection("openai:ft:gpt-4o-mini:acme::abc") // Some("ft:gpt-4o-mini:acme::abc")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const parseSelection = (selection: string): Option.Option<string> => {
  const trimmed = selection.trim()
  return trimmed.startsWith("openai:") && trimmed.length > "openai:".length
    ? Option.some(trimmed.slice("openai:".length))
    : Option.none()
}

const Selection = Schema.String.check(Schema.isPattern(/^\s*openai:\S/, {
  message: "expected openai:<model>, e.g. openai:gpt-4o-mini"
}))

const OutputLimitField = Schema.Literals(["max_tokens", "max_completion_tokens"])

const connectionConfig = Config.all({
  apiKey: Config.option(Config.Redacted("OPENAI_API_KEY")),
  baseUrl: Config.String("OPENAI_BASE_URL").pipe(Config.withDefault(defaultBaseUrl)),
  outputLimitField: Config.schema(OutputLimitField, "OPENAI_OUTPUT_LIMIT_FIELD").pipe(
    Config.withDefault("max_tokens" as const)
  )
})

const optionsFrom = (
  model: string,
  connection: {
    readonly apiKey: Option.Option<Redacted.Redacted<string>>
    readonly baseUrl: string
    readonly outputLimitField: "max_tokens" | "max_completion_tokens"
  }
): Options => ({
  model,
  apiKey: Option.getOrUndefined(connection.apiKey),
  baseUrl: connection.baseUrl,
  outputLimitField: connection.outputLimitField
})

/**
 * The options from configuration: `TIMEBOX_MODEL` (`openai:<model>`,
 * required), `OPENAI_API_KEY` (optional, redacted), `OPENAI_BASE_URL`
 * (default `https://api.openai.com/v1`) and `OPENAI_OUTPUT_LIMIT_FIELD`
 * (`max_tokens`, the default, or `max_completion_tokens` for OpenAI's
 * reasoning models).
 *
 * **Example** (Reading the options from the environment)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const program = Effect.map(OpenAiCompatible.config, (options) => options.model)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const config: Config.Config<Options> = Config.all({
  model: Config.schema(Selection, "TIMEBOX_MODEL").pipe(Config.map((selection) => selection.trim().slice(7))),
  connection: connectionConfig
}).pipe(Config.map(({ connection, model }) => optionsFrom(model, connection)))

// =============================================================================
// Layers
// =============================================================================

/**
 * The layer of one chat-completions model: `LanguageModel`,
 * `Model.ProviderName` (`"openai-compatible"`) and `Model.ModelName`.
 *
 * **When to use**
 *
 * To call a real model. Provide an `HttpClient` with it; on Node 20 use
 * `FetchHttpClient.layer` from `effect/http` (not the undici clients).
 *
 * **Example** (An agent on a hosted model)
 *
 * ```ts
 * import { Effect, Layer, Redacted } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { FetchHttpClient } from "effect/http"
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const ModelLive = OpenAiCompatible.layer({ model: "gpt-4o-mini", apiKey: Redacted.make("sk-…") }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * const answer = LanguageModel.generateText({ prompt: "Where is my order?" }).pipe(Effect.provide(ModelLive))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): ModelLayer =>
  Model.make(providerName, options.model, Layer.effect(LanguageModel.LanguageModel, make(options)))

/**
 * `layer` with its options from `config` (`TIMEBOX_MODEL`, `OPENAI_API_KEY`,
 * `OPENAI_BASE_URL`); fails with a `ConfigError` when `TIMEBOX_MODEL` is not
 * `openai:<model>`.
 *
 * **Example** (Configured from the environment)
 *
 * ```ts
 * import { Layer } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * const ModelLive = OpenAiCompatible.layerConfig.pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  LanguageModel.LanguageModel | Model.ProviderName | Model.ModelName,
  Config.ConfigError,
  HttpClient.HttpClient
> = Layer.unwrap(Effect.map(config, layer))

/** The `TIMEBOX_MODEL` values `fromEnv` warned about: an agent reads it on every run, the warning comes once. */
const warnedSelections = new Set<string>()

/**
 * The configured model's layer if configuration selects one: `None` when
 * `TIMEBOX_MODEL` is unset or names another provider (so the simulated model
 * stays the default; a value that is set but not `openai:<model>` is logged
 * as a warning, once a process), `Some(layer)` for `openai:<model>`.
 *
 * **When to use**
 *
 * Where an agent chooses its model at start-up: fall back to the simulated
 * model on `None`.
 *
 * **Gotchas**
 *
 * The returned layer still needs an `HttpClient` (`FetchHttpClient.layer`).
 * A malformed `OPENAI_API_KEY` or `OPENAI_BASE_URL` fails with a
 * `ConfigError`; a missing key does not (local servers need none).
 *
 * **Example** (The real model when configured, else a stand-in)
 *
 * ```ts
 * import { Effect, Layer, Option } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { FetchHttpClient } from "effect/http"
 * import { OpenAiCompatible } from "@timebox/core"
 *
 * declare const SimulatedLive: Layer.Layer<LanguageModel.LanguageModel>
 *
 * const ModelLive = Layer.unwrap(
 *   Effect.map(OpenAiCompatible.fromEnv, Option.match({
 *     onNone: () => SimulatedLive,
 *     onSome: (model) => model.pipe(Layer.provide(FetchHttpClient.layer))
 *   }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const fromEnv: Effect.Effect<Option.Option<ModelLayer>, Config.ConfigError> = Effect.gen(function*() {
  const selection = yield* Config.option(Config.String("TIMEBOX_MODEL"))
  const model = Option.flatMap(selection, parseSelection)
  if (Option.isNone(model)) {
    // set, but not to a model this reads: say so (once a process) rather than run the simulated model silently
    if (Option.isSome(selection) && selection.value.trim() !== "" && !warnedSelections.has(selection.value)) {
      warnedSelections.add(selection.value)
      yield* Effect.logWarning(
        `TIMEBOX_MODEL=${JSON.stringify(selection.value)} is not openai:<model> (e.g. openai:gpt-4o-mini): ` +
          "no provider model is configured, the embedded default runs"
      )
    }
    return Option.none()
  }
  const connection = yield* connectionConfig
  return Option.some(layer(optionsFrom(model.value, connection)))
})
