/**
 * One guarded model call: reserve the worst case, make the call, then commit
 * the usage it reports, or release the reservation when it failed or was
 * interrupted. A call that outlived its reservation is charged by an event.
 * Every ledger answer goes into the run's ledger entries.
 */
import { Clock, Effect, Exit } from "effect"
import type { Prompt } from "effect/ai"
import type * as Cost from "../Cost.ts"
import * as Guard from "../Guard.ts"
import type * as Ledger from "../Ledger.ts"
import type * as ModelProfile from "../ModelProfile.ts"
import type { LedgerEntry } from "../Report.ts"
import type { Frame } from "./frame.ts"

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
    const record = (entry: Entry): Effect.Effect<void> =>
      frame === undefined ? Effect.void : Effect.map(Clock.currentTimeMillis, (now) => {
        frame.run.ledger.push({
          ...entry,
          stage: frame.path,
          model: profile.name,
          unit: guard.unit,
          atMs: round(now - frame.runStartMillis)
        })
      })
    const failed = (operation: "commit" | "release" | "event", amount: bigint) => (error: Ledger.LedgerError) =>
      record({
        operation,
        decision: "failed",
        amount: Number(amount),
        reason: reasonCode(error),
        detail: error.message
      })
    // A call that outlived its reservation (ttl + grace) has still been paid for: charge it directly,
    // under the guard's policy (REJECT would refuse what is already spent, so it takes what is available).
    const late = (actual: bigint, reservationId: string) =>
      guard.ledger.event({
        tenant: guard.tenant,
        subject: guard.subject,
        action: { kind: "llm.completion", name: profile.name },
        actual: { unit: guard.unit, amount: actual },
        overagePolicy: guard.overagePolicy === "REJECT" ? "ALLOW_IF_AVAILABLE" : guard.overagePolicy,
        metadata: { reservationId, reason: "model call outlived its reservation" },
        idempotencyKey: `${key}:late`
      }).pipe(
        Effect.matchEffect({
          onFailure: failed("event", actual),
          onSuccess: (charged) =>
            record({ operation: "event", decision: "charged", amount: Number(charged.charged.amount), reservationId })
        })
      )
    const reserve = guard.ledger.reserve({
      tenant: guard.tenant,
      subject: guard.subject,
      action: { kind: "llm.completion", name: profile.name },
      estimate: { unit: guard.unit, amount: worst.amount },
      ttlMs: guard.ttlMs,
      overagePolicy: guard.overagePolicy,
      idempotencyKey: `${key}:reserve`
    }).pipe(
      Effect.tapError((error) =>
        record({
          operation: "reserve",
          decision: "denied",
          amount: Number(worst.amount),
          reason: reasonCode(error),
          detail: error.message
        })
      ),
      Effect.tap((answer) =>
        record({
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
        return guard.ledger.commit({
          tenant: guard.tenant,
          reservationId,
          actual: { unit: guard.unit, amount: actual },
          idempotencyKey: `${key}:commit`
        }).pipe(
          Effect.matchEffect({
            onFailure: (error) =>
              error.reason._tag === "ReservationExpired"
                ? Effect.andThen(failed("commit", actual)(error), late(actual, reservationId))
                : failed("commit", actual)(error),
            onSuccess: (committed) =>
              record({
                operation: "commit",
                decision: "committed",
                amount: Number(committed.charged.amount),
                reservationId
              })
          })
        )
      }
      return guard.ledger.release({
        tenant: guard.tenant,
        reservationId,
        idempotencyKey: `${key}:release`,
        reason: Exit.hasInterrupts(exit) ? "interrupted" : "model call failed"
      }).pipe(
        Effect.matchEffect({
          onFailure: failed("release", worst.amount),
          onSuccess: (released) =>
            record({
              operation: "release",
              decision: "released",
              amount: Number(released.released.amount),
              reservationId
            })
        })
      )
    }
    return Effect.acquireUseRelease(reserve, () => call, settle)
  })
