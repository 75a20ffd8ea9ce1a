/**
 * One guarded model call: reserve the worst case, make the call, then commit
 * the usage it reports, or release the reservation when it failed or was
 * interrupted. A call that outlived its reservation is charged by an event.
 * What the ledger could not answer (`StoreUnavailable`) is kept and tried
 * again, with the same keys, before the next guarded call of the tenant on
 * that ledger reserves (`guardPending.ts`). Every ledger answer goes into the
 * run's ledger entries.
 *
 * Everything but the ledger calls of a retry and the model call itself runs
 * uninterruptibly, so an interruption never falls between a ledger answer
 * and its entry, or between taking what is owed and keeping it again.
 */
import { Cause, Clock, Duration, Effect, Exit, Result } from "effect"
import type { Prompt } from "effect/ai"
import type * as Cost from "../Cost.ts"
import * as Guard from "../Guard.ts"
import type * as Ledger from "../Ledger.ts"
import type * as ModelProfile from "../ModelProfile.ts"
import type { LedgerEntry } from "../Report.ts"
import type { Frame } from "./frame.ts"
import * as InFlight from "./guardInFlight.ts"
import * as Pending from "./guardPending.ts"

/** A ledger reason in kebab-case: `BudgetExceeded` → `budget-exceeded`, `NotFound` → `budget-not-found`. */
export const reasonCode = (error: Ledger.LedgerError): string => {
  const reason = error.reason
  if (reason._tag === "NotFound") return `${reason.resource}-not-found`
  return reason._tag.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()
}

const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000

let sequence = 0

/** A key no other call shares, in this process or another. */
const uniqueKey = (): string => `guard_${globalThis.crypto.randomUUID()}_${++sequence}`

type Entry = Omit<LedgerEntry, "stage" | "model" | "unit" | "atMs">

/** Writes an entry of one settlement's call into the run's report (nothing outside a run). */
type Record = (settlement: { readonly model: string; readonly unit: string }, entry: Entry) => Effect.Effect<void>

const recorder = (frame: Frame | undefined): Record => (settlement, entry) =>
  frame === undefined ? Effect.void : Effect.map(Clock.currentTimeMillis, (now) => {
    frame.run.ledger.push({
      ...entry,
      stage: frame.path,
      model: settlement.model,
      unit: settlement.unit,
      atMs: roundMs(now - frame.runStartMillis)
    })
  })

/** Makes a ledger call interruptible again (a retry's), or leaves it as it is (a first try's). */
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

const asIs: Restore = (effect) => effect

/**
 * What a try came to: `done` (answered, whatever the answer), `unavailable`
 * (`StoreUnavailable`: to keep), or `broken` (the store's call died: to keep,
 * and counted as a try).
 */
type Outcome = "done" | "unavailable" | "broken"

const isUnavailable = (error: Ledger.LedgerError): boolean => error.reason._tag === "StoreUnavailable"

const recovered = "recovered: an earlier call's, which the ledger could not answer then"

const reservationOf = (owed: { readonly reservationId?: string }) =>
  owed.reservationId === undefined || owed.reservationId === "" ? {} : { reservationId: owed.reservationId }

const failure = (
  operation: Entry["operation"],
  owed: { readonly amount: bigint; readonly reservationId?: string },
  error: Ledger.LedgerError,
  retry: boolean,
  amount: bigint = owed.amount,
  note?: string
): Entry => ({
  operation,
  decision: "failed",
  amount: Number(amount),
  ...reservationOf(owed),
  reason: reasonCode(error),
  detail: [retry ? recovered : undefined, note, error.message].filter((part) => part !== undefined).join(": ")
})

/**
 * Runs a ledger call (made interruptible by `restore`), then `onAnswer` with
 * its answer or typed failure. An interruption goes on; a defect is recorded
 * by `onDefect` and comes to `broken`.
 */
const ask = <A>(
  restore: Restore,
  call: Effect.Effect<A, Ledger.LedgerError>,
  onAnswer: (answer: Result.Result<A, Ledger.LedgerError>) => Effect.Effect<Outcome>,
  onDefect: (detail: string) => Effect.Effect<void>
): Effect.Effect<Outcome> =>
  Effect.flatMap(Effect.exit(restore(call)), (exit) => {
    if (Exit.isSuccess(exit)) return onAnswer(Result.succeed(exit.value))
    if (Cause.hasInterruptsOnly(exit.cause)) return Effect.failCause(exit.cause as Cause.Cause<never>)
    const error = Cause.findError(exit.cause)
    return Result.isSuccess(error)
      ? onAnswer(Result.fail(error.success))
      : Effect.as(onDefect(Cause.pretty(exit.cause).split("\n")[0] ?? "defect"), "broken" as const)
  })

type Owed<Tag extends Pending.Settlement["_tag"]> = Extract<Pending.Settlement, { _tag: Tag }>

const defect = (record: Record, owed: Pending.Settlement, operation: Entry["operation"]) => (detail: string) =>
  record(owed, {
    operation,
    decision: "failed",
    amount: Number(owed.amount),
    ...reservationOf(owed as { readonly reservationId?: string }),
    reason: "defect",
    detail
  })

/**
 * One ledger call that settles `owed`: its answer recorded as `decision`
 * with the amount `amountOf` reads from it; an unavailable ledger recorded
 * on the first try only; another failure recorded as `failed`, then handed
 * to `onFailure` (by default, done).
 */
const step = <A>(options: {
  readonly record: Record
  readonly owed: Owed<"commit"> | Owed<"release">
  readonly operation: Entry["operation"]
  readonly decision: Entry["decision"]
  readonly retry: boolean
  readonly restore: Restore
  readonly call: Effect.Effect<A, Ledger.LedgerError>
  readonly amountOf: (answer: A) => bigint
  /** The amount this call settles, for its failure entry (by default the settlement's). */
  readonly amount?: bigint
  /** A note on the entry of an answer or a failure (joined to the recovery note on a retry). */
  readonly detail?: string
  readonly onFailure?: (error: Ledger.LedgerError, failed: Effect.Effect<void>) => Effect.Effect<Outcome>
  /** What follows an answer, once it is recorded (by default, done). */
  readonly onSuccess?: () => Effect.Effect<Outcome>
}): Effect.Effect<Outcome> => {
  const { owed, operation, record, retry } = options
  return ask(options.restore, options.call, (answer) => {
    if (Result.isSuccess(answer)) {
      const detail = [retry ? recovered : undefined, options.detail].filter((note) => note !== undefined).join("; ")
      const recorded = record(owed, {
        operation,
        decision: options.decision,
        amount: Number(options.amountOf(answer.success)),
        reservationId: owed.reservationId,
        ...(detail === "" ? {} : { detail })
      })
      return options.onSuccess === undefined
        ? Effect.as(recorded, "done" as const)
        : Effect.andThen(recorded, options.onSuccess())
    }
    const error = answer.failure
    const failed = (retried: boolean) =>
      record(owed, failure(operation, owed, error, retried, options.amount, options.detail))
    if (isUnavailable(error)) {
      return Effect.as(retry ? Effect.void : failed(false), "unavailable" as const)
    }
    return options.onFailure === undefined
      ? Effect.as(failed(retry), "done" as const)
      : options.onFailure(error, failed(retry))
  }, defect(record, owed, operation))
}

/** What a step needs beyond the settlement it belongs to. */
type StepOf<A> = Omit<Parameters<typeof step<A>>[0], "record" | "owed" | "operation" | "decision" | "retry" | "restore">

/** A commit that settles `owed`, recorded `committed` with the amount it charged. */
const committing = (
  record: Record,
  owed: Owed<"commit">,
  retry: boolean,
  restore: Restore,
  options: Omit<StepOf<Ledger.CommitAnswer>, "amountOf">
) =>
  step({
    record,
    owed,
    operation: "commit",
    decision: "committed",
    retry,
    restore,
    amountOf: (committed: Ledger.CommitAnswer) => committed.charged.amount,
    ...options
  })

/** An event that settles (part of) `owed`, recorded `charged` with the amount it charged. */
const charging = (
  record: Record,
  owed: Owed<"commit">,
  retry: boolean,
  restore: Restore,
  options: Omit<StepOf<Ledger.EventAnswer>, "amountOf">
) =>
  step({
    record,
    owed,
    operation: "event",
    decision: "charged",
    retry,
    restore,
    amountOf: (charged: Ledger.EventAnswer) => charged.charged.amount,
    ...options
  })

const usageNotReported = "the provider reported no usage: charged the call's worst case"

/** Whether a commit was refused by its reservation's overage policy (the usage is above the amount held). */
const refusedOverage = (error: Ledger.LedgerError): boolean =>
  error.reason._tag === "BudgetExceeded" || error.reason._tag === "OverdraftLimitExceeded"

/** A commit that found its reservation expired: only the event is left, and a retry goes straight to it. */
const expiredThen = (
  guard: Guard.Guard,
  record: Record,
  owed: Owed<"commit">,
  retry: boolean,
  restore: Restore
) =>
(error: Ledger.LedgerError, failed: Effect.Effect<void>): Effect.Effect<Outcome> => {
  if (error.reason._tag !== "ReservationExpired") return Effect.as(failed, "done" as const)
  owed.expired = true
  return Effect.andThen(failed, charge(guard, record, owed, retry, restore))
}

/**
 * Commits a call's usage. A reservation that expired meanwhile (the call
 * outlived ttl + grace) is charged by an event instead: the call was made
 * and paid for. A commit above the amount held that the reservation's
 * overage policy refuses (`REJECT`; an overdraft past its limit) is, for
 * the same reason, settled as the commit of the amount held and an event
 * for the rest, which takes what the budget has left (`settleRefused`).
 */
const commit = (
  guard: Guard.Guard,
  record: Record,
  owed: Owed<"commit">,
  retry: boolean,
  restore: Restore
): Effect.Effect<Outcome> => {
  if (owed.expired === true) return charge(guard, record, owed, retry, restore)
  if (owed.refused !== undefined) return settleRefused(guard, record, owed, retry, restore)
  return committing(record, owed, retry, restore, {
    call: guard.ledger.commit(owed.commit),
    ...(owed.estimated ? { detail: usageNotReported } : {}),
    onFailure: (error, failed) => {
      if (!refusedOverage(error) || owed.held === undefined) {
        return expiredThen(guard, record, owed, retry, restore)(error, failed)
      }
      owed.refused = "held"
      return Effect.andThen(failed, settleRefused(guard, record, owed, retry, restore))
    }
  })
}

/**
 * The commit of exactly the amount held (always within the policy), then
 * the event for the rest of the usage (`ALLOW_IF_AVAILABLE`: capped at what
 * the budget has left, which then becomes over-limit, never debt). Each has
 * its own key, and a retry resumes where this stopped.
 */
const settleRefused = (
  guard: Guard.Guard,
  record: Record,
  owed: Owed<"commit">,
  retry: boolean,
  restore: Restore
): Effect.Effect<Outcome> => {
  const extra = charging(record, owed, retry, restore, {
    call: guard.ledger.event(owed.extra!),
    amount: owed.extra!.actual.amount as bigint,
    detail: "the usage above the reservation, which its overage policy refused to commit"
  })
  return owed.refused === "extra" ? extra : committing(record, owed, retry, restore, {
    call: guard.ledger.commit(owed.held!),
    amount: owed.held!.actual.amount as bigint,
    detail: "the amount held, as its overage policy refused the whole usage",
    onFailure: expiredThen(guard, record, owed, retry, restore),
    onSuccess: () => {
      owed.refused = "extra"
      return extra
    }
  })
}

/**
 * Charges a call that outlived its reservation, by an event of its real
 * usage, after a sweep of the tenant gives the expired hold back (until
 * then it would still count against what is left, and cap the event). The
 * event has its own key: kept with its commit, it is tried again, never
 * charged twice.
 */
const charge = (
  guard: Guard.Guard,
  record: Record,
  owed: Owed<"commit">,
  retry: boolean,
  restore: Restore
): Effect.Effect<Outcome> => {
  // an overdraft past its limit refuses the event whole: the money is spent, so it takes what is left
  const capped = owed.lateCapped === true
  const request: typeof Ledger.EventRequest.Encoded = capped
    ? { ...owed.late, overagePolicy: "ALLOW_IF_AVAILABLE", idempotencyKey: `${owed.late.idempotencyKey}-capped` }
    : owed.late
  return charging(record, owed, retry, restore, {
    call: Effect.andThen(Effect.ignore(guard.ledger.sweep({ tenant: owed.tenant })), guard.ledger.event(request)),
    ...(capped ? { detail: "past the overdraft limit: charged what the budget had left" } : {}),
    onFailure: (error, failed) => {
      if (capped || error.reason._tag !== "OverdraftLimitExceeded") return Effect.as(failed, "done" as const)
      owed.lateCapped = true
      return Effect.andThen(failed, charge(guard, record, owed, retry, restore))
    }
  })
}

/** Releases a reservation. On a retry, one that ended meanwhile (expired, settled) holds nothing: not recorded. */
const release = (
  guard: Guard.Guard,
  record: Record,
  owed: Owed<"release">,
  retry: boolean,
  restore: Restore
): Effect.Effect<Outcome> =>
  step({
    record,
    owed,
    operation: "release",
    decision: "released",
    retry,
    restore,
    call: guard.ledger.release(owed.release),
    amountOf: (released) => released.released.amount,
    onFailure: (error, failed) => {
      const ended = error.reason._tag === "ReservationExpired" || error.reason._tag === "ReservationFinalized"
      return Effect.as(retry && ended ? Effect.void : failed, "done" as const)
    }
  })

const silent: Record = () => Effect.void

/**
 * A reserve whose answer was lost may still have held the estimate: sent
 * again with its key, it answers the reservation it made, which is released
 * at once. If the first never arrived, the replay makes a reservation of its
 * own, created after the first was lost: released too, but not recorded,
 * since nothing was held. A refusal means nothing is held.
 */
const releaseLost = (
  guard: Guard.Guard,
  record: Record,
  owed: Owed<"reserve">,
  restore: Restore
): Effect.Effect<Outcome> =>
  ask(
    restore,
    guard.ledger.reserve(owed.reserve),
    (result) => {
      if (Result.isFailure(result)) {
        return Effect.succeed(isUnavailable(result.failure) ? "unavailable" as const : "done" as const)
      }
      const answer = result.success
      if (answer.reservationId === undefined) return Effect.succeed("done" as const)
      const createdAtMs = (answer.expiresAtMs ?? 0) - Number(owed.reserve.ttlMs ?? 0)
      return release(
        guard,
        createdAtMs > owed.lostAtMs ? silent : record,
        {
          ...owed,
          _tag: "release",
          reservationId: answer.reservationId,
          release: {
            tenant: owed.tenant,
            reservationId: answer.reservationId,
            idempotencyKey: owed.releaseKey,
            reason: "reserve answer lost"
          }
        },
        true,
        restore
      )
    },
    defect(record, owed, "reserve")
  )

const retry = (guard: Guard.Guard, record: Record, settlement: Pending.Settlement, restore: Restore) => {
  switch (settlement._tag) {
    case "commit":
      return commit(guard, record, settlement, true, restore)
    case "release":
      return release(guard, record, settlement, true, restore)
    case "reserve":
      return releaseLost(guard, record, settlement, restore)
  }
}

/** What a settlement still owes: the event, once its commit found the reservation expired or was committed in part. */
const operationOf = (settlement: Pending.Settlement): Entry["operation"] =>
  settlement._tag === "commit" && (settlement.expired === true || settlement.refused === "extra")
    ? "event"
    : settlement._tag

/** What a settlement still owes: the rest of the usage, once the amount held was committed. */
const owedAmount = (settlement: Pending.Settlement): bigint =>
  settlement._tag === "commit" && settlement.refused === "extra" && settlement.expired !== true
    ? settlement.extra!.actual.amount as bigint
    : settlement.amount

const givenUp = (record: Record, settlement: Pending.Settlement, detail: string) =>
  record(settlement, {
    operation: operationOf(settlement),
    decision: "failed",
    amount: Number(owedAmount(settlement)),
    ...reservationOf(settlement as { readonly reservationId?: string }),
    reason: "given-up",
    detail
  })

/** Keeps a settlement for later; one dropped to make room is recorded as given up. */
const keep = (guard: Guard.Guard, record: Record, settlement: Pending.Settlement): Effect.Effect<void> =>
  Effect.suspend(() => {
    const dropped = Pending.add(guard.ledger, settlement)
    return dropped === undefined
      ? Effect.void
      : givenUp(record, dropped, `dropped: more than ${Pending.capacity} settlements owed to an unavailable ledger`)
  })

/** A round of retries: the settlements it could not settle, by whether a later answer showed the ledger up. */
interface Round {
  /** Failed while the ledger answered a later try: their try counts. */
  readonly counted: Array<Pending.Settlement>
  /** Failed since the last answer: their try counts if the call's reserve is answered. */
  readonly trailing: Array<Pending.Settlement>
}

/**
 * Tries again, in order, what earlier calls of the guard's tenant on its
 * ledger could not settle; only the ledger calls are interruptible
 * (`restore`). Two tries in a row that the ledger cannot answer end the
 * round: it is down. What is left untried, by that or an interruption, is
 * kept as it was (a retry uses the same keys, so trying one twice is safe);
 * what was tried and failed is kept by `close`. A settlement older than the
 * ledger's retention is given up: its keys may be forgotten, so a retry
 * could charge twice.
 */
const recover = (guard: Guard.Guard, record: Record, restore: Restore): Effect.Effect<Round> =>
  Effect.gen(function*() {
    const round: Round = { counted: [], trailing: [] }
    const owed = Pending.take(guard.ledger, guard.tenant)
    if (owed.length === 0) return round
    const now = yield* Clock.currentTimeMillis
    // the retention the ledger was built with (not this call's context): what its store applies
    const retentionMs = Duration.toMillis(guard.ledger.retention)
    let next = 0
    const keepRest = Effect.suspend(() => {
      const rest = owed.slice(next)
      next = owed.length
      return Effect.forEach(rest, (settlement) => keep(guard, record, settlement), { discard: true })
    })
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (next >= owed.length) return Effect.void
      const settlement = owed[next]!
      if (now - settlement.atMs > retentionMs) {
        next++
        return Effect.andThen(
          givenUp(record, settlement, "older than the ledger's retention: its keys may be forgotten"),
          loop
        )
      }
      return Effect.flatMap(retry(guard, record, settlement, restore), (outcome) => {
        next++
        if (outcome === "done") {
          // the ledger answered: what failed before this counts
          round.counted.push(...round.trailing.splice(0))
          return loop
        }
        if (outcome === "broken") {
          round.counted.push(settlement)
          return loop
        }
        round.trailing.push(settlement)
        return round.trailing.length >= 2 ? keepRest : loop
      })
    })
    // interrupted in a try: that one and the rest are kept untried, what failed is kept as failed
    yield* Effect.onInterrupt(loop, () => Effect.andThen(keepRest, close(guard, record, round, false)))
    return round
  })

/**
 * Keeps the settlements a round could not settle, after the others (so one
 * that always fails holds nothing back). A try counts only if the ledger
 * answered something after it (a later try, or the call's reserve:
 * `answered`): one that fails while the ledger answers is given up after
 * `maxAttempts` tries, and recorded so; an outage costs nothing a try.
 */
const close = (guard: Guard.Guard, record: Record, round: Round, answered: boolean): Effect.Effect<void> =>
  Effect.suspend(() => {
    const counted = round.counted.splice(0)
    const trailing = round.trailing.splice(0)
    if (answered) counted.push(...trailing)
    const count = (settlement: Pending.Settlement) => {
      const attempts = settlement.attempts + 1
      return attempts < Pending.maxAttempts
        ? keep(guard, record, { ...settlement, attempts })
        : givenUp(record, settlement, `given up after ${attempts} tries while the ledger answered other calls`)
    }
    return Effect.andThen(
      Effect.forEach(counted, count, { discard: true }),
      Effect.forEach(answered ? [] : trailing, (settlement) => keep(guard, record, settlement), { discard: true })
    )
  })

const reserveAnswered = (exit: Exit.Exit<unknown, Ledger.LedgerError>): boolean =>
  Exit.isSuccess(exit) ||
  exit.cause.reasons.some((reason) => reason._tag === "Fail" && !isUnavailable(reason.error))

/**
 * Runs `call` (one model call of `profile` on `prompt`) under `guard`. A
 * denied reservation fails with the `LedgerError` before `call` starts.
 */
export const guarded = <A extends { readonly usage: Cost.Usage; readonly usageEstimated?: boolean }, E, R>(
  guard: Guard.Guard,
  profile: ModelProfile.ModelProfile,
  prompt: Prompt.Prompt,
  frame: Frame | undefined,
  call: Effect.Effect<A, E, R>
): Effect.Effect<A, E | Ledger.LedgerError, R> =>
  Effect.uninterruptibleMask((restore) => {
    const worst = Guard.worstCase(profile, prompt, guard.unit)
    const key = uniqueKey()
    const record = recorder(frame)
    const action = { kind: "llm.completion", name: profile.name }
    const request: typeof Ledger.ReserveRequest.Encoded = {
      tenant: guard.tenant,
      subject: guard.subject,
      action,
      estimate: { unit: guard.unit, amount: worst.amount },
      ttlMs: guard.ttlMs,
      overagePolicy: guard.overagePolicy,
      idempotencyKey: `${key}:reserve`
    }
    const run = Effect.gen(function*() {
      const atMs = yield* Clock.currentTimeMillis
      const common = { tenant: guard.tenant, unit: guard.unit, model: profile.name, attempts: 1, atMs }
      const round = yield* recover(guard, record, restore)
      const lost = Effect.flatMap(Clock.currentTimeMillis, (lostAtMs) =>
        keep(guard, record, {
          ...common,
          _tag: "reserve",
          reserve: request,
          releaseKey: `${key}:release`,
          lostAtMs,
          amount: worst.amount
        }))
      const reserve = guard.ledger.reserve(request).pipe(
        // a store call that died: recorded, and kept like an unanswered reserve (it may have been applied)
        Effect.tapCause((cause) =>
          // a typed failure with it is handled below, as in a retry
          Cause.hasDies(cause) && !Cause.hasFails(cause)
            ? Effect.andThen(
              record(common, {
                operation: "reserve",
                decision: "failed",
                amount: Number(worst.amount),
                reason: "defect",
                detail: Cause.pretty(cause).split("\n")[0] ?? "defect"
              }),
              lost
            )
            : Effect.void
        ),
        Effect.tapError((error) =>
          Effect.andThen(
            record(common, {
              operation: "reserve",
              decision: "denied",
              amount: Number(worst.amount),
              reason: reasonCode(error),
              detail: error.message
            }),
            // the reserve may have been applied after all: sent again later, and released
            isUnavailable(error) ? lost : Effect.void
          )
        ),
        Effect.tap((answer) =>
          record(common, {
            operation: "reserve",
            decision: "allowed",
            amount: Number(worst.amount),
            ...(answer.reservationId === undefined ? {} : { reservationId: answer.reservationId })
          })
        ),
        // whether the ledger answered the reserve decides whether the round's last failed tries count
        Effect.onExit((exit) => close(guard, record, round, reserveAnswered(exit)))
      )
      const settle = (answer: Ledger.ReserveAnswer, exit: Exit.Exit<A, E>): Effect.Effect<void> => {
        const reservationId = answer.reservationId ?? ""
        if (Exit.isSuccess(exit)) {
          const actual = Guard.price(exit.value.usage, profile.price, guard.unit)
          const owed: Owed<"commit"> = {
            ...common,
            _tag: "commit",
            reservationId,
            commit: {
              tenant: guard.tenant,
              reservationId,
              actual: { unit: guard.unit, amount: actual },
              idempotencyKey: `${key}:commit`
            },
            late: {
              tenant: guard.tenant,
              subject: guard.subject,
              action,
              actual: { unit: guard.unit, amount: actual },
              // the money is spent: REJECT would refuse to record it, so it takes what is available
              overagePolicy: guard.overagePolicy === "REJECT" ? "ALLOW_IF_AVAILABLE" : guard.overagePolicy,
              metadata: { reservationId, reason: "model call outlived its reservation" },
              idempotencyKey: `${key}:late`
            },
            amount: actual,
            estimated: exit.value.usageEstimated === true,
            ...(actual > worst.amount
              ? {
                held: {
                  tenant: guard.tenant,
                  reservationId,
                  actual: { unit: guard.unit, amount: worst.amount },
                  idempotencyKey: `${key}:commit-held`
                },
                extra: {
                  tenant: guard.tenant,
                  subject: guard.subject,
                  action,
                  actual: { unit: guard.unit, amount: actual - worst.amount },
                  overagePolicy: "ALLOW_IF_AVAILABLE",
                  metadata: { reservationId, reason: "usage above the reservation, refused by its overage policy" },
                  idempotencyKey: `${key}:extra`
                }
              }
              : { held: undefined, extra: undefined })
          }
          return Effect.flatMap(
            commit(guard, record, owed, false, asIs),
            (outcome) => outcome === "done" ? Effect.void : keep(guard, record, owed)
          )
        }
        const owed: Owed<"release"> = {
          ...common,
          _tag: "release",
          reservationId,
          release: {
            tenant: guard.tenant,
            reservationId,
            idempotencyKey: `${key}:release`,
            reason: Exit.hasInterrupts(exit) ? "interrupted" : "model call failed"
          },
          amount: worst.amount
        }
        return Effect.flatMap(
          release(guard, record, owed, false, asIs),
          (outcome) => outcome === "done" ? Effect.void : keep(guard, record, owed)
        )
      }
      return yield* Effect.acquireUseRelease(reserve, () => restore(call), settle)
    })
    // counted while under way, so that closing the ledger's layer waits for it to settle
    InFlight.enter(guard.ledger)
    return Effect.ensuring(run, Effect.sync(() => InFlight.leave(guard.ledger)))
  })
