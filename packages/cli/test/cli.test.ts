import { Report, RunEvent, Simulation } from "@timebox/core"
import { SupportAgent } from "@timebox/example-support-agent"
import { Schema } from "effect"
import { tmpdir } from "node:os"
import { describe, expect, it } from "vitest"
import { fixture, type Outcome, root, shared, timebox } from "./harness.ts"

const decode = Schema.decodeUnknownSync(Report.RunResultJson)

const json = (outcome: Outcome): Report.RunResult<unknown> => decode(JSON.parse(outcome.stdout))

const decodeEvent = Schema.decodeUnknownSync(RunEvent.RunEvent)

// Every stdout line of `--stream --json` as an event; the run-end's result decoded as a RunResult.
const events = (outcome: Outcome): Array<RunEvent.RunEvent> =>
  outcome.stdout.trimEnd().split("\n").map((line) => {
    const event = decodeEvent(JSON.parse(line))
    return event.type === "run-end" ? { type: "run-end", result: decode(event.result) } : event
  })

const runEnd = (all: ReadonlyArray<RunEvent.RunEvent>): Report.RunResult<any> => {
  const last = all.at(-1)
  expect(last?.type).toBe("run-end")
  return (last as RunEvent.RunEnd).result as Report.RunResult<any>
}

// The research agent's acceptance runs read no TIMEBOX_MODEL from the developer's shell.
const simulated = { env: { TIMEBOX_MODEL: undefined } }

const stageNames = ["auth", "context", "history", "rag", "profile", "inference", "tools", "assembly"]

const ansi = "\u001b["

// Runs read by several tests happen once.
const once = shared()

const canImportTypeScript = typeof (process.features as { readonly typescript?: unknown }).typescript === "string"

// Runs whose timings are asserted go one at a time, before the concurrent ones,
// so that other processes starting on the same cores do not skew them.
describe("timebox run, timed", () => {
  it("--budget 700ms ends partial within 705 ms, with an optional stage skipped or cut", { retry: 2 }, async () => {
    const outcome = await timebox(["run", "support-agent", "--budget", "700ms", "--json"])
    expect(outcome.stderr).toBe("")
    expect(outcome.code).toBe(0)
    const result = json(outcome)
    expect(result.status).toBe("partial")
    expect(result.report.budgetMs).toBe(700)
    expect(result.report.elapsedMs).toBeLessThanOrEqual(705)
    const dropped = result.report.skipped.filter((entry) => entry.status === "skipped" || entry.status === "timed-out")
    expect(dropped.length).toBeGreaterThan(0)
    for (const entry of dropped) expect(entry.path).toMatch(/^(context|tools)(\/|$)/)
  })

  it("--latency rag=400ms forces rag past its window: partial, rag cut", async () => {
    const outcome = await timebox(["run", "support-agent", "--latency", "rag=400ms", "--json"])
    expect(outcome.code).toBe(0)
    const result = json(outcome)
    expect(result.status).toBe("partial")
    const rag = Report.find(result.report, "context/rag")
    expect(["timed-out", "skipped"]).toContain(rag?.status)
    expect(result.report.skipped.map((entry) => entry.path)).toContain("context/rag")
    expect(rag!.actualMs).toBeLessThan(400)
  })

  it("--seed picks the simulated latencies", async () => {
    for (const seed of [1, 2, 3]) {
      const outcome = await timebox(["run", "support-agent", "--seed", String(seed), "--json"])
      expect(outcome.code).toBe(0)
      const result = json(outcome)
      expect(result.status).toBe("complete")
      const { min, max } = SupportAgent.latencies["order-lookup"]
      const drawn = Math.round(min + Simulation.uniform(seed, "order-lookup") * (max - min))
      const actual = Report.find(result.report, "tools/order-lookup")!.actualMs
      expect(actual).toBeGreaterThanOrEqual(drawn - 2)
      expect(actual).toBeLessThanOrEqual(drawn + 60)
    }
  })
})

// A few runs at a time, so that their timings are not skewed by twenty other processes starting.
describe.concurrent("research-agent", () => {
  it("--profile full --budget 12s --stream: tokens as they arrive, then the report; complete on the reasoning model", async () => {
    const outcome = await timebox(
      ["run", "research-agent", "--profile", "full", "--budget", "12s", "--stream"],
      simulated
    )
    expect(outcome.stderr).toBe("")
    expect(outcome.code, outcome.stdout.slice(-3000)).toBe(0)
    const header = "research-agent  profile full  budget 12000ms  seed 1"
    const at = outcome.stdout.indexOf(`\n\n${header}\n`)
    expect(at).toBeGreaterThan(0)
    const streamed = outcome.stdout.slice(0, at)
    expect(streamed.length).toBeGreaterThan(100)
    expect(outcome.stdout).toContain(`output  ${streamed}\n`)
    // Live: the first tokens came well before the report, over many writes.
    const first = outcome.chunks[0]!
    const report = outcome.chunks.find((chunk) => chunk.text.includes(header))!
    expect(first.text.startsWith(header)).toBe(false)
    expect(report.atMs - first.atMs).toBeGreaterThan(500)
    expect(outcome.chunks.indexOf(report)).toBeGreaterThan(5)
    expect(outcome.stdout).toMatch(
      /^ {2}inference {2}reasoning: most-capable-that-fits in a 10500ms window \(reasoning p95 3469ms fits, fast p95 1176ms fits\)$/m
    )
    expect(outcome.stdout).toMatch(/^ +first token \d+ms {2}last token \d+ms {2}3 steps$/m)
    for (const name of ["retrieval", "papers-index", "wiki-index", "inference", "WebSearch", "QueryData", "ReadPage"]) {
      expect(outcome.stdout).toMatch(new RegExp(`^ +${name} +completed `, "m"))
    }
    expect(outcome.stdout).toMatch(/^ +verifier +completed /m)
    const summary = outcome.stdout.trimEnd().split("\n").at(-1)!
    expect(summary).toMatch(
      /^complete {2}(\d+)ms \/ 12000ms {2}cost \d+ µUSD \(\d+ in, \d+ out, \d+ reasoning tokens\) {2}skipped: none$/
    )
    expect(Number(/^complete {2}(\d+)ms/.exec(summary)![1])).toBeLessThanOrEqual(12_000)
  })

  it("--budget 3s --stream --json: one event a line; routed to the fast model, the verifier skipped, and why", async () => {
    const outcome = await timebox(
      ["run", "research-agent", "--profile", "full", "--budget", "3s", "--stream", "--json"],
      simulated
    )
    expect(outcome.stderr).toBe("")
    expect(outcome.code, outcome.stdout.slice(-3000)).toBe(0)
    const all = events(outcome)
    const types = new Set(all.map((event) => event.type))
    for (const type of ["run-end", "stage-end", "stage-start", "tool-call", "tool-result"] as const) {
      expect(types.has(type), type).toBe(true)
    }
    expect(all.filter((event) => event.type === "run-end")).toHaveLength(1)
    const result = runEnd(all)
    // Text streams when the model had time for its answering step; on a loaded machine the loop may stop
    // first (step-unaffordable) and the answer is assembled from the tool results alone.
    const answered = Report.find(result.report, "inference")?.reason?.includes("step-unaffordable") !== true
    if (answered) expect(types.has("text-delta")).toBe(true)
    expect(result.status).toBe("partial")
    expect(result.report.elapsedMs).toBeLessThanOrEqual(3_005)
    const inference = Report.find(result.report, "inference")!
    expect(inference.model?.chosen).toBe("fast")
    expect(inference.model?.reason).toBe("most-capable-that-fits")
    expect(inference.model?.candidates.map((candidate) => [candidate.name, candidate.fits])).toEqual([
      ["reasoning", false],
      ["fast", true]
    ])
    expect(inference.windowMs).toBeLessThan(inference.model!.candidates[0]!.p95Ms)
    expect(result.report.skipped).toEqual([
      { stage: "verifier", path: "verifier", status: "skipped", reason: "insufficient-budget" }
    ])
    expect(result.output.verification).toEqual({ checked: false, note: "not verified (skipped: insufficient-budget)" })
    // The streamed text is the answer, token by token.
    const deltas = all.flatMap((event) => (event.type === "text-delta" ? [event] : []))
    if (answered) {
      expect(deltas.length).toBeGreaterThan(10)
      expect(deltas.every((event) => event.path === "inference")).toBe(true)
      expect(deltas.map((event) => event.delta).join("")).toBe(result.output.answer)
    }
    const calls = all.flatMap((event) => (event.type === "tool-call" ? [event.name] : []))
    expect(calls).toEqual(["WebSearch", "QueryData", "ReadPage"])
  })

  it("--profile picks the architecture: fast-small-toolset calls web search only", async () => {
    const outcome = await timebox(
      ["run", "research-agent", "--profile", "fast-small-toolset", "--budget", "2s", "--json"],
      simulated
    )
    expect(outcome.code).toBe(0)
    const result = json(outcome)
    expect((result.output as { profile: string }).profile).toBe("fast-small-toolset")
    const inference = Report.find(result.report, "inference")!
    expect(inference.children?.map((child) => child.name)).toEqual(["WebSearch"])
    expect([result.status, inference.reason]).toEqual(["partial", "step-unaffordable"])
  })
})

describe.concurrent("timebox run", () => {
  it("runs support-agent to completion: one line per stage, the output, the summary, no ANSI", async () => {
    const outcome = await once(["run", "support-agent"])
    expect(outcome.stderr).toBe("")
    expect(outcome.code).toBe(0)
    const lines = outcome.stdout.trimEnd().split("\n")
    expect(lines[0]).toBe("support-agent  budget 2000ms  seed 1")
    for (const name of stageNames) {
      expect(lines.some((line) => new RegExp(`^ +${name} +completed +\\d+ms +\\d+ms +[█·]{40}`).test(line))).toBe(true)
    }
    expect(outcome.stdout).toContain("output  Sorry about the wait")
    expect(lines.at(-1)).toMatch(
      /^complete {2}\d+ms \/ 2000ms {2}cost \d+ µUSD \(\d+ in, \d+ out tokens\) {2}skipped: none$/
    )
    expect(outcome.stdout).not.toContain(ansi)
  })

  it("nests child stages under their parent", async () => {
    const outcome = await once(["run", "support-agent"])
    const indent = (name: string) =>
      /^( *)/.exec(outcome.stdout.split("\n").find((line) => line.includes(` ${name} `))!)![1]!
    expect(indent("rag").length).toBe(indent("context").length + 2)
    expect(indent("kb-search").length).toBe(indent("tools").length + 2)
  })

  it("--json prints one RunResult JSON document and nothing else", async () => {
    const outcome = await timebox(["run", "support-agent", "--json"])
    expect(outcome.code).toBe(0)
    expect(outcome.stderr).toBe("")
    const result = json(outcome)
    expect(result.status).toBe("complete")
    expect(result.report.agent).toBe("support-agent")
    expect(result.report.budgetMs).toBe(2000)
    expect(result.report.stages.map((stage) => stage.name)).toEqual([
      "auth",
      "context",
      "inference",
      "tools",
      "assembly"
    ])
    expect(outcome.stdout).not.toContain(ansi)
  })

  it("--budget 100ms fails with exit 1 and a whole report", async () => {
    const outcome = await once(["run", "support-agent", "--budget", "100ms"])
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toBe("")
    for (const name of ["auth", "context", "inference", "tools", "assembly"]) {
      expect(outcome.stdout).toMatch(new RegExp(`^ +${name} +skipped`, "m"))
    }
    expect(outcome.stdout).toContain("output  none (failed: budget-exhausted)")
    expect(outcome.stdout.trimEnd().split("\n").at(-1)).toMatch(
      /^failed \(budget-exhausted\) {2}\d+ms \/ 100ms {2}skipped: auth/
    )
  })

  it("--budget 100ms --json: status failed, every stage in the report", async () => {
    const outcome = await timebox(["run", "support-agent", "--budget", "100ms", "--json"])
    expect(outcome.code).toBe(1)
    const result = json(outcome)
    expect(result.status).toBe("failed")
    expect(result.output).toBeNull()
    expect(result.report.stages.map((stage) => stage.name)).toEqual([
      "auth",
      "context",
      "inference",
      "tools",
      "assembly"
    ])
    expect(result.report.skipped.length).toBe(5)
  })

  it("accepts the duration forms people type (700ms and 100ms above, 1.5s, \"2 seconds\")", async () => {
    const budgets = await Promise.all(
      ["1.5s", "2 seconds"].map(async (budget) =>
        json(await timebox(["run", fixture("echo-agent.mjs"), "--budget", budget, "--json"])).report.budgetMs
      )
    )
    expect(budgets).toEqual([1500, 2000])
  })

  it("colors with FORCE_COLOR, never with NO_COLOR", async () => {
    const [forced, disabled] = await Promise.all([
      timebox(["run", "support-agent", "--budget", "100ms"], { env: { FORCE_COLOR: "1" } }),
      timebox(["run", "support-agent", "--budget", "100ms"], { env: { FORCE_COLOR: "1", NO_COLOR: "1" } })
    ])
    expect(forced.stdout).toContain(ansi)
    expect(disabled.stdout).not.toContain(ansi)
    // The same text once the colors are stripped.
    // oxlint-disable-next-line no-control-regex
    const strip = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "").replace(/ +\d+ms \/ 100ms/, "")
    expect(strip(forced.stdout).split("\n").slice(0, 3)).toEqual(strip(disabled.stdout).split("\n").slice(0, 3))
  })

  it("warns on stderr when a forced latency names no stage", async () => {
    const outcome = await timebox(["run", "support-agent", "--budget", "100ms", "--latency", "rga=400ms", "--json"])
    expect(outcome.code).toBe(1)
    expect(json(outcome).status).toBe("failed")
    expect(outcome.stderr.trim()).toBe("timebox: warning: --latency rga=…: no stage named \"rga\" ran")
  })

  it("--stream on an agent that streams no text prints the report alone", async () => {
    const outcome = await timebox(["run", fixture("echo-agent.mjs"), "--stream", "--input", "hi"])
    expect(outcome.code).toBe(0)
    expect(outcome.stdout.startsWith("echo-agent  budget 500ms  seed 1\n")).toBe(true)
    expect(outcome.stdout).toContain("output  echo: hi")
  })

  it("Ctrl-C with --stream --json ends with the interrupted run-end line and exits 130", async () => {
    const outcome = await timebox(["run", fixture("slow-agent.mjs"), "--stream", "--json"], { interruptOn: "started" })
    expect(outcome.code).toBe(130)
    const all = events(outcome)
    expect(all[0]).toMatchObject({ type: "stage-start", stage: "start" })
    const result = runEnd(all)
    expect(result.status).toBe("interrupted")
    expect(Report.find(result.report, "think")?.reason).toBe("interrupted")
  })

  it("Ctrl-C prints the interrupted report and exits 130", async () => {
    const outcome = await timebox(["run", fixture("slow-agent.mjs")], { interruptOn: "started" })
    expect(outcome.signal).toBeNull()
    expect(outcome.code).toBe(130)
    expect(outcome.stdout).toMatch(/^ +start +completed /m)
    expect(outcome.stdout).toMatch(/^ +think +failed .* interrupted$/m)
    expect(outcome.stdout.trimEnd().split("\n").at(-1)).toMatch(/^interrupted {2}\d+ms \/ 20000ms/)
  })
})

describe.concurrent("user agent modules", () => {
  it("runs an .mjs module relative to the current directory", async () => {
    const outcome = await timebox(["run", "./test/fixtures/echo-agent.mjs", "--input", "hello"], {
      cwd: `${root}/packages/cli`
    })
    expect(outcome.stderr).toBe("")
    expect(outcome.code).toBe(0)
    expect(outcome.stdout).toContain("output  echo: hello (5 characters)")
    expect(outcome.stdout.trimEnd().split("\n").at(-1)).toMatch(/^complete {2}\d+ms \/ 500ms/)
  })

  it("runs an .mjs module by absolute path from anywhere, as JSON", async () => {
    const outcome = await timebox(["run", fixture("echo-agent.mjs"), "--json", "--budget", "1s"], { cwd: tmpdir() })
    expect(outcome.code).toBe(0)
    const result = json(outcome)
    expect(result.status).toBe("complete")
    expect(result.output).toEqual({ answer: "echo: Where is my order? (18 characters)" })
    expect(result.report.agent).toBe("echo-agent")
  })

  it("an output that is not JSON: printed for people, refused by --json with one line (exit 1)", async () => {
    const agent = fixture("odd-output-agent.mjs")
    const [bigint, cyclic, bigintJson, cyclicStream, nothingJson] = await Promise.all([
      timebox(["run", agent, "--profile", "bigint"]),
      timebox(["run", agent, "--profile", "cyclic"]),
      timebox(["run", agent, "--profile", "bigint", "--json"]),
      timebox(["run", agent, "--profile", "cyclic", "--stream", "--json"]),
      timebox(["run", agent, "--profile", "nothing", "--json"])
    ])
    expect([bigint.code, bigint.stderr]).toEqual([0, ""])
    expect(bigint.stdout).toContain(`output  {"count":"12n"}`)
    expect([cyclic.code, cyclic.stderr]).toEqual([0, ""])
    expect(cyclic.stdout).toContain(`output  {"items":[1,2],"self":"[Circular]"}`)
    expect([bigintJson.code, bigintJson.stdout]).toEqual([1, ""])
    expect(bigintJson.stderr).toBe(
      `timebox: bigint: its output is not JSON, so --json cannot print the run: Expected JSON value at ["output"]\n`
    )
    // the events before run-end were printed; run-end is refused the same way
    expect(cyclicStream.code).toBe(1)
    expect(cyclicStream.stdout.trimEnd().split("\n").map((line) => JSON.parse(line).type)).toEqual([
      "stage-start",
      "stage-end"
    ])
    expect(cyclicStream.stderr).toMatch(/^timebox: cyclic: its output is not JSON, so --json cannot print the run: /)
    expect(cyclicStream.stderr.trimEnd().split("\n")).toHaveLength(1)
    expect(nothingJson.code).toBe(0)
    expect(json(nothingJson).output).toBe(null)
  })

  it("a reason of several lines is printed on one line, in the stage table and the summary", async () => {
    const outcome = await timebox(["run", fixture("odd-output-agent.mjs"), "--profile", "multiline"])
    expect([outcome.code, outcome.stderr]).toEqual([0, ""])
    const reason = "A network error occurred. (POST http://127.0.0.1:1/v1) Check your network"
    expect(outcome.stdout).toMatch(new RegExp(`^ +fetch +failed .*${reason.replace(/[.()/]/g, "\\$&")}$`, "m"))
    expect(outcome.stdout.trimEnd().split("\n").at(-1)).toMatch(
      new RegExp(`^partial {2}\\d+ms / 500ms {2}skipped: fetch \\(failed: ${reason.replace(/[.()/]/g, "\\$&")}\\)$`)
    )
    expect(outcome.stdout).not.toMatch(/^\s*Check your network/m)
  })

  it("runs the profiles of an `agents` export: the first by default, another with --profile", async () => {
    const [first, chosen] = await Promise.all([
      timebox(["run", fixture("profiles-agent.mjs"), "--json", "--input", "hi"]),
      timebox(["run", fixture("profiles-agent.mjs"), "--profile", "careful", "--json", "--input", "hi"])
    ])
    expect([first.code, chosen.code]).toEqual([0, 0])
    expect([json(first).report.agent, json(first).output]).toEqual(["profiles-quick", { answer: "quick: hi" }])
    expect([json(chosen).report.agent, json(chosen).report.budgetMs]).toEqual(["profiles-careful", 3000])
  })

  it("runs a .cjs module (require of the ESM core, Node >= 20.19)", async () => {
    const outcome = await timebox(["run", fixture("echo-agent.cjs"), "--input", "hi"])
    expect(outcome.code).toBe(0)
    expect(outcome.stdout).toContain("output  echo: hi")
  })

  it(`${canImportTypeScript ? "runs" : "refuses"} a .ts module on Node ${process.version}`, async () => {
    const outcome = await timebox(["run", fixture("echo-agent.ts"), "--input", "hi"])
    if (canImportTypeScript) {
      expect(outcome.code).toBe(0)
      expect(outcome.stdout).toContain("output  echo: hi")
    } else {
      expect(outcome.code).toBe(2)
      expect(outcome.stdout).toBe("")
      expect(outcome.stderr).toMatch(
        /^timebox: cannot load agent ".*echo-agent\.ts": Node v[\d.]+ cannot import TypeScript/
      )
      expect(outcome.stderr.trimEnd().split("\n")).toHaveLength(1)
    }
  })
})

describe.concurrent("timebox list", () => {
  it("names the example agents, one line each", async () => {
    const outcome = await timebox(["list"])
    expect(outcome.code).toBe(0)
    expect(outcome.stderr).toBe("")
    const lines = outcome.stdout.trimEnd().split("\n")
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^support-agent {3}customer support in 2 s/)
    expect(lines[1]).toMatch(
      /^research-agent {2}research in 12 s.*\(--profile full \| fast-tools \| fast-small-toolset\)$/
    )
    expect(lines[2]).toMatch(/^runaway-agent {3}a loop of model calls at \$0\.01 each/)
  })
})

describe.concurrent("bad input exits 2 with one line on stderr", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
    [
      "a bad duration",
      ["run", "support-agent", "--budget", "abc"],
      "timebox: invalid --budget \"abc\": not a duration (try 150ms, 2s, 1.5s or \"2 seconds\")"
    ],
    [
      "an unknown agent",
      ["run", "nope"],
      "timebox: unknown agent \"nope\": not a bundled example (support-agent, research-agent, runaway-agent)"
    ],
    [
      "an unknown profile",
      ["run", "research-agent", "--profile", "fastest"],
      "timebox: unknown --profile \"fastest\" for research-agent (choices: full, fast-tools, fast-small-toolset)"
    ],
    [
      "a profile for an agent without profiles",
      ["run", "support-agent", "--profile", "full"],
      "timebox: support-agent has no profiles: --profile is for agents that export several"
    ],
    [
      "an unknown profile of a module",
      ["run", fixture("profiles-agent.mjs"), "--profile", "slow"],
      "(choices: quick, careful)"
    ],
    [
      "an unknown flag",
      ["run", "support-agent", "--bugdet", "1s"],
      "timebox: unknown flag --bugdet for timebox run (did you mean --budget?)"
    ],
    [
      "a --latency without =",
      ["run", "support-agent", "--latency", "rag"],
      "timebox: invalid --latency \"rag\": expected <stage>=<duration>"
    ],
    [
      "a --latency with a bad duration",
      ["run", "support-agent", "--latency", "rag=soon"],
      "timebox: invalid --latency \"rag=soon\": not a duration"
    ],
    [
      "a --latency naming a path, not a stage",
      ["run", "support-agent", "--latency", "context/rag=400ms"],
      "timebox: invalid --latency \"context/rag=400ms\": expected a stage name, not a path: latencies are forced by name, at any depth (e.g. rag=400ms)"
    ],
    [
      "a --latency given twice for one stage",
      ["run", "support-agent", "--latency", "rag=400ms", "--latency", "rag=100ms"],
      "timebox: --latency given 2 times for \"rag\": at most 1 value a stage"
    ],
    [
      "an --input the agent's codec refuses",
      ["run", fixture("int-input-agent.mjs"), "--input", "2.5"],
      "timebox: invalid --input \"2.5\": Expected an integer"
    ],
    [
      "no --input, and a default input the agent's codec refuses",
      ["run", fixture("int-input-agent.mjs")],
      "timebox: invalid default input (no --input given) \"Where is my order?\": Expected an integer"
    ],
    ["a bad seed", ["run", "support-agent", "--seed", "1.5"], "timebox: invalid --seed \"1.5\": not an integer"],
    [
      "a seed beyond the safe integers",
      ["run", "support-agent", "--seed", "9007199254740992"],
      "timebox: invalid --seed \"9007199254740992\": too large: at most 9007199254740991 either way (a safe integer)"
    ],
    ["a missing agent", ["run"], "timebox: missing <agent>"],
    ["an unknown command", ["walk"], "timebox: unknown command \"walk\""],
    [
      "a missing module",
      ["run", "./missing-agent.mjs"],
      "timebox: cannot load agent \"./missing-agent.mjs\": no such file"
    ],
    [
      "a module without an agent",
      ["run", fixture("not-an-agent.mjs")],
      "exports no agent (expected a default or `agent` export"
    ]
  ]
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const outcome = await timebox(args)
      expect(outcome.code).toBe(2)
      expect(outcome.stdout).toBe("")
      const lines = outcome.stderr.trimEnd().split("\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^timebox: /)
      expect(lines[0]).toContain(message)
    })
  }
})
