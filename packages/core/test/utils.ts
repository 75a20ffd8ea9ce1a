import { type Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Agent, type Report } from "../src/index.ts"

/** Runs `agent` on a forked fiber, moves the TestClock by `advance`, and returns the result. */
export const runFor = <In, Out>(
  agent: Agent.Agent<In, Out>,
  input: In,
  advance: Duration.Input,
  options?: Agent.RunOptions
): Effect.Effect<Report.RunResult<Out>, unknown> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Agent.run(agent, input, options))
    yield* TestClock.adjust(advance)
    return yield* Fiber.join(fiber)
  })

/** The record at `path`, failing the test when absent. */
export const record = (result: { readonly report: Report.RunReport }, path: string): Report.StageRecord => {
  const found = result.report.stages.length === 0 ? undefined : findPath(result.report.stages, path.split("/"))
  if (found === undefined) throw new Error(`no record at ${path}`)
  return found
}

const findPath = (
  records: ReadonlyArray<Report.StageRecord>,
  parts: ReadonlyArray<string>
): Report.StageRecord | undefined => {
  const [head, ...rest] = parts
  const found = records.find((r) => r.name === head)
  if (found === undefined || rest.length === 0) return found
  return found.children === undefined ? undefined : findPath(found.children, rest)
}
