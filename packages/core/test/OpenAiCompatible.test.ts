import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Logger, Option, Redacted, Schema, Stream } from "effect"
import { LanguageModel, Model, type Response, Tool, Toolkit } from "effect/ai"
import { FetchHttpClient, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Agent, Inference, ModelProfile, OpenAiCompatible, Pipeline, Router, Stage } from "../src/index.ts"
import { record } from "./utils.ts"

// A chat-completions server: the request's `model` picks the scenario.

interface WireRequest {
  readonly model: string
  readonly messages: ReadonlyArray<any>
  readonly tools?: ReadonlyArray<any>
  readonly tool_choice?: unknown
  readonly stream?: boolean
  readonly stream_options?: unknown
  readonly max_tokens?: number
  readonly max_completion_tokens?: number
}

const seen: Array<{ readonly body: WireRequest; readonly authorization: string | undefined }> = []
const lastRequest = () => seen[seen.length - 1]!

const usage = {
  prompt_tokens: 12,
  completion_tokens: 5,
  total_tokens: 17,
  prompt_tokens_details: { cached_tokens: 2 },
  completion_tokens_details: { reasoning_tokens: 1 }
}

const completion = (message: Record<string, unknown>, finishReason: string) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "served-model",
  choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finishReason }],
  usage
})

const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
  id: "chatcmpl-2",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "served-model",
  choices: [{ index: 0, delta, finish_reason: finishReason }]
})

const sse = (events: ReadonlyArray<unknown>) =>
  HttpServerResponse.stream(
    Stream.fromIterable([...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), "data: [DONE]\n\n"]).pipe(
      Stream.encodeText
    ),
    { contentType: "text/event-stream" }
  )

const weatherCall = {
  id: "call_1",
  type: "function",
  function: { name: "GetWeather", arguments: "{\"city\":\"Oslo\"}" }
}

const respond = (body: WireRequest): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown> => {
  const toolMessage = body.messages.find((message) => message.role === "tool")
  switch (body.model) {
    case "text":
      return body.stream === true
        ? Effect.succeed(sse([
          chunk({ role: "assistant", content: "" }),
          chunk({ content: "Hel" }),
          chunk({ content: "lo" }),
          chunk({ content: " world" }),
          chunk({}, "stop"),
          { ...chunk({}), choices: [], usage }
        ]))
        : HttpServerResponse.json(completion({ content: "Hello from the server" }, "stop"))
    case "tools":
      if (toolMessage !== undefined) {
        return HttpServerResponse.json(completion({ content: `Weather: ${toolMessage.content}` }, "stop"))
      }
      return body.stream === true
        ? Effect.succeed(sse([
          chunk({ role: "assistant", tool_calls: [{ index: 0, id: "call_1", function: { name: "GetWeather" } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"ci" } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: "ty\":\"Oslo\"}" } }] }),
          chunk({}, "tool_calls"),
          { ...chunk({}), choices: [], usage }
        ]))
        : HttpServerResponse.json(completion({ content: null, tool_calls: [weatherCall] }, "tool_calls"))
    case "rate-limited":
      return HttpServerResponse.json(
        { error: { message: "Slow down", type: "rate_limit_exceeded", code: "rate_limit" } },
        { status: 429, headers: { "retry-after": "7" } }
      )
    case "unauthorized":
      return HttpServerResponse.json({ error: { message: "Bad key", type: "invalid_request_error" } }, { status: 401 })
    case "overloaded":
      return Effect.succeed(HttpServerResponse.text("upstream down", { status: 503 }))
    case "fails-mid-stream":
      return Effect.succeed(sse([chunk({ content: "Hel" }), { error: { message: "model crashed" } }]))
    case "garbage":
      return HttpServerResponse.json({ choices: "none" })
    case "bad-arguments":
      return HttpServerResponse.json(completion({
        content: null,
        tool_calls: [{ ...weatherCall, function: { name: "GetWeather", arguments: "{city: Oslo" } }]
      }, "tool_calls"))
    default:
      return Effect.succeed(HttpServerResponse.text("no such model", { status: 404 }))
  }
}

const ChatRoute = HttpRouter.add(
  "POST",
  "/v1/chat/completions",
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = (yield* request.json) as unknown as WireRequest
    seen.push({ body, authorization: request.headers["authorization"] })
    return yield* respond(body)
  }).pipe(Effect.orDie)
)

const TestServer = HttpRouter.serve(ChatRoute, { disableListenLog: true, disableLogger: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0 }))
)
const baseUrl = HttpServer.addressFormattedWith((url) => Effect.succeed(`${url}/v1`))

const modelLayer = (model: string) =>
  Layer.unwrap(
    Effect.map(baseUrl, (url) => OpenAiCompatible.layer({ model, baseUrl: url, apiKey: Redacted.make("sk-test") }))
  )

const GetWeather = Tool.make("GetWeather", {
  description: "Current temperature for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number })
})
const WeatherToolkit = Toolkit.make(GetWeather)
const WeatherHandlers = WeatherToolkit.toLayer({ GetWeather: ({ city }) => Effect.succeed({ city, celsius: 21 }) })

layer(Layer.mergeAll(TestServer, FetchHttpClient.layer), { excludeTestServices: true })(
  "OpenAiCompatible against a chat-completions server",
  (it) => {
    it.effect("generateText: text, finish reason, usage and response metadata; model, messages and key sent", () =>
      Effect.gen(function*() {
        const response = yield* LanguageModel.generateText({
          prompt: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }]
        })
        assert.strictEqual(response.text, "Hello from the server")
        assert.strictEqual(response.finishReason, "stop")
        assert.deepStrictEqual(
          { input: response.usage.inputTokens, output: response.usage.outputTokens },
          {
            input: { total: 12, uncached: 10, cacheRead: 2, cacheWrite: 0 },
            output: { total: 5, text: 4, reasoning: 1 }
          }
        )
        const metadata = response.content.find((part) => part.type === "response-metadata")
        assert.strictEqual(metadata?.id, "chatcmpl-1")
        assert.strictEqual(metadata?.modelId, "served-model")
        const { authorization, body } = lastRequest()
        assert.strictEqual(authorization, "Bearer sk-test")
        assert.strictEqual(body.model, "text")
        assert.isUndefined(body.stream)
        assert.isUndefined(body.tools)
        assert.isUndefined(body.max_tokens) // no limit outside Inference.run
        assert.deepStrictEqual(body.messages, [
          { role: "system", content: "Be brief." },
          { role: "user", content: "hi" }
        ])
        assert.strictEqual(yield* Model.ProviderName, "openai-compatible")
        assert.strictEqual(yield* Model.ModelName, "text")
      }).pipe(Effect.provide(modelLayer("text"))))

    it.effect("generateText with a toolkit: tools sent as JSON Schema, the call parsed, the handler run", () =>
      Effect.gen(function*() {
        const toolkit = yield* WeatherToolkit
        const response = yield* LanguageModel.generateText({ prompt: "Weather in Oslo?", toolkit })
        assert.strictEqual(response.finishReason, "tool-calls")
        assert.deepStrictEqual(response.toolCalls.map((call) => [call.id, call.name, call.params]), [
          ["call_1", "GetWeather", { city: "Oslo" }]
        ])
        assert.deepStrictEqual(response.toolResults.map((result) => result.result), [{ city: "Oslo", celsius: 21 }])
        const { body } = lastRequest()
        assert.strictEqual(body.tool_choice, "auto")
        assert.strictEqual(body.tools?.length, 1)
        const tool = body.tools![0]
        assert.strictEqual(tool.type, "function")
        assert.strictEqual(tool.function.name, "GetWeather")
        assert.strictEqual(tool.function.description, "Current temperature for a city")
        assert.strictEqual(tool.function.parameters.type, "object")
        assert.deepStrictEqual(tool.function.parameters.required, ["city"])
        assert.strictEqual(tool.function.parameters.properties.city.type, "string")
      }).pipe(Effect.provide([modelLayer("tools"), WeatherHandlers])))

    it.effect("a history with a tool call and its result goes out as assistant tool_calls and a tool message", () =>
      Effect.gen(function*() {
        const response = yield* LanguageModel.generateText({
          prompt: [
            { role: "user", content: "Weather in Oslo?" },
            {
              role: "assistant",
              content: [{ type: "tool-call", id: "call_1", name: "GetWeather", params: { city: "Oslo" } }]
            },
            {
              role: "tool",
              content: [{
                type: "tool-result",
                id: "call_1",
                name: "GetWeather",
                isFailure: false,
                result: { city: "Oslo", celsius: 21 }
              }]
            }
          ]
        })
        assert.strictEqual(response.text, "Weather: {\"city\":\"Oslo\",\"celsius\":21}")
        assert.deepStrictEqual(lastRequest().body.messages, [
          { role: "user", content: "Weather in Oslo?" },
          { role: "assistant", content: null, tool_calls: [weatherCall] },
          { role: "tool", tool_call_id: "call_1", content: "{\"city\":\"Oslo\",\"celsius\":21}" }
        ])
      }).pipe(Effect.provide(modelLayer("tools"))))

    it.effect("streamText: text deltas in order, then finish with the usage of the last chunk", () =>
      Effect.gen(function*() {
        const parts = Array.from(yield* Stream.runCollect(LanguageModel.streamText({ prompt: "hi" })))
        assert.deepStrictEqual(
          parts.filter((part): part is Response.TextDeltaPart => part.type === "text-delta").map((part) => part.delta),
          ["Hel", "lo", " world"]
        )
        assert.deepStrictEqual(
          parts.map((part) => part.type).filter((type) => type.startsWith("text") || type === "finish"),
          ["text-start", "text-delta", "text-delta", "text-delta", "text-end", "finish"]
        )
        const finish = parts.find((part): part is Response.FinishPart => part.type === "finish")
        assert.strictEqual(finish?.reason, "stop")
        assert.strictEqual(finish?.usage.inputTokens.total, 12)
        assert.strictEqual(finish?.usage.outputTokens.total, 5)
        assert.strictEqual(finish?.usage.outputTokens.reasoning, 1)
        const { body } = lastRequest()
        assert.strictEqual(body.stream, true)
        assert.deepStrictEqual(body.stream_options, { include_usage: true })
      }).pipe(Effect.provide(modelLayer("text"))))

    it.effect("streamText: tool-call deltas assembled into one call; the handler runs", () =>
      Effect.gen(function*() {
        const toolkit = yield* WeatherToolkit
        const parts = Array.from(yield* Stream.runCollect(LanguageModel.streamText({ prompt: "Weather?", toolkit })))
        const calls = parts.filter((part) => part.type === "tool-call")
        assert.deepStrictEqual(calls.map((call) => [call.id, call.name, call.params]), [
          ["call_1", "GetWeather", { city: "Oslo" }]
        ])
        const results = parts.filter((part) => part.type === "tool-result")
        assert.deepStrictEqual(results.map((result) => result.result), [{ city: "Oslo", celsius: 21 }])
        const finish = parts.find((part): part is Response.FinishPart => part.type === "finish")
        assert.strictEqual(finish?.reason, "tool-calls")
        assert.strictEqual(finish?.usage.inputTokens.total, 12)
      }).pipe(Effect.provide([modelLayer("tools"), WeatherHandlers])))

    it.effect("HTTP statuses become AiError reasons: 429 rate limit (retry-after), 401 auth, 503 and a mid-stream error event provider errors", () =>
      Effect.gen(function*() {
        const reasonOf = (model: string, mode: "generate" | "stream") =>
          (mode === "generate"
            ? LanguageModel.generateText({ prompt: "hi" })
            : Stream.runDrain(LanguageModel.streamText({ prompt: "hi" }))).pipe(
              Effect.flip,
              Effect.map((error) => error.reason),
              Effect.provide(modelLayer(model))
            )
        const limited = yield* reasonOf("rate-limited", "generate")
        assert.strictEqual(limited._tag, "RateLimitError")
        if (limited._tag === "RateLimitError") {
          assert.strictEqual(limited.retryAfter === undefined ? undefined : Duration.toMillis(limited.retryAfter), 7000)
          assert.strictEqual(limited.http?.response?.status, 429)
          assert.strictEqual(limited.metadata.errorCode, "rate_limit")
          assert.isTrue(limited.isRetryable)
        }
        const auth = yield* reasonOf("unauthorized", "generate")
        assert.strictEqual(auth._tag, "AuthenticationError")
        if (auth._tag === "AuthenticationError") assert.strictEqual(auth.description, "Bad key")
        assert.strictEqual((yield* reasonOf("overloaded", "stream"))._tag, "InternalProviderError")
        assert.strictEqual((yield* reasonOf("rate-limited", "stream"))._tag, "RateLimitError")
        const midStream = yield* reasonOf("fails-mid-stream", "stream")
        assert.strictEqual(midStream._tag, "InternalProviderError")
        if (midStream._tag === "InternalProviderError") assert.strictEqual(midStream.description, "model crashed")
      }))

    it.effect("bodies are decoded with Schema: a malformed body or non-JSON tool arguments are typed errors", () =>
      Effect.gen(function*() {
        const garbage = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
          Effect.flip,
          Effect.provide(modelLayer("garbage"))
        )
        assert.strictEqual(garbage.reason._tag, "InvalidResponseError")
        const badArguments = yield* LanguageModel.generateText({ prompt: "hi", toolkit: yield* WeatherToolkit }).pipe(
          Effect.flip,
          Effect.provide(modelLayer("bad-arguments"))
        )
        assert.strictEqual(badArguments.reason._tag, "InvalidOutputError")
      }).pipe(Effect.provide(WeatherHandlers)))

    it.effect("Inference.run asks for at most the answering profile's output limit, the worst case a guard reserves", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        // the guard reserves input + 300 output + 20 reasoning tokens: the provider must stop there
        const profile = { ...ModelProfile.presets.fast, name: "text", maxOutputTokens: 300, reasoningTokens: 20 }
        const infer = (outputLimitField?: "max_tokens" | "max_completion_tokens") =>
          Effect.gen(function*() {
            const model = OpenAiCompatible.layer({ model: "text", baseUrl: url, outputLimitField }).pipe(
              Layer.provide(FetchHttpClient.layer)
            )
            const result = yield* Inference.run({ prompt: "hi", models: Router.make([{ profile, layer: model }]) })
            assert.strictEqual(result.text, "Hello world")
            return lastRequest().body
          })
        const plain = yield* infer()
        assert.strictEqual(plain.stream, true)
        assert.strictEqual(plain.max_tokens, 320)
        assert.isUndefined(plain.max_completion_tokens)
        const reasoning = yield* infer("max_completion_tokens")
        assert.strictEqual(reasoning.max_completion_tokens, 320)
        assert.isUndefined(reasoning.max_tokens)
      }))

    it.effect("configuration: fromEnv is None unless TIMEBOX_MODEL=openai:<model>; layerConfig reads the URL", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const withEnv = (env: Record<string, string>) =>
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
        assert.isTrue(Option.isNone(yield* OpenAiCompatible.fromEnv.pipe(withEnv({}))))
        const logged: Array<string> = []
        const capture = Logger.layer([
          Logger.make(({ logLevel, message }) => {
            logged.push(`${logLevel}: ${Array.isArray(message) ? message.join(" ") : String(message)}`)
          })
        ])
        assert.isTrue(
          Option.isNone(
            yield* OpenAiCompatible.fromEnv.pipe(withEnv({ TIMEBOX_MODEL: "simulated:fast" }), Effect.provide(capture))
          )
        )
        assert.deepStrictEqual(logged, [
          "Warn: TIMEBOX_MODEL=\"simulated:fast\" is not openai:<model> (e.g. openai:gpt-4o-mini): " +
          "no provider model is configured, the embedded default runs"
        ])
        // the same value again (an agent reads it on every run), unset or empty: nothing more to warn about
        yield* OpenAiCompatible.fromEnv.pipe(withEnv({ TIMEBOX_MODEL: "simulated:fast" }), Effect.provide(capture))
        yield* OpenAiCompatible.fromEnv.pipe(withEnv({ TIMEBOX_MODEL: " " }), Effect.provide(capture))
        assert.strictEqual(logged.length, 1)
        const env = { TIMEBOX_MODEL: "openai:text", OPENAI_BASE_URL: url, OPENAI_API_KEY: "sk-env" }
        const selected = yield* OpenAiCompatible.fromEnv.pipe(withEnv(env))
        assert.isTrue(Option.isSome(selected))
        const options = yield* OpenAiCompatible.config.pipe(withEnv(env))
        assert.strictEqual(options.model, "text")
        assert.strictEqual(options.baseUrl, url)
        assert.strictEqual(Redacted.value(options.apiKey!), "sk-env")
        const defaults = yield* OpenAiCompatible.config.pipe(withEnv({ TIMEBOX_MODEL: "openai:gpt-4o-mini" }))
        assert.deepStrictEqual(defaults, {
          model: "gpt-4o-mini",
          apiKey: undefined,
          baseUrl: "https://api.openai.com/v1",
          outputLimitField: "max_tokens"
        })
        const reasoningModel = yield* OpenAiCompatible.config.pipe(
          withEnv({ TIMEBOX_MODEL: "openai:o3-mini", OPENAI_OUTPUT_LIMIT_FIELD: "max_completion_tokens" })
        )
        assert.strictEqual(reasoningModel.outputLimitField, "max_completion_tokens")
        const badField = yield* Effect.flip(
          OpenAiCompatible.config.pipe(withEnv({ TIMEBOX_MODEL: "openai:o3-mini", OPENAI_OUTPUT_LIMIT_FIELD: "max" }))
        )
        assert.include(String(badField), "OPENAI_OUTPUT_LIMIT_FIELD")
        const response = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
          Effect.provide(OpenAiCompatible.layerConfig),
          withEnv(env)
        )
        assert.strictEqual(response.text, "Hello from the server")
        assert.strictEqual(lastRequest().authorization, "Bearer sk-env")
        const wrong = yield* Effect.flip(OpenAiCompatible.config.pipe(withEnv({ TIMEBOX_MODEL: "gpt-4o" })))
        assert.strictEqual(wrong._tag, "ConfigError")
        assert.deepStrictEqual(
          OpenAiCompatible.parseSelection("openai:ft:gpt-4o:acme::x"),
          Option.some("ft:gpt-4o:acme::x")
        )
        assert.deepStrictEqual(OpenAiCompatible.parseSelection("openai:"), Option.none())
        assert.deepStrictEqual(OpenAiCompatible.parseSelection(" openai:gpt-4o-mini "), Option.some("gpt-4o-mini"))
      }))
  }
)

// A server that never finishes: it records when the client closes the connection.

interface StallServer {
  readonly url: string
  readonly requests: () => number
  readonly closedEarly: () => number
}

const stallServer = Effect.acquireRelease(
  Effect.callback<{ readonly server: Server; readonly handle: StallServer }>((resume) => {
    let requests = 0
    let closedEarly = 0
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      requests++
      response.on("close", () => {
        if (!response.writableFinished) closedEarly++
      })
      let text = ""
      request.on("data", (data) => (text += data))
      request.on("end", () => {
        if ((JSON.parse(text) as WireRequest).stream === true) {
          // Headers and one delta, then nothing: the client is left reading the body.
          response.writeHead(200, { "content-type": "text/event-stream" })
          response.write(`data: ${JSON.stringify(chunk({ role: "assistant", content: "Hel" }))}\n\n`)
        }
        // Otherwise no headers at all: the client is left waiting for the response.
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({
        server,
        handle: { url: `http://127.0.0.1:${port}/v1`, requests: () => requests, closedEarly: () => closedEarly }
      }))
    })
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ handle }) => handle))

/** Polls `check` with the real clock for up to a second. */
const eventually = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100 && !check(); i++) yield* Effect.sleep("10 millis")
    return check()
  })

const slowAgent = <E, R>(allocation: "100 millis" | "200 millis", call: Effect.Effect<string, E, R>) =>
  Agent.make({
    name: "slow-model",
    budget: "1 second",
    pipeline: Pipeline.make<string>()
      .add(Stage.optional("answer", () => call, { allocation, fallback: () => "fallback" }))
      .add(Stage.required("assemble", ({ answer }) => Effect.succeed(`answer: ${answer}`)))
  })

layer(FetchHttpClient.layer, { excludeTestServices: true })("OpenAiCompatible under a stage deadline", (it) => {
  it.effect("generateText: the deadline aborts the request (the server sees it close); the report is whole", () =>
    Effect.gen(function*() {
      const server = yield* stallServer
      const agent = slowAgent("100 millis", Effect.map(LanguageModel.generateText({ prompt: "hi" }), (r) => r.text))
      const result = yield* Agent.run(agent, "hi").pipe(
        Effect.provide(OpenAiCompatible.layer({ model: "slow", baseUrl: server.url }))
      )
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, "answer: fallback")
      assert.deepStrictEqual(result.report.stages.map((stage) => [stage.name, stage.status]), [
        ["answer", "timed-out"],
        ["assemble", "completed"]
      ])
      const stage = record(result, "answer")
      assert.strictEqual(stage.reason, "deadline")
      assert.notStrictEqual(stage.abandoned, true)
      assert.isTrue(result.report.withinBudget)
      assert.strictEqual(server.requests(), 1)
      assert.isTrue(yield* eventually(() => server.closedEarly() === 1), "the server saw the connection close")
    }))

  it.effect("streamText: tokens reach the caller, then the deadline aborts the body read; the report is whole", () =>
    Effect.gen(function*() {
      const server = yield* stallServer
      const deltas: Array<string> = []
      const call = LanguageModel.streamText({ prompt: "hi" }).pipe(
        Stream.runForEach((part) => Effect.sync(() => part.type === "text-delta" && deltas.push(part.delta))),
        Effect.as(deltas.join(""))
      )
      const result = yield* Agent.run(slowAgent("200 millis", call), "hi").pipe(
        Effect.provide(OpenAiCompatible.layer({ model: "slow", baseUrl: server.url }))
      )
      assert.deepStrictEqual(deltas, ["Hel"])
      assert.strictEqual(result.status, "partial")
      assert.strictEqual(result.output, "answer: fallback")
      const stage = record(result, "answer")
      assert.strictEqual(stage.status, "timed-out")
      assert.strictEqual(stage.reason, "deadline")
      assert.notStrictEqual(stage.abandoned, true)
      assert.strictEqual(record(result, "assemble").status, "completed")
      assert.isTrue(yield* eventually(() => server.closedEarly() === 1), "the server saw the connection close")
    }))
})
