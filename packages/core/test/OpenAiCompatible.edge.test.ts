/**
 * The OpenAI-compatible client against a raw node:http server that behaves
 * like real providers and proxies do at their edges: SSE split at every byte,
 * CRLF, comments, multi-line data, usage placement, tool-call deltas, error
 * statuses and bodies, resets and stalls. Each case ends in the right parts or
 * a typed `AiError`: never a defect, a hang, a wrong usage figure or lost
 * text. The cases with a comment failed before the client was fixed for them.
 */
import { assert, layer } from "@effect/vitest"
import { Cause, Context, Duration, Effect, Exit, Fiber, Layer, Schema, Stream } from "effect"
import { type AiError, LanguageModel, type Response, Tool, Toolkit } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { createServer, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Agent, Guard, OpenAiCompatible } from "../src/index.ts"
import { agent, balance, fund, LedgerTest, question, subject, worst } from "./guardFixtures.ts"

// =============================================================================
// A provider on loopback: each test registers a handler under its own path
// =============================================================================

type Handler = (body: any, response: ServerResponse) => void

class Provider extends Context.Service<Provider, {
  /** The model layer of a server answering with `handler`. */
  readonly serve: (handler: Handler) => OpenAiCompatible.ModelLayer
}>()("test/OpenAiCompatible.edge/Provider") {}

const ProviderLive = Layer.effect(
  Provider,
  Effect.gen(function*() {
    const handlers = new Map<string, Handler>()
    const listening = yield* Effect.acquireRelease(
      Effect.callback<Server>((resume) => {
        const server = createServer((request, response) => {
          const handler = handlers.get((request.url ?? "").split("/")[1] ?? "")
          let text = ""
          request.on("data", (data) => (text += data))
          request.on("end", () => {
            if (handler === undefined) response.writeHead(500).end()
            else handler(JSON.parse(text), response)
          })
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const { port } = listening.address() as AddressInfo
    let next = 0
    return Provider.of({
      serve: (handler) => {
        const name = `case-${next++}`
        handlers.set(name, handler)
        return OpenAiCompatible.layer({ model: "edge", baseUrl: `http://127.0.0.1:${port}/${name}/v1` })
      }
    })
  })
)

const serve = (handler: Handler) => Effect.map(Provider, (provider) => provider.serve(handler))

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

interface SendOptions {
  readonly status?: number
  readonly headers?: Record<string, string>
  /** Pause between pieces. */
  readonly gapMs?: number
  /** Waits, after the n-th piece, until the client has read it: each piece arrives in a read of its own. */
  readonly lockstep?: (pieces: number) => Promise<void>
  /** After the last piece: end the body (default), reset the connection, or leave it open. */
  readonly ending?: "end" | "reset" | "stall"
}

/** Writes `pieces` one by one (each its own chunk of the chunked body), then ends, resets or stalls. */
const send = (response: ServerResponse, pieces: ReadonlyArray<string | Uint8Array>, options: SendOptions = {}) => {
  response.writeHead(options.status ?? 200, options.headers ?? { "content-type": "text/event-stream" })
  response.socket?.setNoDelay(true)
  void (async () => {
    for (const [index, piece] of pieces.entries()) {
      response.write(piece)
      if (options.lockstep !== undefined) await options.lockstep(index + 1)
      if (options.gapMs !== undefined) await sleep(options.gapMs)
    }
    if (options.ending === "reset") response.socket?.resetAndDestroy()
    else if (options.ending !== "stall") response.end()
  })()
}

/** A JSON reply of `status`. */
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Handler => (_body, response) =>
  send(response, [JSON.stringify(body)], { status, headers: { "content-type": "application/json", ...headers } })

/** A reply of `status` with a raw body. */
const raw = (status: number, body: string, headers: Record<string, string> = {}): Handler => (_body, response) =>
  send(response, body === "" ? [] : [body], { status, headers })

const usage = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 }

const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
  id: "chatcmpl-edge",
  object: "chat.completion.chunk",
  model: "served",
  choices: [{ index: 0, delta, finish_reason: finishReason }]
})
const usageChunk = { id: "chatcmpl-edge", object: "chat.completion.chunk", model: "served", choices: [], usage }

/** SSE events, each `data: <json>` and a blank line, then `data: [DONE]` unless `done` is false. */
const sse = (events: ReadonlyArray<unknown>, done = true) =>
  events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("") + (done ? "data: [DONE]\n\n" : "")

const Get = Tool.make("Get", { parameters: Schema.Struct({ x: Schema.Number }), success: Schema.Number })
const Ping = Tool.make("Ping", { parameters: Schema.Struct({}), success: Schema.String })
const Kit = Toolkit.make(Get, Ping)
const KitLive = Kit.toLayer({ Get: ({ x }) => Effect.succeed(x), Ping: () => Effect.succeed("pong") })

/** The parts of a stream, or its typed failure; a defect or an interruption fails the test. */
const streamed = (model: OpenAiCompatible.ModelLayer, toolkit?: Toolkit.WithHandler<any>) =>
  Stream.runCollect(
    LanguageModel.streamText({
      prompt: "hi",
      ...(toolkit === undefined ? {} : { toolkit, disableToolCallResolution: true })
    } as any) as Stream.Stream<Response.StreamPart<any>, AiError.AiError, LanguageModel.LanguageModel>
  ).pipe(Effect.map((parts) => Array.from(parts)), Effect.provide(model), Effect.exit, Effect.map(typed))

const typed = <A>(exit: Exit.Exit<A, AiError.AiError>): Exit.Exit<A, AiError.AiError> => {
  if (Exit.isFailure(exit) && !Cause.hasFails(exit.cause)) {
    assert.fail(`a defect or an interruption, not a typed error: ${Cause.pretty(exit.cause)}`)
  }
  return exit
}

const textOf = (parts: ReadonlyArray<Response.StreamPart<any>>) =>
  parts.flatMap((part) => part.type === "text-delta" ? [part.delta] : []).join("")

const finishOf = (parts: ReadonlyArray<Response.StreamPart<any>>) => {
  const finish = parts.find((part): part is Response.FinishPart => part.type === "finish")
  assert.isDefined(finish, "a finish part")
  return finish!
}

const succeeded = <A>(exit: Exit.Exit<A, AiError.AiError>): A => {
  if (Exit.isFailure(exit)) return assert.fail(`expected success, got ${Cause.pretty(exit.cause)}`)
  return exit.value
}

const failed = <A>(exit: Exit.Exit<A, AiError.AiError>): AiError.AiError => {
  if (Exit.isSuccess(exit)) return assert.fail(`expected a typed failure, got ${JSON.stringify(exit.value)}`)
  const error = Cause.findError(exit.cause)
  if (error._tag !== "Success") return assert.fail("no typed error")
  return error.success
}

/**
 * A `fetch` that records the size of each read of a response body, as the
 * client receives it; `untilRead(n)` resolves once it has had `n` reads.
 */
const observedFetch = () => {
  const reads: Array<number> = []
  const waiting: Array<readonly [number, () => void]> = []
  const fetch: typeof globalThis.fetch = (input, init) =>
    globalThis.fetch(input, init).then((response) =>
      response.body === null ? response : new globalThis.Response(
        response.body.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform: (bytes, controller) => {
              reads.push(bytes.length)
              for (const [count, resolve] of waiting) if (reads.length >= count) resolve()
              controller.enqueue(bytes)
            }
          })
        ),
        { status: response.status, statusText: response.statusText, headers: response.headers }
      )
    )
  const untilRead = (count: number) =>
    new Promise<void>((resolve) => (reads.length >= count ? resolve() : waiting.push([count, resolve])))
  return { reads, fetch, untilRead }
}

/** Polls `check` with the real clock for up to a second. */
const eventually = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100 && !check(); i++) yield* Effect.sleep("10 millis")
    return check()
  })

// One answer in SSE, kept short (one request per byte boundary): 1-, 2-, 3- and
// 4-byte UTF-8 characters, a comment, a `data:` without its space, an event
// spread over two `data:` lines, the finish reason with the last delta and the
// usage alone in the last chunk (`choices: []`).
const answer = "Hé€𝄞 世界"
const wire = [
  `data: ${JSON.stringify({ choices: [{ delta: { content: "Hé€" } }] })}\n\n`,
  ": keep-alive\n\n",
  `data:${JSON.stringify({ choices: [{ delta: { content: "𝄞 " } }] })}\n\n`,
  `data: {"choices":[{"delta":{"content":"世界"},\ndata: "finish_reason":"stop"}]}\n\n`,
  `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } })}\n\n`,
  "data: [DONE]\n\n"
].join("")

const assertAnswer = (parts: ReadonlyArray<Response.StreamPart<any>>, label: string) => {
  assert.strictEqual(textOf(parts), answer, label)
  const finish = finishOf(parts)
  assert.strictEqual(finish.reason, "stop", label)
  assert.strictEqual(finish.usage.inputTokens.total, 3, label)
  assert.strictEqual(finish.usage.outputTokens.total, 4, label)
}

layer(Layer.mergeAll(ProviderLive, FetchHttpClient.layer, KitLive), { excludeTestServices: true })(
  "OpenAiCompatible at the edges of the wire format",
  (it) => {
    // =========================================================================
    // SSE framing
    // =========================================================================

    it.effect("an answer cut at every byte boundary (inside UTF-8 characters, `data:` and `\\n\\n`) arrives whole", () =>
      Effect.gen(function*() {
        const bytes = new TextEncoder().encode(wire)
        // boundaries 1 … n, two a request (at and at + half), each piece read by the client on its own
        const n = bytes.length - 1
        const half = Math.ceil(n / 2)
        yield* Effect.forEach(
          Array.from({ length: half }, (_, index) => [index + 1, index + 1 + half].filter((cut) => cut <= n)),
          (cuts) =>
            Effect.gen(function*() {
              const observed = observedFetch()
              const pieces = [0, ...cuts].map((from, index) => bytes.slice(from, cuts[index] ?? bytes.length))
              const model = yield* serve((_body, response) => send(response, pieces, { lockstep: observed.untilRead }))
              const exit = yield* Effect.provideService(streamed(model), FetchHttpClient.Fetch, observed.fetch)
              const label = `cut at bytes ${cuts.join(" and ")}`
              assert.deepStrictEqual(observed.reads, pieces.map((piece) => piece.length), label)
              assertAnswer(succeeded(exit), label)
            }),
          { concurrency: 4 }
        )
      }))

    it.effect("an answer sent one byte a read, with CRLF line endings, arrives whole", () =>
      Effect.gen(function*() {
        const bytes = new TextEncoder().encode(wire.replaceAll("\n", "\r\n"))
        const observed = observedFetch()
        const model = yield* serve((_body, response) =>
          send(response, Array.from(bytes, (_, index) => bytes.slice(index, index + 1)), {
            lockstep: observed.untilRead
          })
        )
        const exit = yield* Effect.provideService(streamed(model), FetchHttpClient.Fetch, observed.fetch)
        // the client stops reading at the CR that ends `[DONE]`: the last LF may go unread
        assert.isAtLeast(observed.reads.length, bytes.length - 1)
        assertAnswer(succeeded(exit), "byte by byte, CRLF")
      }))

    it.effect("no `[DONE]`: the body's end ends the stream; the finish reason and usage of the chunks are kept", () =>
      Effect.gen(function*() {
        const model = yield* serve((_body, response) =>
          send(response, [sse([chunk({ content: "Hi" }), chunk({}, "stop"), usageChunk], false)])
        )
        const parts = succeeded(yield* streamed(model))
        assert.strictEqual(textOf(parts), "Hi")
        assert.strictEqual(finishOf(parts).reason, "stop")
        assert.strictEqual(finishOf(parts).usage.inputTokens.total, 12)
      }))

    it.effect("`[DONE]` ends the stream even when the server keeps the connection open, which is then closed", () =>
      Effect.gen(function*() {
        let closedEarly = 0
        const model = yield* serve((_body, response) => {
          response.on("close", () => (response.writableFinished ? undefined : closedEarly++))
          send(response, [sse([chunk({ content: "Hi" }), chunk({}, "stop"), usageChunk])], { ending: "stall" })
        })
        const parts = succeeded(yield* streamed(model).pipe(Effect.timeout("1 second"), Effect.orDie))
        assert.strictEqual(textOf(parts), "Hi")
        assert.strictEqual(finishOf(parts).usage.outputTokens.total, 5)
        assert.isTrue(yield* eventually(() => closedEarly === 1), "the server saw the connection close")
      }))

    // An SSE `retry:` field only sets the reconnection delay (WHATWG HTML §9.2.6);
    // it must not end the stream (`effect/encoding/Sse`'s decoder fails on it: the
    // rest of the answer was lost after "Hi").
    it.effect("a `retry:` field in the stream is a reconnection hint, not the end of the answer", () =>
      Effect.gen(function*() {
        const observed = observedFetch()
        const model = yield* serve((_body, response) =>
          send(response, [
            "retry: 3000\n\n",
            sse([chunk({ content: "Hi" })], false),
            sse([chunk({ content: " there" }, "stop"), usageChunk])
          ], { lockstep: observed.untilRead })
        )
        const parts = succeeded(yield* Effect.provideService(streamed(model), FetchHttpClient.Fetch, observed.fetch))
        assert.strictEqual(textOf(parts), "Hi there")
      }))

    // The last event has no blank line before the body ends (and there is no
    // `[DONE]`): it is delivered. It was discarded, so " there", the finish reason
    // and the usage vanished while the call succeeded short.
    it.effect("a last event without its blank line is not dropped silently", () =>
      Effect.gen(function*() {
        const model = yield* serve((_body, response) =>
          send(response, [
            `data: ${JSON.stringify(chunk({ content: "Hi" }))}\n\n`,
            `data: ${JSON.stringify({ ...chunk({ content: " there" }, "stop"), usage })}\n`
          ])
        )
        const parts = succeeded(yield* streamed(model))
        assert.strictEqual(textOf(parts), "Hi there")
        assert.strictEqual(finishOf(parts).usage.inputTokens.total, 12)
      }))

    // A body that ends with neither `[DONE]` nor a finish reason is a cut
    // answer (a proxy's idle timeout, a crashed worker): InvalidResponseError.
    // It succeeded with the text so far and finish "unknown".
    it.effect("a body that ends with neither `[DONE]` nor a finish reason is a typed error, not an answer", () =>
      Effect.gen(function*() {
        const model = yield* serve((_body, response) =>
          send(response, [sse([chunk({ content: "The answer is" })], false)])
        )
        assert.strictEqual(failed(yield* streamed(model)).reason._tag, "InvalidResponseError")
      }))

    // =========================================================================
    // A 200 that is not an event stream
    // =========================================================================

    // A server that fails before streaming may still answer 200 with a JSON
    // error body (no SSE framing): InternalProviderError "model overloaded", like
    // the same body sent as an event. It succeeded with no text and no usage.
    it.effect("stream: a 200 with a JSON error body is the provider's error, not an empty answer", () =>
      Effect.gen(function*() {
        const model = yield* serve(json(200, { error: { message: "model overloaded", type: "server_error" } }))
        const error = failed(yield* streamed(model))
        assert.strictEqual(error.reason._tag, "InternalProviderError")
        assert.include(error.message, "model overloaded")
      }))

    // An empty or HTML body on a 200 (a captive proxy, a misrouted base URL)
    // holds no chunk at all: InvalidResponseError (both succeeded as an empty answer).
    it.effect("stream: a 200 with an empty or an HTML body is InvalidResponseError, not an empty answer", () =>
      Effect.gen(function*() {
        for (const handler of [raw(200, ""), raw(200, "<html><body>502 Bad Gateway</body></html>")]) {
          const model = yield* serve(handler)
          assert.strictEqual(failed(yield* streamed(model)).reason._tag, "InvalidResponseError")
        }
      }))

    // generateText on a 200 with a JSON error body: InternalProviderError with the
    // provider's message (it was InvalidResponseError "Missing key at [\"choices\"]").
    it.effect("generateText: a 200 with a JSON error body is the provider's error with its message", () =>
      Effect.gen(function*() {
        const error = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
          Effect.flip,
          Effect.provide(yield* serve(json(200, { error: { message: "model overloaded", type: "server_error" } })))
        )
        assert.strictEqual(error.reason._tag, "InternalProviderError")
        assert.include(error.message, "model overloaded")
      }))

    // =========================================================================
    // Usage and finish reasons
    // =========================================================================

    it.effect("finish reasons map to effect/ai's; usage null in every chunk, or absent, is unknown, not zero", () =>
      Effect.gen(function*() {
        const reasons: Array<readonly [string, Response.FinishReason]> = [
          ["length", "length"],
          ["content_filter", "content-filter"],
          ["tool_calls", "tool-calls"],
          ["some_new_reason", "other"]
        ]
        for (const [wireReason, reason] of reasons) {
          const model = yield* serve((_body, response) =>
            send(response, [sse([chunk({ content: "Hi" }), chunk({}, wireReason), usageChunk])])
          )
          const parts = succeeded(yield* streamed(model))
          assert.strictEqual(finishOf(parts).reason, reason)
          assert.strictEqual(textOf(parts), "Hi")
        }
        const nulls = yield* serve((_body, response) =>
          send(response, [sse([{ ...chunk({ content: "Hi" }), usage: null }, { ...chunk({}, "stop"), usage: null }])])
        )
        const finish = finishOf(succeeded(yield* streamed(nulls)))
        assert.isUndefined(finish.usage.inputTokens.total)
        assert.isUndefined(finish.usage.outputTokens.total)
      }))

    it.effect("guarded Inference: usage in the last chunk is committed exactly; no usage at all commits the worst case", () =>
      Effect.gen(function*() {
        yield* fund(100_000)
        const sent: Array<any> = []
        const withUsage = yield* serve((body, response) => {
          sent.push(body)
          send(response, [sse([chunk({ content: "On its way" }), chunk({}, "stop"), usageChunk])])
        })
        const reported = yield* Agent.run(agent(), question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(withUsage)
        )
        assert.strictEqual(reported.status, "complete")
        assert.strictEqual(reported.output, "On its way")
        // 12 input tokens × 1,000 + 5 output tokens × 2,000 nano-USD = 22,000 nano-USD = 2,200 µ¢
        const commit = reported.report.ledger?.find((entry) => entry.operation === "commit")
        assert.strictEqual(commit?.decision, "committed")
        assert.strictEqual(commit?.amount, 2_200)
        assert.isUndefined(commit?.detail)
        assert.strictEqual(sent[0]?.max_tokens, 50)
        assert.deepStrictEqual(sent[0]?.stream_options, { include_usage: true })

        const withoutUsage = yield* serve((_body, response) =>
          send(response, [sse([chunk({ content: "On its way" }), chunk({}, "stop")])])
        )
        const estimated = yield* Agent.run(agent(), question).pipe(
          Guard.withGuard({ subject }),
          Effect.provide(withoutUsage)
        )
        assert.strictEqual(estimated.output, "On its way")
        const charged = estimated.report.ledger?.find((entry) => entry.operation === "commit")
        assert.strictEqual(charged?.amount, worst)
        assert.match(charged?.detail ?? "", /reported no usage/)
        assert.strictEqual((yield* balance).spent, BigInt(2_200 + worst))
      }).pipe(Effect.provide(LedgerTest)))

    // =========================================================================
    // Tool-call deltas
    // =========================================================================

    it.effect("tool calls interleaved by index, arguments in pieces across TCP chunks: each assembled, in order of appearance", () =>
      Effect.gen(function*() {
        const events = sse([
          chunk({
            role: "assistant",
            tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "Get" } }]
          }),
          chunk({
            tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "Get", arguments: "" } }]
          }),
          chunk({ tool_calls: [{ index: 1, function: { arguments: "{\"x\"" } }] }),
          chunk({
            tool_calls: [{ index: 0, function: { arguments: "{\"x\":" } }, { index: 1, function: { arguments: ":2" } }]
          }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }),
          chunk({ tool_calls: [{ index: 1, function: { arguments: "}" } }] }),
          chunk({}, "tool_calls"),
          usageChunk
        ])
        const observed = observedFetch()
        const model = yield* serve((_body, response) =>
          send(response, events.match(/[\s\S]{1,7}/g)!, { lockstep: observed.untilRead })
        )
        const parts = succeeded(
          yield* Effect.provideService(streamed(model, yield* Kit), FetchHttpClient.Fetch, observed.fetch)
        )
        const calls = parts.filter((part) => part.type === "tool-call")
        assert.deepStrictEqual(calls.map((call) => [call.id, call.name, call.params]), [
          ["call_b", "Get", { x: 2 }],
          ["call_a", "Get", { x: 1 }]
        ])
        assert.strictEqual(finishOf(parts).reason, "tool-calls")
        assert.strictEqual(finishOf(parts).usage.inputTokens.total, 12)
      }))

    // Some servers resend the whole name in every delta of a call (MiniMax on
    // NVIDIA NIM, Fireworks, Kimi). Names are atomic: the OpenAI SDK assigns
    // them, vercel/ai sets them once. They were appended ("GetGet").
    it.effect("a tool name repeated in every delta of a call is the name, not its repetition", () =>
      Effect.gen(function*() {
        const model = yield* serve((_body, response) =>
          send(response, [sse([
            chunk({
              tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "Get", arguments: "" } }]
            }),
            chunk({
              tool_calls: [{
                index: 0,
                id: "call_a",
                type: "function",
                function: { name: "Get", arguments: "{\"x\":1}" }
              }]
            }),
            chunk({}, "tool_calls")
          ])])
        )
        const parts = succeeded(yield* streamed(model, yield* Kit))
        assert.deepStrictEqual(parts.filter((part) => part.type === "tool-call").map((call) => call.name), ["Get"])
      }))

    // Gemini's OpenAI-compatible endpoint and Ollama omit `index` on tool-call
    // deltas (each call arrives whole, with its id): a call with no index is
    // taken by its id, or its position (the chunk schema required the index).
    it.effect("tool-call deltas without `index` (each call whole, with its id) are still tool calls", () =>
      Effect.gen(function*() {
        const model = yield* serve((_body, response) =>
          send(response, [sse([
            chunk({
              tool_calls: [{ id: "call_a", type: "function", function: { name: "Get", arguments: "{\"x\":1}" } }]
            }),
            chunk({
              tool_calls: [{ id: "call_b", type: "function", function: { name: "Get", arguments: "{\"x\":2}" } }]
            }),
            chunk({}, "tool_calls")
          ])])
        )
        const parts = succeeded(yield* streamed(model, yield* Kit))
        assert.deepStrictEqual(
          parts.filter((part) => part.type === "tool-call").map((call) => [call.id, call.params]),
          [
            ["call_a", { x: 1 }],
            ["call_b", { x: 2 }]
          ]
        )
      }))

    // Without `index`: an empty id (Gemini behind some proxies) is no id, so two whole calls stay two;
    // and deltas with neither index nor id continue the call the last delta opened, as the first
    // delta of a call may carry its id and name and the later ones only arguments.
    it.effect("tool-call deltas without `index`: an empty id is none, and a delta with neither continues the last call", () =>
      Effect.gen(function*() {
        const model = yield* serve((_body, response) =>
          send(response, [sse([
            chunk({ tool_calls: [{ id: "", type: "function", function: { name: "Get", arguments: "{\"x\":1}" } }] }),
            chunk({ tool_calls: [{ id: "", type: "function", function: { name: "Get", arguments: "{\"x\":2}" } }] }),
            chunk({ tool_calls: [{ id: "c3", type: "function", function: { name: "Get", arguments: "" } }] }),
            chunk({ tool_calls: [{ function: { arguments: "{\"x\"" } }] }),
            chunk({ tool_calls: [{ function: { arguments: ":3}" } }] }),
            // neither index nor id, the name in every delta: one call until its arguments are whole JSON
            chunk({ tool_calls: [{ function: { name: "Get", arguments: "{\"x\":" } }] }),
            chunk({ tool_calls: [{ function: { name: "Get", arguments: "4}" } }] }),
            chunk({ tool_calls: [{ function: { name: "Get", arguments: "{\"x\":5}" } }] }),
            chunk({}, "tool_calls")
          ])])
        )
        const parts = succeeded(yield* streamed(model, yield* Kit))
        const calls = parts.filter((part) => part.type === "tool-call")
        assert.deepStrictEqual(calls.map((call) => call.params), [{ x: 1 }, { x: 2 }, { x: 3 }, { x: 4 }, { x: 5 }])
        assert.strictEqual(calls[2]!.id, "c3")
        assert.notStrictEqual(calls[0]!.id, calls[1]!.id)
      }))

    // =========================================================================
    // Error statuses and bodies
    // =========================================================================

    it.effect("error statuses with JSON, HTML or empty bodies are typed reasons with the provider's message, on both paths", () =>
      Effect.gen(function*() {
        const cases: Array<readonly [Handler, string, string | undefined]> = [
          [
            json(400, { error: { message: "max_tokens is too large", type: "invalid_request_error" } }),
            "InvalidRequestError",
            "max_tokens is too large"
          ],
          [raw(400, ""), "InvalidRequestError", undefined],
          [raw(401, ""), "AuthenticationError", undefined],
          [
            json(404, { error: { message: "The model `edge` does not exist", code: "model_not_found" } }),
            "UnknownError",
            "The model `edge` does not exist"
          ],
          [raw(404, "404 page not found"), "UnknownError", "404 page not found"],
          [
            raw(500, "<html><body><h1>500 Internal Server Error</h1></body></html>", { "content-type": "text/html" }),
            "InternalProviderError",
            "<h1>500 Internal Server Error</h1>"
          ],
          [
            json(503, { error: { message: "overloaded", type: "server_error", code: 503 } }),
            "InternalProviderError",
            "overloaded"
          ]
        ]
        for (const [handler, tag, message] of cases) {
          const model = yield* serve(handler)
          const generated = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(Effect.flip, Effect.provide(model))
          const streamError = failed(yield* streamed(model))
          for (const error of [generated, streamError]) {
            assert.strictEqual(error.reason._tag, tag, `${tag} ${message}`)
            if (message !== undefined) assert.include(error.message, message)
          }
        }
      }))

    it.effect("429: retry-after in seconds is kept, an HTTP-date one is dropped; text bodies are kept as the HTTP body", () =>
      Effect.gen(function*() {
        const seconds = yield* serve(raw(429, "slow down", { "retry-after": "2" }))
        const limited = failed(yield* streamed(seconds)).reason
        assert.strictEqual(limited._tag, "RateLimitError")
        if (limited._tag === "RateLimitError") {
          assert.strictEqual(Duration.toMillis(limited.retryAfter!), 2_000)
          assert.strictEqual(limited.http?.body, "slow down")
          assert.isTrue(limited.isRetryable)
        }
        const date = yield* serve(raw(429, "", { "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" }))
        const dated = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(Effect.flip, Effect.provide(date))
        assert.strictEqual(dated.reason._tag, "RateLimitError")
        if (dated.reason._tag === "RateLimitError") assert.isUndefined(dated.reason.retryAfter)
      }))

    // =========================================================================
    // Resets and stalls
    // =========================================================================

    it.effect("a reset before the headers is a NetworkError; a reset mid-stream a typed error after the text so far", () =>
      Effect.gen(function*() {
        const beforeHeaders = yield* serve((_body, response) => response.socket?.resetAndDestroy())
        assert.strictEqual(failed(yield* streamed(beforeHeaders)).reason._tag, "NetworkError")
        const deltas: Array<string> = []
        // the reset comes once the caller has had "Hel"
        const midStream = yield* serve((_body, response) =>
          send(response, [sse([chunk({ content: "Hel" })], false)], {
            lockstep: async () => {
              while (deltas.length === 0) await sleep(1)
            },
            ending: "reset"
          })
        )
        const exit = yield* LanguageModel.streamText({ prompt: "hi" }).pipe(
          Stream.runForEach((part) => Effect.sync(() => part.type === "text-delta" && deltas.push(part.delta))),
          Effect.provide(midStream),
          Effect.exit,
          Effect.map(typed)
        )
        assert.deepStrictEqual(deltas, ["Hel"])
        assert.isTrue(Exit.isFailure(exit))
      }))

    // A connection reset mid-body is a transport failure, a retryable
    // NetworkError (it was InvalidResponseError "Decode error (200 POST …)").
    it.effect("a connection reset mid-stream is a NetworkError (transport), not an undecodable response", () =>
      Effect.gen(function*() {
        const model = yield* serve((_body, response) =>
          send(response, [sse([chunk({ content: "Hel" })], false)], { gapMs: 5, ending: "reset" })
        )
        const error = failed(yield* streamed(model))
        assert.strictEqual(error.reason._tag, "NetworkError")
        assert.isTrue(error.reason.isRetryable)
      }))

    it.effect("interrupting a stream stalled inside an event (half a `data:` line, half a character) aborts the request", () =>
      Effect.gen(function*() {
        let closedEarly = 0
        const line = new TextEncoder().encode(`data: ${JSON.stringify(chunk({ content: "世界" }))}\n\n`)
        const model = yield* serve((_body, response) => {
          response.on("close", () => (response.writableFinished ? undefined : closedEarly++))
          send(response, [sse([chunk({ content: "Hi" })], false), line.slice(0, line.length - 20)], {
            gapMs: 1,
            ending: "stall"
          })
        })
        const deltas: Array<string> = []
        const fiber = yield* LanguageModel.streamText({ prompt: "hi" }).pipe(
          Stream.runForEach((part) => Effect.sync(() => part.type === "text-delta" && deltas.push(part.delta))),
          Effect.provide(model),
          Effect.forkChild
        )
        assert.isTrue(yield* eventually(() => deltas.length === 1), "the first delta arrived")
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(deltas, ["Hi"])
        assert.isTrue(yield* eventually(() => closedEarly === 1), "the server saw the connection close")
      }))

    // =========================================================================
    // Non-streaming bodies and long answers
    // =========================================================================

    it.effect("generateText: content null with a refusal, unknown fields, empty tool arguments", () =>
      Effect.gen(function*() {
        const filtered = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
          Effect.provide(
            yield* serve(json(200, {
              id: "chatcmpl-x",
              choices: [{
                index: 0,
                message: { role: "assistant", content: null, refusal: "I can't" },
                finish_reason: "content_filter"
              }],
              usage
            }))
          )
        )
        assert.strictEqual(filtered.text, "")
        assert.strictEqual(filtered.finishReason, "content-filter")
        assert.strictEqual(filtered.usage.inputTokens.total, 12)
        const extra = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
          Effect.provide(
            yield* serve(json(200, {
              id: "chatcmpl-x",
              system_fingerprint: "fp_1",
              service_tier: "default",
              choices: [{
                index: 0,
                logprobs: null,
                message: { role: "assistant", content: "ok", annotations: [], audio: null, refusal: null },
                finish_reason: "stop"
              }],
              usage: {
                ...usage,
                prompt_tokens_details: { cached_tokens: 2, audio_tokens: 0 },
                completion_tokens_details: { reasoning_tokens: 1, accepted_prediction_tokens: 0 }
              }
            }))
          )
        )
        assert.strictEqual(extra.text, "ok")
        assert.strictEqual(extra.usage.inputTokens.cacheRead, 2)
        assert.strictEqual(extra.usage.outputTokens.reasoning, 1)
        const noArguments = yield* LanguageModel.generateText({ prompt: "hi", toolkit: yield* Kit }).pipe(
          Effect.provide(
            yield* serve(json(200, {
              choices: [{
                index: 0,
                message: {
                  role: "assistant",
                  content: null,
                  tool_calls: [{ id: "call_1", type: "function", function: { name: "Ping", arguments: "" } }]
                },
                finish_reason: "tool_calls"
              }]
            }))
          )
        )
        assert.deepStrictEqual(noArguments.toolCalls.map((call) => [call.name, call.params]), [["Ping", {}]])
        assert.deepStrictEqual(noArguments.toolResults.map((result) => result.result), ["pong"])
      }))

    it.effect("long answers: 5,000 small deltas and one 512 KiB delta stream whole; a 1 MiB completion is whole", () =>
      Effect.gen(function*() {
        const words = Array.from({ length: 5_000 }, (_, index) => `${index % 10 === 0 ? "é" : "w"}${index} `)
        const big = "€".repeat(512 * 1024 / 3) + "end"
        const model = yield* serve((_body, response) =>
          send(response, [sse([
            ...words.map((word) => chunk({ content: word })),
            chunk({ content: big }),
            chunk({}, "length"),
            usageChunk
          ])])
        )
        const parts = succeeded(yield* streamed(model))
        assert.strictEqual(textOf(parts), words.join("") + big)
        assert.strictEqual(finishOf(parts).reason, "length")
        const huge = "x".repeat(1024 * 1024)
        const whole = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
          Effect.provide(
            yield* serve(
              json(200, { choices: [{ index: 0, message: { content: huge }, finish_reason: "stop" }], usage })
            )
          )
        )
        assert.strictEqual(whole.text.length, huge.length)
      }))
  }
)
