import { Agent, Pipeline, Report, Stage } from "@timebox/core"
import { Effect } from "effect"

// Three stages in 500 ms. Retrieval is optional: if it is slow, it is cut at
// its 100 ms window and the answer is written without documents.
export const agent = Agent.make({
  name: "quick-start",
  budget: "500 millis",
  pipeline: Pipeline.make<string>()
    .add(Stage.required("auth", ({ input }) => Effect.succeed(`user-${input.length}`), { allocation: "10 millis" }))
    .add(
      Stage.optional("retrieve", () => Effect.as(Effect.sleep("300 millis"), ["kb/shipping.md"]), {
        allocation: "100 millis",
        minUseful: "20 millis",
        fallback: () => [] // what the next stages see when retrieval is skipped or cut
      })
    )
    .add(
      Stage.required(
        "answer",
        ({ auth, retrieve }) => Effect.succeed(`${auth}: ${retrieve.length} document(s) consulted`),
        { minUseful: "50 millis" }
      )
    )
})

// Agent.run never fails for lack of time: it returns complete, partial or
// failed, always with a report. Here: partial, "retrieve" timed out (deadline).
export const program = Effect.gen(function*() {
  const result = yield* Agent.run(agent, "Where is my order?")
  const retrieve = Report.find(result.report, "retrieve")
  return `${result.status}: retrieve ${retrieve?.status} after ${retrieve?.actualMs} ms`
})

// From non-Effect code: Effect.runPromise(program).then(console.log)
