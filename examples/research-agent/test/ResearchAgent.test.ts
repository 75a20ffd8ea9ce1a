import { assert, describe, it } from "@effect/vitest"
import { Agent, type Budget, Report, type RunEvent, Simulation } from "@timebox/core"
import { ConfigProvider, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ResearchAgent } from "../src/index.ts"

const question = "Why do solid-state batteries lose capacity?"

const seeds = Array.from({ length: 50 }, (_, index) => index + 1)

interface RunOptions {
  readonly budget?: Budget.DurationText
  readonly seed?: number
  readonly latencies?: Record<string, number>
  readonly env?: Record<string, string>
}

// No TIMEBOX_MODEL from the developer's shell: the simulated models, unless a test sets one.
const withEnv = (env: Record<string, string> = {}) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

// Runs a profile under TestClock: fork, move the clock past any deadline, join.
const run = (profile: ResearchAgent.ProfileName, options: RunOptions = {}) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(
      Agent.run(
        ResearchAgent.agents[profile],
        question,
        options.budget === undefined ? undefined : { budget: options.budget }
      ).pipe(
        Simulation.withSeed(options.seed ?? 1),
        Simulation.withLatencies(options.latencies ?? {}),
        withEnv(options.env)
      )
    )
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const events = (profile: ResearchAgent.ProfileName, options: RunOptions = {}) =>
  Effect.gen(function*() {
    const seen: Array<RunEvent.RunEvent> = []
    const fiber = yield* Effect.forkChild(
      Stream.runForEach(
        Agent.stream(
          ResearchAgent.agents[profile],
          question,
          options.budget === undefined ? undefined : { budget: options.budget }
        ),
        (event) => Effect.sync(() => seen.push(event))
      ).pipe(Simulation.withSeed(options.seed ?? 1), Simulation.withLatencies(options.latencies ?? {}), withEnv())
    )
    yield* TestClock.adjust("1 minute")
    yield* Fiber.join(fiber)
    return seen
  })

interface ChatRequest {
  readonly model: string
  readonly stream?: boolean
  readonly messages: ReadonlyArray<unknown>
  readonly tools?: ReadonlyArray<{ readonly function: { readonly name: string } }>
}

const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "gpt-test",
  choices: [{ index: 0, delta, finish_reason: finishReason }]
})

// A local chat-completions server that streams one short answer and records the requests.
const chatServer = Effect.acquireRelease(
  Effect.callback<{ readonly server: Server; readonly url: string; readonly requests: Array<ChatRequest> }>(
    (resume) => {
      const requests: Array<ChatRequest> = []
      const server = createServer((request: IncomingMessage, response: ServerResponse) => {
        let body = ""
        request.on("data", (data) => (body += data))
        request.on("end", () => {
          requests.push(JSON.parse(body) as ChatRequest)
          response.writeHead(200, { "content-type": "text/event-stream" })
          const parts = [
            chunk({ role: "assistant", content: "" }),
            chunk({ content: "Capacity fades " }),
            chunk({ content: "as the interface degrades." }),
            chunk({}, "stop"),
            { ...chunk({}), choices: [], usage: { prompt_tokens: 40, completion_tokens: 7, total_tokens: 47 } }
          ]
          for (const part of parts) response.write(`data: ${JSON.stringify(part)}\n\n`)
          response.end("data: [DONE]\n\n")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}/v1`, requests }))
      })
    }
  ),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const statuses = (result: Report.RunResult<unknown>) =>
  result.report.stages.map((stage) => [stage.name, stage.status] as const)

const children = (result: Report.RunResult<unknown>, path: string) =>
  Report.find(result.report, path)?.children?.map((child) => [child.name, child.status] as const)

const output = (result: Report.RunResult<ResearchAgent.Answer>): ResearchAgent.Answer => {
  assert.notStrictEqual(result.output, null, `no output: ${result.status}`)
  return result.output!
}

describe("full", () => {
  it.effect("12 s: complete for every seed, on the reasoning model, with two dependent tool steps and the verifier", () =>
    Effect.gen(function*() {
      for (const seed of seeds) {
        const result = yield* run("full", { budget: "12 seconds", seed })
        assert.strictEqual(result.status, "complete", `seed ${seed}: ${JSON.stringify(result.report.skipped)}`)
        assert.isBelow(result.report.elapsedMs, 11_000, `seed ${seed}`)
        const inference = Report.find(result.report, "inference")!
        assert.strictEqual(inference.model?.chosen, "reasoning")
        assert.strictEqual(inference.model?.reason, "most-capable-that-fits")
        assert.strictEqual(inference.steps, 3)
        assert.isAbove(inference.ttftMs ?? 0, 0)
        assert.isAbove(inference.ttltMs ?? 0, inference.ttftMs ?? 0)
        assert.deepStrictEqual(children(result, "inference"), [
          ["WebSearch", "completed"],
          ["QueryData", "completed"],
          ["ReadPage", "completed"]
        ])
        const answer = output(result)
        assert.isTrue(answer.verification.checked)
        assert.strictEqual(answer.stopReason, "answered")
        assert.strictEqual(answer.model, "reasoning")
        assert.isAbove(result.report.cost.reasoningTokens, 0)
      }
    }))

  it.effect("the search and the dataset query run in parallel, the page read after them", () =>
    Effect.gen(function*() {
      const result = yield* run("full")
      const [search, data, read] = Report.find(result.report, "inference")!.children!
      assert.strictEqual(search!.startedAtMs, data!.startedAtMs)
      assert.isAtLeast(
        read!.startedAtMs,
        Math.max(search!.startedAtMs + search!.actualMs, data!.startedAtMs + data!.actualMs)
      )
    }))

  it.effect("3 s: routes to the fast model for every seed, answers, and skips the verifier", () =>
    Effect.gen(function*() {
      for (const seed of seeds) {
        const result = yield* run("full", { budget: "3 seconds", seed })
        assert.strictEqual(result.status, "partial", `seed ${seed}`)
        assert.isAtMost(result.report.elapsedMs, 3_000)
        const inference = Report.find(result.report, "inference")!
        assert.strictEqual(inference.status, "completed", `seed ${seed}: ${inference.reason}`)
        assert.strictEqual(inference.model?.chosen, "fast")
        assert.strictEqual(inference.model?.reason, "most-capable-that-fits")
        assert.deepStrictEqual(inference.model?.candidates.map((candidate) => [candidate.name, candidate.fits]), [
          ["reasoning", false],
          ["fast", true]
        ])
        assert.strictEqual(inference.steps, 2)
        // the fast model asks for the three tools at once
        const calls = inference.children!
        assert.deepStrictEqual(calls.map((call) => call.name), ["WebSearch", "QueryData", "ReadPage"])
        assert.isTrue(calls.every((call) => call.startedAtMs === calls[0]!.startedAtMs))
        const verifier = Report.find(result.report, "verifier")!
        assert.strictEqual(verifier.status, "skipped")
        assert.strictEqual(verifier.reason, "insufficient-budget")
        assert.deepStrictEqual(result.report.skipped, [
          { stage: "verifier", path: "verifier", status: "skipped", reason: "insufficient-budget" }
        ])
        const answer = output(result)
        assert.strictEqual(answer.model, "fast")
        assert.strictEqual(answer.stopReason, "answered")
        assert.notInclude(answer.answer, "No time")
        assert.deepStrictEqual(answer.verification, {
          checked: false,
          note: "not verified (skipped: insufficient-budget)"
        })
      }
    }))

  it.effect("a page read past its 1 s allocation is cut; the model reads \"skipped: deadline\" and still answers", () =>
    Effect.gen(function*() {
      const seen = yield* events("full", { latencies: { ReadPage: 2_000 } })
      const read = seen.find((event) => event.type === "tool-result" && event.name === "ReadPage")
      assert.deepStrictEqual(read?.type === "tool-result" ? [read.status, read.result] : [], [
        "timed-out",
        "skipped: deadline"
      ])
      // the model took one more step after the note: its answer streamed after the tool result
      const readAt = seen.indexOf(read!)
      assert.isTrue(seen.slice(readAt).some((event) => event.type === "text-delta"))
      const end = seen.at(-1)!
      assert.strictEqual(end.type, "run-end")
      const result = (end as RunEvent.RunEnd).result as Report.RunResult<ResearchAgent.Answer>
      assert.strictEqual(result.status, "partial")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.status, "degraded")
      assert.strictEqual(inference.reason, "ReadPage timed-out")
      assert.strictEqual(Report.find(result.report, "inference/ReadPage")?.actualMs, 1_000)
      assert.strictEqual(inference.steps, 3)
      assert.deepStrictEqual(output(result).toolNotes, [
        "WebSearch: ok",
        "QueryData: ok",
        "ReadPage: skipped: deadline"
      ])
      assert.isTrue(output(result).verification.checked)
    }))

  it.effect("7 s: a third reasoning step is unaffordable for every seed; the answer comes from the tools", () =>
    Effect.gen(function*() {
      for (const seed of seeds) {
        const result = yield* run("full", { budget: "7 seconds", seed })
        assert.strictEqual(result.status, "partial", `seed ${seed}`)
        const inference = Report.find(result.report, "inference")!
        assert.strictEqual(inference.model?.chosen, "reasoning")
        assert.strictEqual(inference.status, "degraded")
        assert.strictEqual(inference.reason, "step-unaffordable")
        assert.strictEqual(inference.steps, 2)
        const answer = output(result)
        assert.strictEqual(answer.stopReason, "step-unaffordable")
        assert.include(answer.answer, "No time for the model's final step (step-unaffordable)")
        assert.include(answer.answer, "the effect is reproduced")
      }
    }))

  it.effect("a slow verifier is cut at its 1.5 s window; the answer comes unverified", () =>
    Effect.gen(function*() {
      const result = yield* run("full", { latencies: { verifier: 3_000 } })
      assert.strictEqual(result.status, "partial")
      const verifier = Report.find(result.report, "verifier")!
      assert.deepStrictEqual([verifier.status, verifier.reason, verifier.actualMs], ["timed-out", "deadline", 1_500])
      assert.deepStrictEqual(output(result).verification, {
        checked: false,
        note: "not verified (timed-out: deadline)"
      })
    }))

  it.effect("a cold paper index is cut at 500 ms; the wiki index and the rest of the run go on", () =>
    Effect.gen(function*() {
      const result = yield* run("full", { latencies: { "papers-index": ResearchAgent.coldMillis } })
      assert.strictEqual(result.status, "partial")
      const retrieval = Report.find(result.report, "retrieval")!
      assert.deepStrictEqual([retrieval.status, retrieval.reason], ["degraded", "papers-index timed-out"])
      assert.deepStrictEqual(children(result, "retrieval"), [["papers-index", "timed-out"], [
        "wiki-index",
        "completed"
      ]])
      assert.strictEqual(Report.find(result.report, "retrieval/papers-index")?.actualMs, 500)
      assert.deepStrictEqual(statuses(result).slice(1), [
        ["inference", "completed"],
        ["verifier", "completed"],
        ["assembly", "completed"]
      ])
      assert.deepStrictEqual(output(result).sources, ["wiki/why-do-solid-state-batteries-lose.md"])
    }))

  it.live("TIMEBOX_MODEL=openai:<model> routes the inference to that model instead of the simulated ones", () =>
    Effect.gen(function*() {
      const server = yield* chatServer
      const result = yield* Agent.run(ResearchAgent.agent, question).pipe(
        // Instant indexes and verifier: only the HTTP call takes (real) time.
        Simulation.withLatencies({ "papers-index": 0, "wiki-index": 0, verifier: 0 }),
        withEnv({ TIMEBOX_MODEL: "openai:gpt-test", OPENAI_BASE_URL: server.url })
      )
      assert.strictEqual(result.status, "complete")
      const inference = Report.find(result.report, "inference")!
      assert.strictEqual(inference.model?.chosen, "gpt-test")
      assert.deepStrictEqual(inference.model?.candidates.map((candidate) => candidate.name), ["gpt-test"])
      assert.strictEqual(output(result).answer, "Capacity fades as the interface degrades.")
      assert.strictEqual(output(result).model, "gpt-test")
      assert.deepStrictEqual(result.report.cost.inputTokens, 40)
      const [request] = server.requests
      assert.strictEqual(request?.model, "gpt-test")
      assert.strictEqual(request?.stream, true)
      assert.deepStrictEqual(request?.tools?.map((tool) => tool.function.name), ["WebSearch", "ReadPage", "QueryData"])
      assert.include(JSON.stringify(request?.messages), question)
    }))
})

describe("fast-tools", () => {
  it.effect("4 s: complete for every seed, the three tools in one parallel step, no verifier", () =>
    Effect.gen(function*() {
      for (const seed of seeds) {
        const result = yield* run("fast-tools", { seed })
        assert.strictEqual(result.status, "complete", `seed ${seed}`)
        assert.isBelow(result.report.elapsedMs, 3_000)
        assert.deepStrictEqual(result.report.stages.map((stage) => stage.name), ["retrieval", "inference", "assembly"])
        const inference = Report.find(result.report, "inference")!
        assert.strictEqual(inference.model?.chosen, "fast")
        assert.strictEqual(inference.steps, 2)
        const calls = inference.children!
        assert.deepStrictEqual(calls.map((call) => call.name), ["WebSearch", "QueryData", "ReadPage"])
        assert.isTrue(calls.every((call) => call.startedAtMs === calls[0]!.startedAtMs))
        assert.deepStrictEqual(output(result).verification, { checked: false, note: "no verifier in fast-tools" })
        assert.strictEqual(result.report.cost.reasoningTokens, 0)
      }
    }))

  it.effect("a slow page read is cut at 1 s without delaying the other calls; the model answers with the note", () =>
    Effect.gen(function*() {
      const result = yield* run("fast-tools", { latencies: { ReadPage: 2_000 } })
      assert.strictEqual(result.status, "partial")
      assert.deepStrictEqual(children(result, "inference"), [
        ["WebSearch", "completed"],
        ["QueryData", "completed"],
        ["ReadPage", "timed-out"]
      ])
      assert.strictEqual(Report.find(result.report, "inference/ReadPage")?.actualMs, 1_000)
      assert.isBelow(Report.find(result.report, "inference/WebSearch")!.actualMs, 1_000)
      const answer = output(result)
      assert.strictEqual(answer.stopReason, "answered")
      assert.include(answer.toolNotes, "ReadPage: skipped: deadline")
    }))

  it.effect("2 s: a second model step is unaffordable for every seed; the answer comes from the tools", () =>
    Effect.gen(function*() {
      for (const seed of seeds) {
        const result = yield* run("fast-tools", { budget: "2 seconds", seed })
        assert.strictEqual(result.status, "partial", `seed ${seed}`)
        assert.isAtMost(result.report.elapsedMs, 2_000)
        const inference = Report.find(result.report, "inference")!
        assert.deepStrictEqual([inference.status, inference.reason, inference.steps], [
          "degraded",
          "step-unaffordable",
          1
        ])
        assert.strictEqual(output(result).stopReason, "step-unaffordable")
      }
    }))

  it.effect("a cold wiki index is cut; the answer still comes", () =>
    Effect.gen(function*() {
      const result = yield* run("fast-tools", { latencies: { "wiki-index": ResearchAgent.coldMillis } })
      assert.strictEqual(result.status, "partial")
      assert.deepStrictEqual(children(result, "retrieval"), [["papers-index", "completed"], [
        "wiki-index",
        "timed-out"
      ]])
      assert.strictEqual(output(result).stopReason, "answered")
    }))

  it.effect("1 s: failed, with a whole report (inference needs at least 1.2 s)", () =>
    Effect.gen(function*() {
      const result = yield* run("fast-tools", { budget: "1 second" })
      assert.strictEqual(result.status, "failed")
      assert.strictEqual(result.status === "failed" && result.reason, "budget-exhausted")
      assert.deepStrictEqual(statuses(result), [
        ["retrieval", "skipped"],
        ["inference", "skipped"],
        ["assembly", "skipped"]
      ])
    }))
})

describe("fast-small-toolset", () => {
  it.effect("4 s: complete for every seed with web search only", () =>
    Effect.gen(function*() {
      for (const seed of seeds) {
        const result = yield* run("fast-small-toolset", { seed })
        assert.strictEqual(result.status, "complete", `seed ${seed}`)
        assert.isBelow(result.report.elapsedMs, 3_000)
        const inference = Report.find(result.report, "inference")!
        assert.strictEqual(inference.model?.chosen, "fast")
        assert.deepStrictEqual(children(result, "inference"), [["WebSearch", "completed"]])
        assert.deepStrictEqual(output(result).toolNotes, ["WebSearch: ok"])
      }
    }))

  it.effect("uses fewer tokens than fast-tools on the same question", () =>
    Effect.gen(function*() {
      const small = yield* run("fast-small-toolset")
      const wide = yield* run("fast-tools")
      assert.isBelow(small.report.cost.outputTokens, wide.report.cost.outputTokens)
      assert.isBelow(small.report.cost.microUsd, wide.report.cost.microUsd)
    }))

  it.effect("a slow search is cut at 1 s; the model answers with the note", () =>
    Effect.gen(function*() {
      const result = yield* run("fast-small-toolset", { latencies: { WebSearch: 2_000 } })
      assert.strictEqual(result.status, "partial")
      assert.deepStrictEqual(children(result, "inference"), [["WebSearch", "timed-out"]])
      assert.deepStrictEqual(output(result).toolNotes, ["WebSearch: skipped: deadline"])
      assert.strictEqual(output(result).stopReason, "answered")
    }))

  it.effect("2 s: a second model step is unaffordable for every seed", () =>
    Effect.gen(function*() {
      for (const seed of seeds) {
        const result = yield* run("fast-small-toolset", { budget: "2 seconds", seed })
        assert.strictEqual(result.status, "partial", `seed ${seed}`)
        assert.strictEqual(Report.find(result.report, "inference")?.reason, "step-unaffordable")
      }
    }))

  it.effect("both indexes cold: retrieval cut, the answer still comes", () =>
    Effect.gen(function*() {
      const cold = ResearchAgent.coldMillis
      const result = yield* run("fast-small-toolset", { latencies: { "papers-index": cold, "wiki-index": cold } })
      assert.strictEqual(result.status, "partial")
      assert.deepStrictEqual(children(result, "retrieval"), [["papers-index", "timed-out"], [
        "wiki-index",
        "timed-out"
      ]])
      assert.deepStrictEqual(output(result).sources, [])
      assert.strictEqual(output(result).stopReason, "answered")
    }))
})

describe("agents", () => {
  it("one agent per profile; the default is full", () => {
    assert.deepStrictEqual(Object.keys(ResearchAgent.agents), ["full", "fast-tools", "fast-small-toolset"])
    assert.strictEqual(ResearchAgent.agent, ResearchAgent.agents.full)
    for (const agent of Object.values(ResearchAgent.agents)) assert.strictEqual(agent.name, "research-agent")
  })

  it.effect("every profile passes Agent.validate", () =>
    Effect.forEach(Object.values(ResearchAgent.agents), (agent) => Agent.validate(agent), { discard: true }))
})
