/**
 * Running one stage: compute its window, skip it when the window is too
 * small, otherwise run its work on a fiber of its own under a hard deadline,
 * then write its record.
 */
import { Cause, Clock, Context, Duration, Effect, Exit, type Fiber } from "effect"
import * as Budget from "../Budget.ts"
import { CurrentDeadline } from "../Deadline.ts"
import { Reason } from "../Report.ts"
import * as TimeboxError from "../TimeboxError.ts"
import { CurrentFrame, type Frame, makeRecord, makeRunState, type MutableRecord } from "./frame.ts"

/** What happened to a stage that did not complete; handed to its fallback. */
export interface Outcome {
  readonly status: "skipped" | "timed-out" | "failed"
  readonly reason: string
}

/** The runtime shape of a stage. */
export interface StageSpec<I, A, E, R> {
  readonly name: string
  readonly criticality: "required" | "optional"
  readonly allocation: Budget.ResolvedAllocation | undefined
  readonly minUsefulMs: number
  readonly reserveMs: number | undefined
  readonly fallback: ((input: I, outcome: Outcome) => A) | undefined
  readonly run: (input: I) => Effect.Effect<A, E, R>
  /** The policy as written, checked once before the stage first runs. */
  readonly policy?: {
    readonly allocation?: unknown
    readonly minUseful?: unknown
    readonly reserve?: unknown
  }
}

const checked = new WeakMap<object, TimeboxError.TimeboxError | null>()

/**
 * The configuration error of a stage, if any, checked once per stage: nested
 * stages (run with `Stage.run`, `Pipeline.run` or as tool calls) are not seen
 * by `Agent.validate`, so a bad policy surfaces here, as the stage's failure.
 */
const policyProblem = (stage: StageSpec<any, any, any, any>): TimeboxError.TimeboxError | undefined => {
  let problem = checked.get(stage)
  if (problem === undefined) {
    problem = stage.policy === undefined
      ? null
      : Budget.policyError(method, undefined, [{ name: stage.name, ...stage.policy }]) ?? null
    checked.set(stage, problem)
  }
  return problem ?? undefined
}

const method = "Stage.run"

/** The message of a failure cause: the typed error's, else the defect's. */
export const causeMessage = (cause: Cause.Cause<unknown>): string => {
  if (Cause.hasInterruptsOnly(cause)) return Reason.interrupted
  const error = Cause.squash(cause)
  if (error instanceof Error) return error.message === "" ? error.name : error.message
  if (typeof error === "object" && error !== null && "_tag" in error) return String(error._tag)
  return String(error)
}

const degradedReason = (children: ReadonlyArray<MutableRecord>): string | undefined => {
  let reason: string | undefined
  for (const child of children) {
    if (child.status === "completed") continue
    const part = `${child.name} ${child.status}`
    reason = reason === undefined ? part : `${reason}, ${part}`
  }
  return reason
}

const giveUp = <I, A, E, R>(
  stage: StageSpec<I, A, E, R>,
  input: I,
  record: MutableRecord,
  status: Outcome["status"],
  optionalReason: string,
  error: () => TimeboxError.TimeboxError
): Effect.Effect<A, TimeboxError.TimeboxError> => {
  record.status = status
  const fallback = stage.fallback
  if (stage.criticality === "optional" && fallback !== undefined) {
    record.reason = optionalReason
    // A fallback that throws leaves nothing to stand in: the stage fails as a required one would.
    return Effect.catchCause(
      Effect.sync(() => fallback(input, { status, reason: optionalReason })),
      (cause) => {
        const detail = `${optionalReason}; its fallback threw: ${causeMessage(cause)}`
        record.status = "failed"
        record.reason = detail
        return Effect.fail(
          new TimeboxError.TimeboxError({
            method: error().method,
            reason: new TimeboxError.StageFailed({ stage: stage.name, detail })
          })
        )
      }
    )
  }
  const failure = error()
  record.reason = failure.reason._tag === "BudgetExhausted" ? Reason.budgetExhausted : optionalReason
  return Effect.fail(failure)
}

/**
 * The live clock's `sleep`, a plain `setTimeout` (a prototype method, shared
 * by every live clock). A stage whose clock sleeps with it arms its timer
 * with `setTimeout` directly instead of forking a fiber to sleep: the same
 * timer, without a fiber, its context and its interruption per stage (the
 * bench's hot path). Any other clock (`TestClock`) gets a timer fiber.
 */
const liveSleep = Clock.Clock.defaultValue().sleep

/** The longest delay `setTimeout` takes; longer windows go through the clock's `sleep`. */
const maxTimerMillis = 2 ** 31 - 1

/** How many scheduler turns a closed window waits for children cut at the same instant. */
const maxTurns = 32

/** Marks records still running (and theirs) as cut at the deadline. */
const cutRunning = (records: ReadonlyArray<MutableRecord>, nowOffset: number): void => {
  for (const record of records) {
    if (record.status !== "running") continue
    record.status = "timed-out"
    record.reason = Reason.deadline
    record.actualMs = nowOffset - record.startedAtMs
    if (record.children !== undefined) cutRunning(record.children, nowOffset)
  }
}

/**
 * Runs `stage` on `input` inside the current frame and deadline.
 * `pipelineReserveMs` is the time the enclosing pipeline keeps back for its
 * later required stages (the stage's own `reserve` wins when set).
 */
export const execute = <I, A, E, R>(
  stage: StageSpec<I, A, E, R>,
  input: I,
  pipelineReserveMs: number
): Effect.Effect<A, TimeboxError.TimeboxError, R> =>
  Effect.withFiber((parent) => {
    const frame = parent.getRef(CurrentFrame)
    const emit = frame?.run.emit
    if (frame === undefined || emit === undefined) return executeIn(parent, frame, stage, input, pipelineReserveMs)
    const pathOf = (record: MutableRecord) => (frame.path === "" ? record.name : `${frame.path}/${record.name}`)
    // stage-start goes out before the work starts, so that a parent's start precedes its children's.
    const result = executeIn(parent, frame, stage, input, pipelineReserveMs, (record) =>
      emit({
        type: "stage-start",
        stage: record.name,
        path: pathOf(record),
        startedAtMs: Math.round(record.startedAtMs * 1000) / 1000,
        windowMs: Math.round(record.windowMs * 1000) / 1000
      }))
    // The body above ran synchronously and pushed this stage's record last.
    const record = frame.children[frame.children.length - 1]!
    const path = pathOf(record)
    return Effect.onExit(result, () =>
      Effect.sync(() =>
        emit({
          type: "stage-end",
          stage: record.name,
          path,
          status: record.status === "running" ? "failed" : record.status,
          ...(record.reason === undefined ? {} : { reason: record.reason }),
          actualMs: Math.round(record.actualMs * 1000) / 1000
        })
      ))
  })

const executeIn = <I, A, E, R>(
  parent: Fiber.Fiber<unknown, unknown>,
  frame: Frame | undefined,
  stage: StageSpec<I, A, E, R>,
  input: I,
  pipelineReserveMs: number,
  onStart?: (record: MutableRecord) => void
): Effect.Effect<A, TimeboxError.TimeboxError, R> => {
  const clock = parent.getRef(Clock.Clock)
  const deadline = parent.getRef(CurrentDeadline)
  const start = clock.currentTimeMillisUnsafe()
  const runStart = frame === undefined ? start : frame.runStartMillis
  const left = deadline - start
  const parentWindow = frame === undefined ? left : frame.windowMs
  const allocation = stage.allocation === undefined ? undefined : Budget.allocate(stage.allocation, parentWindow)
  const reserve = stage.reserveMs ??
    (pipelineReserveMs > 0 ? pipelineReserveMs + parent.getRef(Budget.Slack) : 0)
  const available = left - reserve
  const window = allocation === undefined ? available : Math.min(allocation, available)
  const record = makeRecord(
    stage.name,
    allocation === undefined ? Math.max(0, available) : allocation,
    Math.max(0, window),
    start - runStart
  )
  if (frame !== undefined) frame.children.push(record)

  const problem = policyProblem(stage)
  if (problem !== undefined) return giveUp(stage, input, record, "failed", problem.message, () => problem)

  if (!(window > 0) || window < stage.minUsefulMs) {
    return giveUp(stage, input, record, "skipped", Reason.insufficientBudget, () =>
      new TimeboxError.TimeboxError({
        method,
        reason: new TimeboxError.BudgetExhausted({
          stage: stage.name,
          windowMs: Math.max(0, window),
          minUsefulMs: stage.minUsefulMs,
          timedOut: false
        })
      }))
  }

  const children: Array<MutableRecord> = []
  record.children = children
  const childFrame: Frame = {
    runStartMillis: runStart,
    children,
    windowMs: window,
    unsettled: 0,
    cuts: undefined,
    owner: record,
    path: frame === undefined || frame.path === "" ? stage.name : `${frame.path}/${stage.name}`,
    run: frame === undefined ? makeRunState() : frame.run
  }
  const context = Context.add(
    Context.add(parent.context, CurrentFrame, childFrame),
    CurrentDeadline,
    start + window
  )
  // suspended, so that a stage function that throws before returning its
  // Effect fails the stage's own fiber (a defect, `failed`) like `Effect.die`
  const work = Effect.suspend(() => stage.run(input))

  // The work runs on a detached fiber started at once in the stage's context:
  // what `Effect.forkDetach(Effect.provideContext(work, context), { startImmediately: true })`
  // does, without `provideContext` merging (so copying) the whole context
  // into a flat map for every stage.
  onStart?.(record)
  const fiber = Effect.runForkWith(context as Context.Context<R>)(work)

  const timed = Number.isFinite(window)
  // `setTimeout` directly when the clock is the live one (see `liveSleep`).
  const direct = timed && clock.sleep === liveSleep && window <= maxTimerMillis
  const waitFor = (timer: Fiber.Fiber<void> | undefined): Effect.Effect<A, TimeboxError.TimeboxError> => {
    const settle = (exit: Exit.Exit<A, E>): Effect.Effect<A, TimeboxError.TimeboxError> => {
      record.actualMs = clock.currentTimeMillisUnsafe() - start
      if (Exit.isSuccess(exit)) {
        const fromChildren = degradedReason(children)
        const reason = record.degradation === undefined
          ? fromChildren
          : fromChildren === undefined
          ? record.degradation
          : `${record.degradation}, ${fromChildren}`
        if (reason === undefined) {
          record.status = "completed"
        } else {
          record.status = "degraded"
          record.reason = reason
        }
        return Effect.succeed(exit.value)
      }
      const inner = Cause.findErrorOption(exit.cause)
      const child = inner._tag === "Some" && TimeboxError.isTimeboxError(inner.value) ? inner.value : undefined
      const detail = child === undefined
        ? causeMessage(exit.cause)
        : child.reason._tag === "BudgetExhausted"
        ? Reason.budgetExhausted
        : child.message
      if (child !== undefined && stage.criticality === "required") {
        // A required child ended this stage: pass its error up unchanged.
        record.status = "failed"
        record.reason = detail
        return Effect.fail(child)
      }
      return giveUp(stage, input, record, "failed", detail, () =>
        new TimeboxError.TimeboxError({
          method,
          reason: new TimeboxError.StageFailed({ stage: stage.name, detail })
        }))
    }

    // The window closed. Cut the children still running first (their
    // deadlines are never later than ours) and give them a few turns, so
    // that their fallbacks (a "skipped: deadline" note) reach the work,
    // which may then complete. Otherwise interrupt the work and move on
    // without waiting for it: work that ignores interruption is left
    // behind, unawaited.
    const onWindowClosed = (
      turns: number,
      seen: number,
      notesSent: boolean
    ): Effect.Effect<A, TimeboxError.TimeboxError> => {
      const settled = fiber.pollUnsafe()
      if (settled !== undefined) return settle(settled)
      const cuts = childFrame.cuts
      if (cuts !== undefined && cuts.size > 0) { for (const cut of Array.from(cuts)) cut() }
      // Keep waiting while a child is still running or a new one just
      // started (a sequential tool chain skipping its remaining calls), and
      // once a child was cut, for the rest of the turns: the work may need a
      // few more to finish with the notes its children's fallbacks gave it.
      // Work with no child running when the window closed is interrupted at once.
      const progress = children.length !== seen || children.some((child) => child.status === "running")
      const waiting = notesSent || progress
      if (turns < maxTurns && waiting) {
        return Effect.flatMap(Effect.yieldNow, () => onWindowClosed(turns + 1, children.length, waiting))
      }
      fiber.interruptUnsafe(parent.id)
      return Effect.flatMap(Effect.yieldNow, () => {
        const now = clock.currentTimeMillisUnsafe()
        record.actualMs = now - start
        record.abandoned = fiber.pollUnsafe() === undefined || childFrame.unsettled > 0
        cutRunning(children, now - runStart)
        return giveUp(stage, input, record, "timed-out", Reason.deadline, () =>
          new TimeboxError.TimeboxError({
            method,
            reason: new TimeboxError.BudgetExhausted({
              stage: stage.name,
              windowMs: window,
              minUsefulMs: stage.minUsefulMs,
              timedOut: true
            })
          }))
      })
    }

    // Wait for the first of: the work ends, the timer fires, the parent
    // cuts this stage because its own window closed.
    const awaited = Effect.callback<Exit.Exit<A, E> | undefined>((resume) => {
      let done = false
      let removeWork: (() => void) | undefined
      let removeTimer: (() => void) | undefined
      let handle: ReturnType<typeof setTimeout> | undefined
      const finish = (exit: Exit.Exit<A, E> | undefined) => {
        if (done) return
        done = true
        removeWork?.()
        removeTimer?.()
        if (handle !== undefined) clearTimeout(handle)
        frame?.cuts?.delete(cut)
        if (timer !== undefined && exit !== undefined) timer.interruptUnsafe(parent.id)
        resume(Effect.succeed(exit))
      }
      const cut = () => finish(undefined)
      removeWork = fiber.addObserver(finish)
      if (timer !== undefined && !done) removeTimer = timer.addObserver(cut)
      if (direct && !done) handle = setTimeout(cut, window)
      if (frame !== undefined && !done) {
        if (frame.cuts === undefined) frame.cuts = new Set()
        frame.cuts.add(cut)
      }
      return Effect.sync(() => {
        // Interrupted from outside (the run, or a parent cutting its work).
        done = true
        removeWork?.()
        removeTimer?.()
        if (handle !== undefined) clearTimeout(handle)
        frame?.cuts?.delete(cut)
        timer?.interruptUnsafe(parent.id)
        fiber.interruptUnsafe(parent.id)
      })
    })
    return Effect.flatMap(
      awaited,
      (exit) => (exit === undefined ? onWindowClosed(0, children.length, false) : settle(exit))
    )
  }
  return timed && !direct
    ? Effect.flatMap(Effect.forkDetach(clock.sleep(Duration.millis(window)), { startImmediately: true }), waitFor)
    : waitFor(undefined)
}

/**
 * Records `stages` in `frame` as `skipped` with reason `not-reached`: the run
 * ended before their turn.
 */
export const pushNotReached = (
  frame: Frame,
  stages: ReadonlyArray<StageSpec<any, any, any, any>>,
  nowMillis: number
): void => {
  for (const stage of stages) {
    const allocation = stage.allocation === undefined ? 0 : Budget.allocate(stage.allocation, frame.windowMs)
    const record = makeRecord(stage.name, allocation, 0, nowMillis - frame.runStartMillis)
    record.status = "skipped"
    record.reason = Reason.notReached
    frame.children.push(record)
  }
}

/** `pushNotReached` in the current frame, if any. */
export const recordNotReached = (stages: ReadonlyArray<StageSpec<any, any, any, any>>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const frame = fiber.getRef(CurrentFrame)
    if (frame !== undefined) pushNotReached(frame, stages, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
    return Effect.void
  })
