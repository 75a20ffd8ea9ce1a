import { Agent, Report } from "@timebox/core"
import { SupportAgent } from "@timebox/example-support-agent"
import { Effect } from "effect"

// The support agent with a tighter budget than its own 2 s: time pressure, not an error.
export const program = Effect.gen(function*() {
  const result = yield* Agent.run(SupportAgent.agent, "Where is my order?", { budget: "700 millis" })
  if (result.status === "partial") console.log(result.output.answer, result.output.toolNotes)
  return Report.collectSkipped(result.report.stages).map((entry) => `${entry.path}: ${entry.reason}`)
})
