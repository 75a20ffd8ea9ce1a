/**
 * The hand-written baseline: the same pipeline as `pipeline.ts` in plain
 * async/await. Each stage computes the same window (`min(allocation, time
 * left − reserve)`, from `Date.now()` as the core reads its `Clock`), arms an
 * `AbortController` and a `setTimeout(window)`, races its work against the
 * timer with `Promise.race`, and clears the timer. Parallel pairs are
 * `Promise.all` of two such stages inside a parent stage. No report is built:
 * the run returns its output only.
 *
 * `runBare` is the same without the `AbortController` (the work gets no
 * signal, so it cannot be cancelled): a floor for reference, not the baseline
 * the issue asks for.
 */
import type { Request } from "./pipeline.ts"

const timedOut: unique symbol = Symbol("timedOut")

class StageFailed extends Error {}

/** A zero-latency async step, like `hop` in the Effect pipeline. */
const hop = async <A>(value: A): Promise<A> => await Promise.resolve(value)

type Work<A> = (signal: AbortSignal | undefined, deadline: number, windowMs: number) => Promise<A>

const makeStage = (abortable: boolean) =>
/**
 * Runs `work` under a window of `min(allocationMs, deadline − now − reserveMs)`;
 * on timeout aborts it and returns the fallback (optional) or throws (required).
 */
async <A>(
  allocationMs: number,
  deadline: number,
  reserveMs: number,
  minUsefulMs: number,
  work: Work<A>,
  fallback?: () => A
): Promise<A> => {
  const start = Date.now()
  const windowMs = Math.min(allocationMs, deadline - start - reserveMs)
  if (!(windowMs > 0) || windowMs < minUsefulMs) {
    if (fallback !== undefined) return fallback()
    throw new StageFailed("budget-exhausted")
  }
  const controller = abortable ? new AbortController() : undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => {
      controller?.abort()
      resolve(timedOut)
    }, windowMs)
  })
  try {
    const result = await Promise.race([work(controller?.signal, start + windowMs, windowMs), timeout])
    if (result === timedOut) {
      if (fallback !== undefined) return fallback()
      throw new StageFailed("budget-exhausted")
    }
    return result
  } catch (error) {
    if (fallback === undefined || error instanceof StageFailed) throw error
    return fallback()
  } finally {
    clearTimeout(timer)
  }
}

/** A stage with an `AbortController`: the baseline's. */
export const stage = makeStage(true)

/** The same reserves the pipeline computes: later required `minUseful`s + 5 ms slack. */
const reserve = { auth: 106, context: 106, inference: 6, tools: 6, assembly: 0 } as const

const makeRun = (abortable: boolean) => {
  const runStage = makeStage(abortable)
  return async (input: Request): Promise<string> => {
    const deadline = Date.now() + 2000
    const auth = await runStage(10, deadline, reserve.auth, 1, () => hop({ userId: `user-${input.question.length}` }))
    const context = await runStage<readonly [ReadonlyArray<string>, ReadonlyArray<string>]>(
      150,
      deadline,
      reserve.context,
      0,
      (_signal, inner, windowMs) =>
        Promise.all([
          runStage(0.4 * windowMs, inner, 0, 0, () => hop([`history for ${input.question.length}`])),
          runStage<ReadonlyArray<string>>(0.5 * windowMs, inner, 0, 0, () =>
            hop([`doc for ${input.question.length}`]), () => [])
        ]),
      () => [[], []]
    )
    const inference = await runStage(
      1400,
      deadline,
      reserve.inference,
      100,
      () => hop(`draft for ${auth.userId} with ${context[0].length + context[1].length} items`)
    )
    const tools = await runStage(
      300,
      deadline,
      reserve.tools,
      0,
      (_signal, inner) =>
        Promise.all([
          runStage(250, inner, 0, 0, () => hop(`a:${inference.length}`), () => "skipped: deadline"),
          runStage(250, inner, 0, 0, () => hop(`b:${inference.length}`), () => "skipped: deadline")
        ]),
      () => ["skipped: deadline", "skipped: deadline"]
    )
    return runStage(20, deadline, reserve.assembly, 1, () => hop(`${inference} | ${tools[0]} | ${tools[1]}`))
  }
}

/** The baseline: a stage = `AbortController` + `setTimeout` + `Promise.race` + `clearTimeout`. */
export const run = makeRun(true)

/** For reference: the same without `AbortController`. */
export const runBare = makeRun(false)
