/**
 * The chat-completions wire format: request building, response decoding and
 * the mapping to `effect/ai` response parts, for `OpenAiCompatible.ts`.
 *
 * @internal
 */
import { Duration, Effect, Option, Redacted, Schema, Stream } from "effect"
import { AiError, IdGenerator, type LanguageModel, type Prompt, type Response, Telemetry, Tool } from "effect/ai"
import * as Base64 from "effect/encoding/Base64"
import * as Sse from "effect/encoding/Sse"
import { type HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "effect/http"
import * as ModelProfile from "../ModelProfile.ts"

const MODULE = "OpenAiCompatible"

// =============================================================================
// Wire schemas (responses)
// =============================================================================

const OptionalInt = Schema.optional(Schema.NullOr(Schema.Int))

/** `usage` of a completion or of the last streamed chunk. */
export const ChatUsage = Schema.Struct({
  prompt_tokens: Schema.Int,
  completion_tokens: Schema.Int,
  total_tokens: OptionalInt,
  prompt_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ cached_tokens: OptionalInt }))),
  completion_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ reasoning_tokens: OptionalInt })))
})
type ChatUsage = typeof ChatUsage.Type

const ToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.optional(Schema.String),
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
})

const FinishReasonWire = Schema.optional(Schema.NullOr(Schema.String))

/** A non-streaming `chat.completion` body. */
export const ChatCompletion = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  choices: Schema.Array(Schema.Struct({
    message: Schema.Struct({
      content: Schema.optional(Schema.NullOr(Schema.String)),
      reasoning_content: Schema.optional(Schema.NullOr(Schema.String)),
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCall)))
    }),
    finish_reason: FinishReasonWire
  })),
  usage: Schema.optional(Schema.NullOr(ChatUsage))
})

const ToolCallDelta = Schema.Struct({
  // absent from servers that send each call whole (Gemini's and Ollama's OpenAI-compatible endpoints)
  index: Schema.optional(Schema.NullOr(Schema.Int)),
  id: Schema.optional(Schema.NullOr(Schema.String)),
  function: Schema.optional(Schema.NullOr(Schema.Struct({
    name: Schema.optional(Schema.NullOr(Schema.String)),
    arguments: Schema.optional(Schema.NullOr(Schema.String))
  })))
})

/** One `chat.completion.chunk` of a stream (the `data:` of an SSE event). */
export const ChatCompletionChunk = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  choices: Schema.Array(Schema.Struct({
    delta: Schema.optional(Schema.NullOr(Schema.Struct({
      content: Schema.optional(Schema.NullOr(Schema.String)),
      reasoning_content: Schema.optional(Schema.NullOr(Schema.String)),
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCallDelta)))
    }))),
    finish_reason: FinishReasonWire
  })),
  usage: Schema.optional(Schema.NullOr(ChatUsage))
})
type ChatCompletionChunk = typeof ChatCompletionChunk.Type

/** The error body OpenAI-compatible servers send with a 4xx or 5xx status. */
export const ErrorBody = Schema.Struct({
  error: Schema.Struct({
    message: Schema.String,
    type: Schema.optional(Schema.NullOr(Schema.String)),
    code: Schema.optional(Schema.NullOr(Schema.Union([Schema.String, Schema.Number])))
  })
})

const decodeCompletion = Schema.decodeUnknownEffect(Schema.fromJsonString(ChatCompletion))
const decodeChunk = Schema.decodeUnknownEffect(Schema.fromJsonString(ChatCompletionChunk))
const decodeErrorBody = Schema.decodeUnknownOption(Schema.fromJsonString(ErrorBody))
/** Tool-call arguments: any JSON text. */
const ArgumentsJson = Schema.fromJsonString(Schema.Unknown)
const decodeArguments = Schema.decodeUnknownEffect(ArgumentsJson)
const argumentsOption = Schema.decodeUnknownOption(ArgumentsJson)

// =============================================================================
// Errors
// =============================================================================

const fail = (method: string, reason: AiError.AiErrorReason): Effect.Effect<never, AiError.AiError> =>
  Effect.fail(AiError.make({ module: MODULE, method, reason }))

const isRequestError = (
  error: HttpClientError.HttpClientError
): error is HttpClientError.HttpClientError & { readonly reason: HttpClientError.RequestError } =>
  error.reason._tag === "TransportError" || error.reason._tag === "EncodeError" ||
  error.reason._tag === "InvalidUrlError"

/** A transport failure becomes a `NetworkError`; a body that cannot be read an `InvalidResponseError`. */
export const fromHttpClientError = (method: string) => (error: HttpClientError.HttpClientError) =>
  fail(
    method,
    isRequestError(error)
      ? AiError.NetworkError.fromHttpClientError(error)
      : new AiError.InvalidResponseError({ description: error.message })
  )

/**
 * A failure while the body of a 2xx response is read: the connection broke
 * (a reset, a proxy closing it), so a retryable `NetworkError`, not an
 * undecodable response.
 */
export const fromBodyError = (method: string) => (error: HttpClientError.HttpClientError) =>
  error.reason._tag === "EmptyBodyError"
    ? fail(method, new AiError.InvalidResponseError({ description: "the response has no body" }))
    : error.reason._tag === "DecodeError"
    ? fail(
      method,
      new AiError.NetworkError({
        reason: "TransportError",
        method: error.reason.request.method,
        url: error.reason.request.url,
        description: `the connection failed while the response was read${
          error.reason.description === undefined ? "" : `: ${error.reason.description}`
        }`,
        cause: error
      })
    )
    : fromHttpClientError(method)(error)

const retryAfter = (headers: Record<string, string>): Duration.Duration | undefined => {
  const raw = headers["retry-after"]
  if (raw === undefined) return undefined
  const seconds = Number(raw)
  return Number.isFinite(seconds) && seconds >= 0 ? Duration.seconds(seconds) : undefined
}

/**
 * A non-2xx response becomes the fitting reason: 400 `InvalidRequestError`,
 * 401/403 `AuthenticationError`, 429 `RateLimitError` (with `retry-after`),
 * 5xx `InternalProviderError`, anything else `UnknownError`.
 */
export const fromStatus = (
  method: string,
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<never, AiError.AiError> =>
  response.text.pipe(
    Effect.orElseSucceed(() => ""),
    Effect.flatMap((body) => {
      const decoded = Option.getOrUndefined(decodeErrorBody(body))
      const headers: Record<string, string> = { ...response.headers }
      const http = { response: { status: response.status, headers }, body }
      const description = decoded?.error.message ?? (body.length > 0 ? body.slice(0, 500) : undefined)
      const metadata = {
        errorType: decoded?.error.type ?? null,
        errorCode: decoded?.error.code === undefined || decoded.error.code === null ? null : String(decoded.error.code)
      }
      const after = retryAfter(headers)
      return fail(
        method,
        response.status === 429
          ? new AiError.RateLimitError({ http, metadata, ...(after === undefined ? {} : { retryAfter: after }) })
          : AiError.reasonFromHttpStatus({ status: response.status, body, http, metadata, description })
      )
    })
  )

const invalidResponse = (method: string) => (error: Schema.SchemaError) =>
  fail(method, AiError.InvalidResponseError.fromSchemaError(error))

// =============================================================================
// Requests
// =============================================================================

/** The connection settings of one model. */
export interface Connection {
  readonly model: string
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly baseUrl: string
  /** The body field that carries `ModelProfile.OutputLimit`. */
  readonly outputLimitField: "max_tokens" | "max_completion_tokens"
}

type WireContent =
  | string
  | Array<
    { readonly type: "text"; readonly text: string } | {
      readonly type: "image_url"
      readonly image_url: { readonly url: string }
    }
  >

type WireMessage =
  | { readonly role: "system"; readonly content: string }
  | { readonly role: "user"; readonly content: WireContent }
  | {
    readonly role: "assistant"
    readonly content: string | null
    readonly tool_calls?: ReadonlyArray<{
      readonly id: string
      readonly type: "function"
      readonly function: { readonly name: string; readonly arguments: string }
    }>
  }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string }

const imageUrl = (part: Prompt.FilePart): string =>
  part.data instanceof URL
    ? part.data.toString()
    : typeof part.data === "string" && /^(https?:|data:)/.test(part.data)
    ? part.data
    : `data:${part.mediaType === "image/*" ? "image/jpeg" : part.mediaType};base64,${
      typeof part.data === "string" ? part.data : Base64.encode(part.data)
    }`

const userContent = (
  method: string,
  parts: ReadonlyArray<Prompt.UserMessagePart>
): Effect.Effect<WireContent, AiError.AiError> => {
  const content: Exclude<WireContent, string> = []
  for (const part of parts) {
    if (part.type === "text") {
      content.push({ type: "text", text: part.text })
    } else if (part.mediaType.startsWith("image/")) {
      content.push({ type: "image_url", image_url: { url: imageUrl(part) } })
    } else {
      return fail(
        method,
        new AiError.InvalidUserInputError({
          description: `chat completions accept text and images only, not ${part.mediaType}`
        })
      )
    }
  }
  const [first] = content
  return Effect.succeed(content.length === 1 && first !== undefined && first.type === "text" ? first.text : content)
}

const stringify = (value: unknown): string => typeof value === "string" ? value : JSON.stringify(value) ?? "null"

/** The `messages` of a request, from the prompt. */
export const toMessages = Effect.fnUntraced(function*(method: string, prompt: Prompt.Prompt) {
  const messages: Array<WireMessage> = []
  for (const message of prompt.content) {
    switch (message.role) {
      case "system": {
        messages.push({ role: "system", content: message.content })
        break
      }
      case "user": {
        messages.push({ role: "user", content: yield* userContent(method, message.content) })
        break
      }
      case "assistant": {
        let text = ""
        const toolCalls: Array<NonNullable<Extract<WireMessage, { role: "assistant" }>["tool_calls"]>[number]> = []
        for (const part of message.content) {
          if (part.type === "text") text += part.text
          else if (part.type === "tool-call" && !part.providerExecuted) {
            toolCalls.push({
              id: part.id,
              type: "function",
              function: { name: part.name, arguments: stringify(part.params) }
            })
          }
        }
        messages.push(
          toolCalls.length === 0
            ? { role: "assistant", content: text }
            : { role: "assistant", content: text.length === 0 ? null : text, tool_calls: toolCalls }
        )
        break
      }
      case "tool": {
        for (const part of message.content) {
          if (part.type !== "tool-result") continue
          messages.push({
            role: "tool",
            tool_call_id: part.id,
            content: part.modelOutput === undefined ? stringify(part.result) : toolModelOutput(part.modelOutput)
          })
        }
        break
      }
    }
  }
  return messages
})

const toolModelOutput = (parts: ReadonlyArray<Prompt.ToolModelOutputPart>): string =>
  parts.map((part) => part.type === "text" ? part.text : `[${part.mediaType}]`).join("")

const toTools = Effect.fnUntraced(function*(method: string, options: LanguageModel.ProviderOptions) {
  const choice = options.toolChoice
  const allowed = typeof choice === "object" && "oneOf" in choice ? new Set<string>(choice.oneOf) : undefined
  const tools: Array<unknown> = []
  for (const tool of options.tools) {
    if (allowed !== undefined && !allowed.has(tool.name)) continue
    if (Tool.isProviderDefined(tool)) {
      return yield* fail(
        method,
        new AiError.ToolConfigurationError({
          toolName: tool.name,
          description: "provider-defined tools are not part of the chat-completions API"
        })
      )
    }
    const description = Tool.getDescription(tool)
    const strict = Tool.getStrictMode(tool)
    tools.push({
      type: "function",
      function: {
        name: tool.name,
        ...(description === undefined ? {} : { description }),
        parameters: Tool.getJsonSchema(tool),
        ...(strict === undefined ? {} : { strict })
      }
    })
  }
  if (tools.length === 0) return {}
  const toolChoice = typeof choice === "string"
    ? choice
    : "tool" in choice
    ? { type: "function", function: { name: choice.tool } }
    : (choice.mode ?? "auto")
  return { tools, tool_choice: toolChoice }
})

const responseFormat = (options: LanguageModel.ProviderOptions) =>
  options.responseFormat.type === "json"
    ? {
      response_format: {
        type: "json_schema",
        json_schema: {
          name: options.responseFormat.objectName,
          schema: Tool.getJsonSchemaFromSchema(options.responseFormat.schema)
        }
      }
    }
    : {}

const buildRequest = Effect.fnUntraced(function*(
  connection: Connection,
  method: string,
  options: LanguageModel.ProviderOptions,
  stream: boolean
) {
  const limit = yield* ModelProfile.OutputLimit
  const body = {
    model: connection.model,
    ...(limit === undefined ? {} : { [connection.outputLimitField]: limit }),
    messages: yield* toMessages(method, options.prompt),
    ...(yield* toTools(method, options)),
    ...responseFormat(options),
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {})
  }
  const request = HttpClientRequest.post(`${connection.baseUrl.replace(/\/+$/, "")}/chat/completions`).pipe(
    HttpClientRequest.acceptJson,
    connection.apiKey === undefined
      ? (self) => self
      : HttpClientRequest.bearerToken(Redacted.value(connection.apiKey))
  )
  return yield* HttpClientRequest.bodyJson(request, body).pipe(
    Effect.catch((error) =>
      fail(method, new AiError.InvalidUserInputError({ description: `request body: ${error.message}` }))
    )
  )
})

const execute = (
  client: HttpClient.HttpClient,
  method: string,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientResponse.HttpClientResponse, AiError.AiError> =>
  client.execute(request).pipe(
    Effect.catch(fromHttpClientError(method)),
    Effect.flatMap((response) =>
      response.status >= 200 && response.status < 300 ? Effect.succeed(response) : fromStatus(method, response)
    )
  )

// =============================================================================
// Responses
// =============================================================================

/** A wire finish reason as an `effect/ai` one. */
export const finishReason = (reason: string | null | undefined): Response.FinishReason => {
  switch (reason) {
    case "stop":
      return "stop"
    case "length":
      return "length"
    case "content_filter":
      return "content-filter"
    case "tool_calls":
    case "function_call":
      return "tool-calls"
    case null:
    case undefined:
      return "unknown"
    default:
      return "other"
  }
}

/**
 * Wire usage as `effect/ai` usage. OpenAI reports cached input but no cache
 * writes (they cost nothing extra), so `cacheWrite` is 0; reasoning tokens
 * are part of `completion_tokens`, so `text` is the rest.
 */
export const toUsage = (usage: ChatUsage | null | undefined): Response.FinishPartEncoded["usage"] => {
  if (usage === null || usage === undefined) return { inputTokens: {}, outputTokens: {} }
  const cacheRead = usage.prompt_tokens_details?.cached_tokens ?? 0
  const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0
  return {
    inputTokens: {
      total: usage.prompt_tokens,
      uncached: Math.max(0, usage.prompt_tokens - cacheRead),
      cacheRead,
      cacheWrite: 0
    },
    outputTokens: {
      total: usage.completion_tokens,
      text: Math.max(0, usage.completion_tokens - reasoning),
      reasoning
    }
  }
}

const toolCallPart = (
  method: string,
  id: string,
  name: string,
  args: string
): Effect.Effect<Response.ToolCallPartEncoded, AiError.AiError> =>
  (args.trim().length === 0 ? Effect.succeed({}) : decodeArguments(args)).pipe(
    Effect.map((params): Response.ToolCallPartEncoded => ({ type: "tool-call", id, name, params })),
    Effect.catch(() =>
      fail(
        method,
        new AiError.InvalidOutputError({ description: `tool call ${name} (${id}): arguments are not JSON: ${args}` })
      )
    )
  )

const annotate = (
  options: LanguageModel.ProviderOptions,
  connection: Connection,
  response: { readonly id?: string | undefined; readonly model?: string | undefined },
  usage: ChatUsage | null | undefined,
  reason: string | null | undefined
): void =>
  Telemetry.addGenAIAnnotations(options.span, {
    provider: { name: "openai-compatible" },
    operation: { name: "chat" },
    request: { model: connection.model },
    response: { id: response.id, model: response.model, finishReasons: reason == null ? undefined : [reason] },
    usage: { inputTokens: usage?.prompt_tokens, outputTokens: usage?.completion_tokens }
  })

const metadataPart = (
  response: { readonly id?: string | undefined; readonly model?: string | undefined }
): Response.ResponseMetadataPartEncoded => ({
  type: "response-metadata",
  ...(response.id === undefined ? {} : { id: response.id }),
  ...(response.model === undefined ? {} : { modelId: response.model })
})

/** `generateText`: one POST, the body decoded, mapped to encoded parts. */
export const generateText = (client: HttpClient.HttpClient, connection: Connection) =>
  Effect.fnUntraced(function*(options: LanguageModel.ProviderOptions) {
    const method = "generateText"
    const request = yield* buildRequest(connection, method, options, false)
    const response = yield* execute(client, method, request)
    const text = yield* response.text.pipe(Effect.catch(fromBodyError(method)))
    // a server that fails after its 200 may answer an error body
    const error = decodeErrorBody(text)
    if (Option.isSome(error)) {
      return yield* fail(method, new AiError.InternalProviderError({ description: error.value.error.message }))
    }
    const body = yield* decodeCompletion(text).pipe(Effect.catch(invalidResponse(method)))
    const choice = body.choices[0]
    annotate(options, connection, body, body.usage, choice?.finish_reason)
    const parts: Array<Response.PartEncoded> = [metadataPart(body)]
    const reasoning = choice?.message.reasoning_content
    if (reasoning !== undefined && reasoning !== null && reasoning.length > 0) {
      parts.push({ type: "reasoning", text: reasoning })
    }
    const content = choice?.message.content
    if (content !== undefined && content !== null && content.length > 0) parts.push({ type: "text", text: content })
    for (const call of choice?.message.tool_calls ?? []) {
      parts.push(yield* toolCallPart(method, call.id, call.function.name, call.function.arguments))
    }
    parts.push({ type: "finish", reason: finishReason(choice?.finish_reason), usage: toUsage(body.usage) })
    return parts
  })

/**
 * One SSE `data:` payload as a chunk. Servers that fail after the 200 send an
 * error body as an event: that becomes an `InternalProviderError`.
 */
const decodeEvent = (method: string, data: string): Effect.Effect<ChatCompletionChunk, AiError.AiError> => {
  const error = decodeErrorBody(data)
  return Option.isSome(error)
    ? fail(method, new AiError.InternalProviderError({ description: error.value.error.message }))
    : decodeChunk(data).pipe(Effect.catch(invalidResponse(method)))
}

interface PendingToolCall {
  readonly type: "pending-tool-call"
  id: string | undefined
  name: string
  arguments: string
}

/** A failure found when the stream ends (`flush`), passed on as a part and raised after the rest. */
interface StreamFailure {
  readonly type: "stream-failure"
  readonly reason: AiError.AiErrorReason
}

interface StreamState {
  /** By the delta's `index`, else its call's `id` (see `pendingCall`). */
  readonly calls: Map<number | string, PendingToolCall>
  /** The key of the call the last tool-call delta went to. */
  lastCall: number | string | undefined
  /** Whether a chunk arrived, whether `[DONE]` did, and whether the stream failed before its end. */
  sawChunk: boolean
  done: boolean
  failed: boolean
  /** The body's first characters, for an answer that turns out not to be an event stream. */
  head: string
  textId: string | undefined
  reasoningId: string | undefined
  metadataSent: boolean
  reason: string | null | undefined
  usage: ChatUsage | null | undefined
  response: { id?: string | undefined; model?: string | undefined }
}

type Emitted = Response.StreamPartEncoded | PendingToolCall | StreamFailure

/**
 * Whether a delta with neither `index` nor `id`, naming `name`, continues
 * `last`: it names no tool, or `last` has no name yet, or it repeats `last`'s
 * name (some servers do in every delta) while `last`'s arguments are not yet
 * whole JSON.
 */
const continues = (last: PendingToolCall, name: string | undefined): boolean =>
  name === undefined || name === "" || last.name === "" ||
  (name === last.name && Option.isNone(argumentsOption(last.arguments)))

/**
 * The call a tool-call delta continues, or a new one: by its `index`; without
 * one (servers that send each call whole), by its `id`; with neither, the
 * last call when the delta `continues` it.
 */
const pendingCall = (
  state: StreamState,
  index: number | undefined,
  id: string | undefined,
  name: string | undefined
): PendingToolCall => {
  const last = state.lastCall === undefined ? undefined : state.calls.get(state.lastCall)
  const key = index ?? id ?? (last !== undefined && continues(last, name) ? state.lastCall! : -(state.calls.size + 1))
  let pending = state.calls.get(key)
  if (pending === undefined) {
    pending = { type: "pending-tool-call", id: undefined, name: "", arguments: "" }
    state.calls.set(key, pending)
  }
  state.lastCall = key
  return pending
}

const step = (state: StreamState, chunk: ChatCompletionChunk): readonly [StreamState, ReadonlyArray<Emitted>] => {
  const out: Array<Emitted> = []
  state.sawChunk = true
  if (!state.metadataSent) {
    state.metadataSent = true
    state.response = { id: chunk.id, model: chunk.model }
    out.push(metadataPart(state.response))
  }
  if (chunk.usage !== undefined && chunk.usage !== null) state.usage = chunk.usage
  for (const choice of chunk.choices) {
    const delta = choice.delta
    const reasoning = delta?.reasoning_content
    if (reasoning !== undefined && reasoning !== null && reasoning.length > 0) {
      if (state.reasoningId === undefined) {
        state.reasoningId = "reasoning-0"
        out.push({ type: "reasoning-start", id: state.reasoningId })
      }
      out.push({ type: "reasoning-delta", id: state.reasoningId, delta: reasoning })
    }
    const content = delta?.content
    if (content !== undefined && content !== null && content.length > 0) {
      if (state.reasoningId !== undefined) {
        out.push({ type: "reasoning-end", id: state.reasoningId })
        state.reasoningId = undefined
      }
      if (state.textId === undefined) {
        state.textId = "text-0"
        out.push({ type: "text-start", id: state.textId })
      }
      out.push({ type: "text-delta", id: state.textId, delta: content })
    }
    for (const call of delta?.tool_calls ?? []) {
      const id = call.id === undefined || call.id === null || call.id === "" ? undefined : call.id
      const name = call.function?.name ?? undefined
      const pending = pendingCall(state, call.index ?? undefined, id, name)
      if (id !== undefined) pending.id = id
      // the name comes whole, once (some servers repeat it in every delta of the call)
      if (name !== undefined && pending.name === "") pending.name = name
      if (call.function?.arguments !== undefined && call.function.arguments !== null) {
        pending.arguments += call.function.arguments
      }
    }
    if (choice.finish_reason !== undefined && choice.finish_reason !== null) state.reason = choice.finish_reason
  }
  return [state, out]
}

/** Why a stream that ended cannot be an answer, if it cannot. */
const unfinished = (state: StreamState): AiError.AiErrorReason | undefined => {
  if (!state.sawChunk && !state.done) {
    // not an event stream: an error body after the 200, an empty or an HTML body
    const error = decodeErrorBody(state.head)
    if (Option.isSome(error)) return new AiError.InternalProviderError({ description: error.value.error.message })
    const head = state.head.trim()
    return new AiError.InvalidResponseError({
      description: head === ""
        ? "the response has an empty body, not an event stream"
        : `the response is not an event stream: ${head.slice(0, 200)}`
    })
  }
  if (!state.done && (state.reason === undefined || state.reason === null)) {
    return new AiError.InvalidResponseError({
      description: "the event stream ended before the model finished (no finish reason, no [DONE]): the answer is cut"
    })
  }
  return undefined
}

const flush = (state: StreamState): ReadonlyArray<Emitted> => {
  if (state.failed) return []
  const failure = unfinished(state)
  if (failure !== undefined) return [{ type: "stream-failure", reason: failure }]
  const out: Array<Emitted> = []
  if (state.reasoningId !== undefined) out.push({ type: "reasoning-end", id: state.reasoningId })
  if (state.textId !== undefined) out.push({ type: "text-end", id: state.textId })
  for (const pending of state.calls.values()) out.push(pending) // in order of appearance
  out.push({ type: "finish", reason: finishReason(state.reason), usage: toUsage(state.usage) })
  return out
}

/** How much of a body `unfinished` looks at. */
const headLength = 4_096

/**
 * The `data` of each SSE event in `text`. A `retry:` field (a reconnection
 * hint) is ignored rather than ending the stream, and a last event the body
 * ended without its blank line is delivered, not dropped.
 */
const sseData = <R>(
  method: string,
  text: Stream.Stream<string, AiError.AiError, R>
): Stream.Stream<string, AiError.AiError, R> =>
  Stream.suspend(() => {
    let ready: Array<string> = []
    const parser = Sse.makeParser((event) => {
      if (event._tag === "Event") ready.push(event.data)
    })
    return text.pipe(
      Stream.concat(Stream.make("\n\n")),
      Stream.mapEffect((chunk) => {
        const error = parser.feed(chunk)
        if (error !== undefined) {
          return fail(method, new AiError.InvalidResponseError({ description: `event stream: ${error.message}` }))
        }
        const out = ready
        ready = []
        return Effect.succeed(out)
      }),
      Stream.flattenIterable
    )
  })

/**
 * `streamText`: one POST with `stream: true`; SSE `data:` lines decoded into
 * chunks up to `[DONE]`, text as `text-start`/`-delta`/`-end`, tool-call
 * deltas assembled into `tool-call` parts, then `finish` with the usage.
 */
export const streamText = (client: HttpClient.HttpClient, connection: Connection) =>
(
  options: LanguageModel.ProviderOptions
): Stream.Stream<Response.StreamPartEncoded, AiError.AiError, IdGenerator.IdGenerator> => {
  const method = "streamText"
  return Stream.unwrap(Effect.gen(function*() {
    const request = yield* buildRequest(connection, method, options, true)
    const response = yield* execute(client, method, request)
    const ids = yield* IdGenerator.IdGenerator
    const state: StreamState = {
      calls: new Map(),
      lastCall: undefined,
      sawChunk: false,
      done: false,
      failed: false,
      head: "",
      textId: undefined,
      reasoningId: undefined,
      metadataSent: false,
      reason: undefined,
      usage: undefined,
      response: {}
    }
    return response.stream.pipe(
      Stream.decodeText(),
      Stream.tap((text) =>
        Effect.sync(() => {
          if (state.head.length < headLength) state.head += text.slice(0, headLength - state.head.length)
        })
      ),
      Stream.catch((error) => Stream.fromEffect(fromBodyError(method)(error))),
      (text) => sseData(method, text),
      Stream.takeWhile((data) => {
        if (data.trim() !== "[DONE]") return true
        state.done = true
        return false
      }),
      Stream.mapEffect((data) => decodeEvent(method, data)),
      // `onHalt` runs when the stream fails too: then the failure is the answer, not a cut stream
      Stream.tapError(() => Effect.sync(() => (state.failed = true))),
      Stream.mapAccum(() => state, step, { onHalt: flush }),
      Stream.mapEffect((part): Effect.Effect<Response.StreamPartEncoded, AiError.AiError> => {
        if (part.type === "stream-failure") return fail(method, part.reason)
        if (part.type === "finish") {
          return Effect.sync(() => {
            annotate(options, connection, state.response, state.usage, state.reason)
            return part
          })
        }
        if (part.type !== "pending-tool-call") return Effect.succeed(part)
        return Effect.flatMap(
          part.id === undefined ? ids.generateId() : Effect.succeed(part.id),
          (id) => toolCallPart(method, id, part.name, part.arguments)
        )
      })
    )
  }))
}
