/**
 * The overhead case written with timebox: auth → context (history ∥ rag) →
 * inference → tools (toolA ∥ toolB) → assembly, every stage with an
 * allocation, every stage's work one real async hop (a resolved promise),
 * run with `Agent.run` so that the full report is built each time.
 */
import { Agent, Pipeline, Stage } from "@timebox/core"
import { Effect } from "effect"

export interface Request {
  readonly question: string
}

/** One real async hop: the value comes back through a resolved promise. */
const hop = <A>(value: A): Effect.Effect<A> => Effect.promise(() => Promise.resolve(value))

const history = Stage.required("history", (question: string) => hop([`history for ${question.length}`]), {
  allocation: "40%"
})

const rag = Stage.optional("rag", (question: string) => hop([`doc for ${question.length}`]), {
  allocation: "50%",
  fallback: (): ReadonlyArray<string> => []
})

const toolA = Stage.optional("toolA", (draft: string) => hop(`a:${draft.length}`), {
  allocation: "250 millis",
  fallback: () => "skipped: deadline"
})

const toolB = Stage.optional("toolB", (draft: string) => hop(`b:${draft.length}`), {
  allocation: "250 millis",
  fallback: () => "skipped: deadline"
})

export const pipeline = Pipeline.make<Request>()
  .add(Stage.required("auth", ({ input }) => hop({ userId: `user-${input.question.length}` }), {
    allocation: "10 millis",
    minUseful: "1 millis"
  }))
  .add(Stage.optional(
    "context",
    ({ input }) =>
      Effect.all([Stage.run(history, input.question), Stage.run(rag, input.question)], {
        concurrency: "unbounded"
      }),
    { allocation: "150 millis", fallback: (): readonly [ReadonlyArray<string>, ReadonlyArray<string>] => [[], []] }
  ))
  .add(Stage.required(
    "inference",
    ({ auth, context }) => hop(`draft for ${auth.userId} with ${context[0].length + context[1].length} items`),
    { allocation: "1400 millis", minUseful: "100 millis" }
  ))
  .add(Stage.optional(
    "tools",
    ({ inference }) =>
      Effect.all([Stage.run(toolA, inference), Stage.run(toolB, inference)], { concurrency: "unbounded" }),
    { allocation: "300 millis", fallback: () => ["skipped: deadline", "skipped: deadline"] as const }
  ))
  .add(Stage.required("assembly", ({ inference, tools }) => hop(`${inference} | ${tools[0]} | ${tools[1]}`), {
    allocation: "20 millis",
    minUseful: "1 millis"
  }))

export const agent = Agent.make({ name: "bench", budget: "2 seconds", pipeline })

/** How many stage records a complete run's report holds (5 top-level, 4 children). */
export const expectedRecords = 9
