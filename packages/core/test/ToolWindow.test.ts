import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, type Budget, Pipeline, Stage, ToolWindow } from "../src/index.ts"
import { record, runFor } from "./utils.ts"

const tool = (name: string, latency: number, allocation?: Budget.Allocation) =>
  ToolWindow.call(name, Effect.as(Effect.sleep(latency), `${name}:ok`), allocation === undefined ? {} : { allocation })

const toolsAgent = <A>(run: Effect.Effect<A>, allocation: Budget.Allocation = "300 millis") =>
  Agent.make({
    name: "tools",
    budget: "1 second",
    pipeline: Pipeline.make<void>()
      .add(Stage.optional("tools", () => run, { allocation, fallback: () => undefined }))
      .add(Stage.required("after", () => Effect.void))
  })

describe("ToolWindow", () => {
  it.effect("parallel: a slow call is cut at its own deadline without delaying the others", () =>
    Effect.gen(function*() {
      let results: ReadonlyArray<ToolWindow.ToolResult<string>> = []
      const run = ToolWindow.parallel([
        tool("order-lookup", 200, "250 millis"),
        tool("kb-search", 400, "100 millis"),
        tool("weather", 50)
      ]).pipe(Effect.tap((r) => Effect.sync(() => (results = r))))
      const result = yield* runFor(toolsAgent(run), undefined, "1 second")
      assert.deepStrictEqual(results, [
        { _tag: "Completed", name: "order-lookup", value: "order-lookup:ok" },
        { _tag: "Skipped", name: "kb-search", status: "timed-out", reason: "deadline", note: "skipped: deadline" },
        { _tag: "Completed", name: "weather", value: "weather:ok" }
      ])
      // the calls ran in parallel: the stage took the longest completed call, 200 ms
      assert.strictEqual(record(result, "tools").actualMs, 200)
      assert.strictEqual(record(result, "tools/kb-search").actualMs, 100)
      assert.strictEqual(record(result, "tools/weather").windowMs, 300)
      assert.strictEqual(record(result, "tools").status, "degraded")
      assert.strictEqual(result.status, "partial")
    }))

  it.effect("parallel: calls cut at the shared window still yield explicit results", () =>
    Effect.gen(function*() {
      let results: ReadonlyArray<ToolWindow.ToolResult<string>> = []
      const run = ToolWindow.parallel([tool("a", 500, "400 millis"), tool("b", 50)]).pipe(
        Effect.tap((r) => Effect.sync(() => (results = r)))
      )
      const result = yield* runFor(toolsAgent(run, "120 millis"), undefined, "1 second")
      assert.deepStrictEqual(results.map((r) => r._tag === "Skipped" ? r.note : r.value), ["skipped: deadline", "b:ok"])
      assert.strictEqual(record(result, "tools").status, "degraded")
      assert.strictEqual(record(result, "tools").actualMs, 120)
      assert.strictEqual(record(result, "tools/a").windowMs, 120)
    }))

  it.effect("sequential: per-call timeouts; once the window is spent the rest are skipped unstarted", () =>
    Effect.gen(function*() {
      const started: Array<string> = []
      const step = (name: string, latency: number, allocation: Budget.Allocation) =>
        ToolWindow.call(
          name,
          (previous) =>
            Effect.sync(() => started.push(name)).pipe(
              Effect.andThen(Effect.sleep(latency)),
              Effect.as(`${name} after ${previous.length}`)
            ),
          { allocation }
        )
      let results: ReadonlyArray<ToolWindow.ToolResult<string>> = []
      const run = ToolWindow.sequential([
        step("search", 100, "150 millis"),
        step("fetch", 500, "150 millis"),
        step("summarize", 100, "150 millis"),
        step("cite", 10, "50 millis")
      ]).pipe(Effect.tap((r) => Effect.sync(() => (results = r))))
      const result = yield* runFor(toolsAgent(run), undefined, "1 second")
      // search 100 ms, fetch cut at 150 ms (t = 250), summarize gets min(150, 50) = 50 → cut at t = 300,
      // cite finds nothing left: skipped without starting
      assert.deepStrictEqual(started, ["search", "fetch", "summarize"])
      assert.deepStrictEqual(results.map((r) => [r.name, r._tag === "Skipped" ? r.note : r.value]), [
        ["search", "search after 0"],
        ["fetch", "skipped: deadline"],
        ["summarize", "skipped: deadline"],
        ["cite", "skipped: deadline"]
      ])
      assert.deepStrictEqual(
        record(result, "tools").children?.map((child) => [child.name, child.status, child.windowMs]),
        [["search", "completed", 150], ["fetch", "timed-out", 150], ["summarize", "timed-out", 50], [
          "cite",
          "skipped",
          0
        ]]
      )
      assert.strictEqual(record(result, "tools").actualMs, 300)
    }))

  it.effect("a failing call yields a failed note, not silence", () =>
    Effect.gen(function*() {
      let results: ReadonlyArray<ToolWindow.ToolResult<never>> = []
      const run = ToolWindow.parallel([ToolWindow.call("flaky", Effect.fail(new Error("HTTP 500")))]).pipe(
        Effect.tap((r) => Effect.sync(() => (results = r)))
      )
      yield* runFor(toolsAgent(run), undefined, "1 second")
      assert.deepStrictEqual(results, [
        { _tag: "Skipped", name: "flaky", status: "failed", reason: "HTTP 500", note: "failed: HTTP 500" }
      ])
    }))
})
