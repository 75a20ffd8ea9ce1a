/**
 * One guarded model call: reserve the worst case, make the call, then commit
 * the usage it reports, or release the reservation when it failed or was
 * interrupted. A call that outlived its reservation is charged by an event.
 * What the ledger could not answer (`StoreUnavailable`) is kept and tried
 * again, with the same keys, before the next guarded call on that ledger
 * reserves (`guardPending.ts`). Every ledger answer goes into the run's
 * ledger entries.
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

const round = (ms: number): number => Math.round(ms * 1000) / 1000

let sequence = 0

/** A key no other call shares, in this process or another. */
const uniqueKey = (): string => `guard_${globalThis.crypto.randomUUID()}_${++sequence}`

type Entry = Omit<LedgerEntry, "stage" | "model" | "unit" | "atMs">

/** Writes the entries of one model's calls into the run's report (nothing outside a run). */
type Record = (model: string) => (entry: Entry) => Effect.Effect<void>

const recorder = (guard: Guard.Guard, frame: Frame | undefined): Record => (model) => (entry) =>
  frame === undefined ? Effect.void : Effect.map(Clock.currentTimeMillis, (now) => {
    frame.run.ledger.push({
      ...entry,
      stage: frame.path,
      model,
      unit: guard.unit,
      atMs: round(now - frame.runStartMillis)
    })
  })

const isUnavailable = (error: Ledger.LedgerError): boolean => error.reason._tag === "StoreUnavailable"

const recovered = "recovered: an earlier call's, which the ledger could not answer then"

const failure = (operation: Entry["operation"], amount: bigint, error: Ledger.LedgerError): Entry => ({
  operation,
  decision: "failed",
  amount: Number(amount),
  reason: reasonCode(error),
  detail: error.message
})

/**
 * Commits a call's usage. A reservation that expired meanwhile (the call
 * outlived ttl + grace) is charged by an event instead: the call was made
 * and paid for. A ledger that cannot answer keeps the commit for later;
 * a retry (`retry`) records only what the ledger answered.
 */
const commit = (
  guard: Guard.Guard,
  record: (entry: Entry) => Effect.Effect<void>,
  owed: Extract<Pending.Settlement, { _tag: "commit" }>,
  retry: boolean
): Effect.Effect<boolean> =>
  guard.ledger.commit(owed.commit).pipe(
    Effect.matchEffect({
      onFailure: (error) => {
        if (isUnavailable(error)) {
          return Effect.as(
            Effect.andThen(
              retry ? Effect.void : record(failure("commit", owed.amount, error)),
              Effect.sync(() => Pending.add(guard.ledger, owed))
            ),
            true
          )
        }
        const failed = record({ ...failure("commit", owed.amount, error), ...(retry ? { detail: recovered } : {}) })
        return error.reason._tag === "ReservationExpired"
          ? Effect.andThen(failed, charge(guard, record, owed))
          : Effect.as(failed, false)
      },
      onSuccess: (committed) =>
        Effect.as(
          record({
            operation: "commit",
            decision: "committed",
            amount: Number(committed.charged.amount),
            reservationId: owed.reservationId,
            ...(retry ? { detail: recovered } : {})
          }),
          false
        )
    })
  )

/**
 * Charges a call that outlived its reservation, by an event of its real
 * usage, after a sweep of the tenant gives the expired hold back (until
 * then it would still count against what is left, and cap the event).
 */
const charge = (
  guard: Guard.Guard,
  record: (entry: Entry) => Effect.Effect<void>,
  owed: Extract<Pending.Settlement, { _tag: "commit" }>
): Effect.Effect<boolean> =>
  Effect.andThen(Effect.ignore(guard.ledger.sweep({ tenant: guard.tenant })), guard.ledger.event(owed.late)).pipe(
    Effect.matchEffect({
      onFailure: (error) =>
        Effect.andThen(
          record(failure("event", owed.amount, error)),
          // the event has its own key: kept, it is tried again, never charged twice
          isUnavailable(error) ? Effect.sync(() => (Pending.add(guard.ledger, owed), true)) : Effect.succeed(false)
        ),
      onSuccess: (charged) =>
        Effect.as(
          record({
            operation: "event",
            decision: "charged",
            amount: Number(charged.charged.amount),
            reservationId: owed.reservationId
          }),
          false
        )
    })
  )

/** Releases a reservation; a ledger that cannot answer keeps the release for later. */
const release = (
  guard: Guard.Guard,
  record: (entry: Entry) => Effect.Effect<void>,
  owed: Extract<Pending.Settlement, { _tag: "release" }>,
  retry: boolean
): Effect.Effect<boolean> =>
  guard.ledger.release(owed.release).pipe(
    Effect.matchEffect({
      onFailure: (error) =>
        isUnavailable(error)
          ? Effect.as(
            Effect.andThen(
              retry ? Effect.void : record(failure("release", owed.amount, error)),
              Effect.sync(() => Pending.add(guard.ledger, owed))
            ),
            true
          )
          : Effect.as(
            record({ ...failure("release", owed.amount, error), ...(retry ? { detail: recovered } : {}) }),
            false
          ),
      onSuccess: (released) =>
        Effect.as(
          record({
            operation: "release",
            decision: "released",
            amount: Number(released.released.amount),
            reservationId: owed.reservationId,
            ...(retry ? { detail: recovered } : {})
          }),
          false
        )
    })
  )

/**
 * A reserve whose answer was lost may still have held the estimate: finds
 * the reservation by its idempotency key and releases it while it is active.
 */
const releaseLost = (
  guard: Guard.Guard,
  record: (entry: Entry) => Effect.Effect<void>,
  owed: Extract<Pending.Settlement, { _tag: "reserve" }>
): Effect.Effect<boolean> =>
  guard.ledger.listReservations({ tenant: owed.tenant, idempotencyKey: owed.idempotencyKey }).pipe(
    Effect.flatMap((page) => {
      const held = page.reservations.find((reservation) => reservation.status === "active")
      return held === undefined ? Effect.succeed(false) : release(guard, record, {
        _tag: "release",
        model: owed.model,
        reservationId: held.reservationId,
        release: {
          tenant: owed.tenant,
          reservationId: held.reservationId,
          idempotencyKey: owed.releaseKey,
          reason: "reserve answer lost"
        },
        amount: owed.amount
      }, true)
    }),
    Effect.catch((error) =>
      isUnavailable(error) ? Effect.sync(() => (Pending.add(guard.ledger, owed), true)) : Effect.succeed(false)
    )
  )

const retry = (guard: Guard.Guard, record: Record, settlement: Pending.Settlement): Effect.Effect<boolean> => {
  const recordFor = record(settlement.model)
  switch (settlement._tag) {
    case "commit":
      return commit(guard, recordFor, settlement, true)
    case "release":
      return release(guard, recordFor, settlement, true)
    case "reserve":
      return releaseLost(guard, recordFor, settlement)
  }
}

/**
 * Tries again, in order, what earlier calls on the guard's ledger could not
 * settle. The first that finds the ledger still unavailable stops the round:
 * it and the rest are kept for the next call, as they are when the round is
 * interrupted (a retry uses the same keys, so trying one twice is safe).
 */
const recover = (guard: Guard.Guard, record: Record): Effect.Effect<void> =>
  Effect.suspend(() => {
    const owed = Pending.take(guard.ledger)
    if (owed.length === 0) return Effect.void
    let next = 0
    const keepRest = (from: number) =>
      Effect.sync(() => {
        for (let i = from; i < owed.length; i++) Pending.add(guard.ledger, owed[i]!)
        next = owed.length
      })
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (next >= owed.length) return Effect.void
      const settlement = owed[next]!
      return Effect.flatMap(retry(guard, record, settlement), (unavailable) => {
        next++
        // the settlement itself was kept again by `retry`
        return unavailable ? keepRest(next) : loop
      })
    })
    return Effect.onInterrupt(loop, () => keepRest(next))
  })

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
    const record = recorder(guard, frame)
    const recordCall = record(profile.name)
    const action = { kind: "llm.completion", name: profile.name }
    const reserve = guard.ledger.reserve({
      tenant: guard.tenant,
      subject: guard.subject,
      action,
      estimate: { unit: guard.unit, amount: worst.amount },
      ttlMs: guard.ttlMs,
      overagePolicy: guard.overagePolicy,
      idempotencyKey: `${key}:reserve`
    }).pipe(
      Effect.tapError((error) =>
        Effect.andThen(
          recordCall({
            operation: "reserve",
            decision: "denied",
            amount: Number(worst.amount),
            reason: reasonCode(error),
            detail: error.message
          }),
          // the reserve may have been applied after all: its hold is found and released later
          isUnavailable(error)
            ? Effect.sync(() =>
              Pending.add(guard.ledger, {
                _tag: "reserve",
                model: profile.name,
                tenant: guard.tenant,
                idempotencyKey: `${key}:reserve`,
                releaseKey: `${key}:release`,
                amount: worst.amount
              })
            )
            : Effect.void
        )
      ),
      Effect.tap((answer) =>
        recordCall({
          operation: "reserve",
          decision: "allowed",
          amount: Number(worst.amount),
          ...(answer.reservationId === undefined ? {} : { reservationId: answer.reservationId })
        })
      )
    )
    const settle = (answer: Ledger.ReserveAnswer, exit: Exit.Exit<A, E>): Effect.Effect<void> => {
      const reservationId = answer.reservationId ?? ""
      if (Exit.isSuccess(exit)) {
        const actual = Guard.price(exit.value.usage, profile.price, guard.unit)
        return Effect.asVoid(commit(guard, recordCall, {
          _tag: "commit",
          model: profile.name,
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
        }, false))
      }
      return Effect.asVoid(release(guard, recordCall, {
        _tag: "release",
        model: profile.name,
        reservationId,
        release: {
          tenant: guard.tenant,
          reservationId,
          idempotencyKey: `${key}:release`,
          reason: Exit.hasInterrupts(exit) ? "interrupted" : "model call failed"
        },
        amount: worst.amount
      }, false))
    }
    return Effect.andThen(recover(guard, record), Effect.acquireUseRelease(reserve, () => call, settle))
  })
