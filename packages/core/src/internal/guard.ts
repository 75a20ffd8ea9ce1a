/**
 * One guarded model call: reserve the worst case, make the call, then commit
 * the usage it reports, or release the reservation when it failed or was
 * interrupted. A call that outlived its reservation is charged by an event.
 * What the ledger could not answer (`StoreUnavailable`) is kept and tried
 * again, with the same keys, before the next guarded call of the tenant on
 * that ledger reserves (`guardPending.ts`). Every ledger answer goes into the
 * run's ledger entries.
 */
import { Clock, Effect, Exit } from "effect"
import type { Prompt } from "effect/ai"
import type * as Cost from "../Cost.ts"
import * as Guard from "../Guard.ts"
import type * as Ledger from "../Ledger.ts"
import type * as ModelProfile from "../ModelProfile.ts"
import type { LedgerEntry } from "../Report.ts"
import type { Frame } from "./frame.ts"
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

/** What a try of a settlement came to: done (answered, whatever the answer), or the ledger's `StoreUnavailable`. */
type Outcome = Ledger.LedgerError | undefined

const done: Effect.Effect<Outcome> = Effect.succeed(undefined)

const isUnavailable = (error: Ledger.LedgerError): boolean => error.reason._tag === "StoreUnavailable"

const recovered = "recovered: an earlier call's, which the ledger could not answer then"

const failure = (
  operation: Entry["operation"],
  owed: { readonly amount: bigint; readonly reservationId?: string },
  error: Ledger.LedgerError,
  retry: boolean
): Entry => ({
  operation,
  decision: "failed",
  amount: Number(owed.amount),
  ...(owed.reservationId === undefined || owed.reservationId === "" ? {} : { reservationId: owed.reservationId }),
  reason: reasonCode(error),
  detail: retry ? `${recovered}: ${error.message}` : error.message
})

type Owed<Tag extends Pending.Settlement["_tag"]> = Extract<Pending.Settlement, { _tag: Tag }>

/**
 * Commits a call's usage. A reservation that expired meanwhile (the call
 * outlived ttl + grace) is charged by an event instead: the call was made
 * and paid for. An unavailable ledger is recorded on the first try only.
 */
const commit = (guard: Guard.Guard, record: Record, owed: Owed<"commit">, retry: boolean): Effect.Effect<Outcome> =>
  owed.expired === true ? charge(guard, record, owed, retry) : guard.ledger.commit(owed.commit).pipe(
    Effect.matchEffect({
      onFailure: (error) => {
        if (isUnavailable(error)) {
          return Effect.as(retry ? Effect.void : record(owed, failure("commit", owed, error, false)), error)
        }
        const failed = record(owed, failure("commit", owed, error, retry))
        if (error.reason._tag !== "ReservationExpired") return Effect.as(failed, undefined)
        // from now on only the event is left: a retry goes straight to it
        owed.expired = true
        return Effect.andThen(failed, charge(guard, record, owed, retry))
      },
      onSuccess: (committed) =>
        Effect.as(
          record(owed, {
            operation: "commit",
            decision: "committed",
            amount: Number(committed.charged.amount),
            reservationId: owed.reservationId,
            ...(retry ? { detail: recovered } : {})
          }),
          undefined
        )
    })
  )

/**
 * Charges a call that outlived its reservation, by an event of its real
 * usage, after a sweep of the tenant gives the expired hold back (until
 * then it would still count against what is left, and cap the event).
 */
const charge = (guard: Guard.Guard, record: Record, owed: Owed<"commit">, retry: boolean): Effect.Effect<Outcome> =>
  Effect.andThen(Effect.ignore(guard.ledger.sweep({ tenant: owed.tenant })), guard.ledger.event(owed.late)).pipe(
    Effect.matchEffect({
      // the event has its own key: kept with its commit, it is tried again, never charged twice
      onFailure: (error) =>
        isUnavailable(error)
          ? Effect.as(retry ? Effect.void : record(owed, failure("event", owed, error, false)), error)
          : Effect.as(record(owed, failure("event", owed, error, retry)), undefined),
      onSuccess: (charged) =>
        Effect.as(
          record(owed, {
            operation: "event",
            decision: "charged",
            amount: Number(charged.charged.amount),
            reservationId: owed.reservationId,
            ...(retry ? { detail: recovered } : {})
          }),
          undefined
        )
    })
  )

/** Releases a reservation. On a retry, one that ended meanwhile (expired, settled) holds nothing: not recorded. */
const release = (guard: Guard.Guard, record: Record, owed: Owed<"release">, retry: boolean): Effect.Effect<Outcome> =>
  guard.ledger.release(owed.release).pipe(
    Effect.matchEffect({
      onFailure: (error) => {
        if (isUnavailable(error)) {
          return Effect.as(retry ? Effect.void : record(owed, failure("release", owed, error, false)), error)
        }
        const ended = error.reason._tag === "ReservationExpired" || error.reason._tag === "ReservationFinalized"
        return Effect.as(
          retry && ended ? Effect.void : record(owed, failure("release", owed, error, retry)),
          undefined
        )
      },
      onSuccess: (released) =>
        Effect.as(
          record(owed, {
            operation: "release",
            decision: "released",
            amount: Number(released.released.amount),
            reservationId: owed.reservationId,
            ...(retry ? { detail: recovered } : {})
          }),
          undefined
        )
    })
  )

/**
 * A reserve whose answer was lost may still have held the estimate: sent
 * again with its key, it answers the reservation it made, which is released
 * at once. If the first never arrived, the replay makes a reservation of its
 * own (created now): it is released too, but not recorded, since nothing
 * was held before. A refusal means nothing is held.
 */
const releaseLost = (guard: Guard.Guard, record: Record, owed: Owed<"reserve">): Effect.Effect<Outcome> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    guard.ledger.reserve(owed.reserve).pipe(
      Effect.matchEffect({
        onFailure: (error) => Effect.succeed(isUnavailable(error) ? error : undefined),
        onSuccess: (answer) => {
          if (answer.reservationId === undefined) return done
          const createdAtMs = (answer.expiresAtMs ?? 0) - Number(owed.reserve.ttlMs ?? 0)
          const silent: Record = () => Effect.void
          return release(guard, createdAtMs >= now ? silent : record, {
            ...owed,
            _tag: "release",
            reservationId: answer.reservationId,
            release: {
              tenant: owed.tenant,
              reservationId: answer.reservationId,
              idempotencyKey: owed.releaseKey,
              reason: "reserve answer lost"
            }
          }, true)
        }
      })
    ))

const retry = (guard: Guard.Guard, record: Record, settlement: Pending.Settlement): Effect.Effect<Outcome> => {
  switch (settlement._tag) {
    case "commit":
      return commit(guard, record, settlement, true)
    case "release":
      return release(guard, record, settlement, true)
    case "reserve":
      return releaseLost(guard, record, settlement)
  }
}

/** Keeps a settlement for later; one dropped to make room is recorded as given up. */
const keep = (guard: Guard.Guard, record: Record, settlement: Pending.Settlement): Effect.Effect<void> =>
  Effect.suspend(() => {
    const dropped = Pending.add(guard.ledger, settlement)
    return dropped === undefined ? Effect.void : record(dropped, {
      operation: dropped._tag,
      decision: "failed",
      amount: Number(dropped.amount),
      reason: "given-up",
      detail: `dropped: more than ${Pending.capacity} settlements owed to an unavailable ledger`
    })
  })

/** The settlements a round tried that the ledger could not answer, and whether it answered any other. */
interface Round {
  readonly failed: Array<Pending.Settlement>
  answered: boolean
}

const noRound: Round = { failed: [], answered: false }

/**
 * Tries again, in order, what earlier calls of the guard's tenant on its
 * ledger could not settle. Two in a row that the ledger cannot answer (and
 * none answered before them) end the round: the ledger is down. What is
 * left untried, by that or an interruption, is kept as it was (a retry uses
 * the same keys, so trying one twice is safe); the failed tries are kept by
 * `close`, once the call's own reserve has said whether the ledger is up.
 */
const recover = (guard: Guard.Guard, record: Record): Effect.Effect<Round> =>
  Effect.uninterruptibleMask((restore) => {
    const owed = Pending.take(guard.ledger, guard.tenant)
    if (owed.length === 0) return Effect.succeed(noRound)
    const round: Round = { failed: [], answered: false }
    let next = 0
    const keepRest = Effect.suspend(() => {
      const rest = owed.slice(next)
      next = owed.length
      return Effect.forEach(rest, (settlement) => keep(guard, record, settlement), { discard: true })
    })
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (next >= owed.length) return Effect.void
      const settlement = owed[next]!
      return restore(retry(guard, record, settlement)).pipe(
        // interrupted (or a defect): this one and the rest are kept, untried as far as counting goes
        Effect.onError(() => Effect.andThen(keepRest, close(guard, record, round, false))),
        Effect.flatMap((unavailable) => {
          next++
          if (unavailable === undefined) {
            round.answered = true
            return loop
          }
          round.failed.push(settlement)
          return !round.answered && round.failed.length >= 2 ? keepRest : loop
        })
      )
    })
    return Effect.as(loop, round)
  })

/**
 * Keeps the settlements a round could not settle, after the others (so one
 * that always fails holds nothing back). Their try counts only if the ledger
 * answered something meanwhile (another settlement, or the call's reserve):
 * one that fails while the ledger answers is given up after `maxAttempts`
 * tries, and recorded so; an outage costs no settlement a try.
 */
const close = (guard: Guard.Guard, record: Record, round: Round, answered: boolean): Effect.Effect<void> =>
  Effect.suspend(() => {
    const failed = round.failed.splice(0)
    const counts = round.answered || answered
    return Effect.forEach(failed, (settlement) => {
      if (!counts) return keep(guard, record, settlement)
      const attempts = settlement.attempts + 1
      return attempts < Pending.maxAttempts
        ? keep(guard, record, { ...settlement, attempts })
        : record(settlement, {
          operation: settlement._tag,
          decision: "failed",
          amount: Number(settlement.amount),
          ...("reservationId" in settlement && settlement.reservationId !== ""
            ? { reservationId: settlement.reservationId }
            : {}),
          reason: "given-up",
          detail: `given up after ${attempts} tries while the ledger answered other calls`
        })
    }, { discard: true })
  })

const reserveUnavailable = (exit: Exit.Exit<unknown, Ledger.LedgerError>): boolean =>
  Exit.isFailure(exit) && exit.cause.reasons.some((reason) => reason._tag === "Fail" && isUnavailable(reason.error))

/**
 * Runs `call` (one model call of `profile` on `prompt`) under `guard`. A
 * denied reservation fails with the `LedgerError` before `call` starts.
 */
export const guarded = <A extends { readonly usage: Cost.Usage }, E, R>(
  guard: Guard.Guard,
  profile: ModelProfile.ModelProfile,
  prompt: Prompt.Prompt,
  frame: Frame | undefined,
  call: Effect.Effect<A, E, R>
): Effect.Effect<A, E | Ledger.LedgerError, R> =>
  Effect.suspend(() => {
    const worst = Guard.worstCase(profile, prompt, guard.unit)
    const key = uniqueKey()
    const record = recorder(frame)
    const common = { tenant: guard.tenant, unit: guard.unit, model: profile.name, attempts: 1 }
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
    const reserve = guard.ledger.reserve(request).pipe(
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
          isUnavailable(error)
            ? keep(guard, record, {
              ...common,
              _tag: "reserve",
              reserve: request,
              releaseKey: `${key}:release`,
              amount: worst.amount
            })
            : Effect.void
        )
      ),
      Effect.tap((answer) =>
        record(common, {
          operation: "reserve",
          decision: "allowed",
          amount: Number(worst.amount),
          ...(answer.reservationId === undefined ? {} : { reservationId: answer.reservationId })
        })
      )
    )
    const settle = (answer: Ledger.ReserveAnswer, exit: Exit.Exit<A, E>): Effect.Effect<void> => {
      const reservationId = answer.reservationId ?? ""
      const owed: Pending.Settlement = Exit.isSuccess(exit)
        ? (() => {
          const actual = Guard.price(exit.value.usage, profile.price, guard.unit)
          return {
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
            amount: actual
          }
        })()
        : {
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
      const first = owed._tag === "commit"
        ? commit(guard, record, owed, false)
        : release(guard, record, owed as Owed<"release">, false)
      return Effect.flatMap(first, (unavailable) => unavailable === undefined ? Effect.void : keep(guard, record, owed))
    }
    return Effect.flatMap(recover(guard, record), (round) =>
      Effect.acquireUseRelease(
        // whether the ledger answered the reserve decides whether the round's failed tries count
        Effect.onExit(
          reserve,
          (exit) =>
            close(guard, record, round, Exit.isSuccess(exit) || (Exit.hasFails(exit) && !reserveUnavailable(exit)))
        ),
        () => call,
        settle
      ))
  })
