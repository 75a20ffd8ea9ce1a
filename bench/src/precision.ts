/**
 * Deadline precision, on the real clock: an optional stage whose work takes
 * 200 ms runs under a 50 ms allocation, followed by a required stage. The
 * lateness of a run is
 *
 *   (when the next stage starts) − (when the slow stage's work started + its window)
 *
 * with both instants taken with `performance.now()` inside the stages' work,
 * and the window read from the run's report (50 ms). A negative lateness means
 * the run moved on before the deadline as measured here: Node arms timers
 * from its cached, whole-millisecond loop clock.
 *
 * Work kinds:
 * - `cooperative`: `Effect.sleep("200 millis")`, interrupted at the deadline.
 * - `uninterruptible`: the same sleep in `Effect.uninterruptible`; the run must
 *   move on anyway and the record must say `abandoned: true`.
 * - `effect-promise`: `Effect.promise((signal) => new Promise(r => setTimeout(r, 200)))`,
 *   a promise that ignores its `AbortSignal`. The fiber waiting on it *is*
 *   interruptible (Effect stops waiting and aborts the signal), so the stage's
 *   fiber ends at once and the record does not say `abandoned`; the promise
 *   itself runs on, orphaned, and nothing records it.
 * - `stage-promise`: the same promise through `Stage.promise`, which counts
 *   pending promises: the run moves on at the deadline all the same, and the
 *   record says `abandoned: true`.
 * - `baseline`: the hand-written stage of `baseline.ts` with a work that ignores
 *   its signal: the floor that `setTimeout` and `Promise.race` give.
 */
import { Agent, Pipeline, Report, Stage } from "@timebox/core"
import { Effect } from "effect"
import * as Baseline from "./baseline.ts"
import { summarize, type Summary } from "./stats.ts"

export type Kind = "cooperative" | "uninterruptible" | "effect-promise" | "stage-promise" | "baseline"

interface Marks {
  workStart: number
  next: number
}

/** 200 ms of work that never looks at its `AbortSignal`. */
const ignoresSignal = () =>
  new Promise<string>((resolve) => {
    setTimeout(() => resolve("done"), 200)
  })

const work = (kind: Exclude<Kind, "baseline">): Effect.Effect<string> => {
  switch (kind) {
    case "cooperative":
      return Effect.as(Effect.sleep("200 millis"), "done")
    case "uninterruptible":
      return Effect.uninterruptible(Effect.as(Effect.sleep("200 millis"), "done"))
    case "effect-promise":
      return Effect.promise((_signal: AbortSignal) => ignoresSignal())
    case "stage-promise":
      return Effect.orDie(Stage.promise((_signal) => ignoresSignal()))
  }
}

const agentFor = (kind: Exclude<Kind, "baseline">) =>
  Agent.make({
    name: `precision-${kind}`,
    budget: "1 second",
    pipeline: Pipeline.make<Marks>()
      .add(Stage.optional(
        "slow",
        ({ input }) =>
          Effect.suspend(() => {
            input.workStart = performance.now()
            return work(kind)
          }),
        { allocation: "50 millis", fallback: () => "fallback" }
      ))
      .add(Stage.required("next", ({ input }) =>
        Effect.sync(() => {
          input.next = performance.now()
        })))
  })

interface Sample {
  readonly latenessMs: number
  readonly timedOut: boolean
  readonly abandoned: boolean
}

const sampleEffect = (agent: ReturnType<typeof agentFor>) => async (): Promise<Sample> => {
  const marks: Marks = { workStart: Number.NaN, next: Number.NaN }
  const result = await Effect.runPromise(Agent.run(agent, marks))
  const slow = Report.find(result.report, "slow")
  if (slow === undefined || result.status === "failed") throw new Error(`unexpected result ${JSON.stringify(result)}`)
  return {
    latenessMs: marks.next - (marks.workStart + slow.windowMs),
    timedOut: slow.status === "timed-out",
    abandoned: slow.abandoned === true
  }
}

const sampleBaseline = async (): Promise<Sample> => {
  const marks: Marks = { workStart: Number.NaN, next: Number.NaN }
  let timedOut = false
  await Baseline.stage(
    50,
    Date.now() + 1000,
    0,
    0,
    () => {
      marks.workStart = performance.now()
      return new Promise<string>((resolve) => {
        setTimeout(() => resolve("done"), 200)
      })
    },
    () => {
      timedOut = true
      return "fallback"
    }
  )
  marks.next = performance.now()
  return { latenessMs: marks.next - (marks.workStart + 50), timedOut, abandoned: false }
}

export interface PrecisionCase extends Summary {
  readonly kind: Kind
  readonly timedOut: number
  readonly abandoned: number
}

/**
 * Measures every kind at once: one worker per kind, each taking `warmup`
 * uncounted samples and then `runs` samples back to back. The workers start
 * staggered across the 50 ms window so that their deadlines do not coincide,
 * and since all kinds run side by side, a burst of load from elsewhere on the
 * machine hits them alike rather than spoiling whichever row ran then.
 */
export const measureAll = async (
  kinds: ReadonlyArray<Kind>,
  runs: number,
  warmup: number
): Promise<Array<PrecisionCase>> => {
  const worker = async (kind: Kind, index: number): Promise<PrecisionCase> => {
    const sample = kind === "baseline" ? sampleBaseline : sampleEffect(agentFor(kind))
    await new Promise((resolve) => setTimeout(resolve, (index * 50) / kinds.length))
    for (let i = 0; i < warmup; i++) await sample()
    const samples: Array<Sample> = []
    for (let i = 0; i < runs; i++) samples.push(await sample())
    return {
      kind,
      ...summarize(samples.map((s) => s.latenessMs)),
      timedOut: samples.filter((s) => s.timedOut).length,
      abandoned: samples.filter((s) => s.abandoned).length
    }
  }
  return Promise.all(kinds.map(worker))
}
