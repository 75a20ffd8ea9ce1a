/**
 * The ledger bench's driver: `clients` fibers share one `Ledger` and one
 * subject (three derived scopes, each with a budget, all in one unit), each
 * running one kind of step back to back for a fixed wall time. A step times
 * the ledger calls it is about (with `performance.now()` around each call) and
 * makes the calls it needs around them untimed (a commit needs a reservation
 * first). Every mutating call carries an idempotency key, as the model-call
 * guard's do.
 *
 * The figures of a case: the latency samples of each timed call, how many
 * steps completed, the wall time and the process CPU time (user + system, all
 * threads) spent on them, and the minor page faults the process took
 * meanwhile (memory it touched for the first time: ~12 µs each on the
 * development VM, so they can decide a memory case's figure).
 */
import type { Ledger } from "@timebox/core"
import { Effect } from "effect"
import { Recorder } from "./stats.ts"

/**
 * What a case is timing: one ledger operation, or a reserve followed by a
 * commit (`lifecycle`; `unkeyed`: the same without idempotency keys).
 */
export type Kind =
  | "lifecycle"
  | "unkeyed"
  | "reserve"
  | "commit"
  | "release"
  | "extend"
  | "decide"
  | "event"
  | "balances"
  | "getReservation"

/** Every kind, in table order. */
export const kinds: ReadonlyArray<Kind> = [
  "lifecycle",
  "unkeyed",
  "reserve",
  "commit",
  "release",
  "extend",
  "decide",
  "event",
  "balances",
  "getReservation"
]

/** The unit, the estimate held and the actual cost committed by every step. */
export const unit = "USD_MICROCENTS" as const
export const estimate = 1_000_000n
export const actual = 420_000n

/** Large enough that no step of any case can exhaust it. */
export const allocated = 2n ** 62n

const action: Ledger.Action = { kind: "llm.completion", name: "bench-model" }

/** The subject of a tenant: tenant → app → agent, three derived scopes. */
export const subjectOf = (tenant: string): Ledger.Subject => ({ tenant, app: "support", agent: "bot" })

/** Creates a budget on each derived scope of the tenant's subject. */
export const fund = (ledger: Ledger.Service, tenant: string, scopes: ReadonlyArray<string>) =>
  Effect.forEach(scopes, (scope) => ledger.createBudget({ tenant, scope, unit, allocated }), { discard: true })

/** The latency samples (ms) of one case, per timed call. */
export interface Samples {
  /** The whole step's timed calls (for `lifecycle` and `unkeyed`: reserve + commit). */
  readonly step: Recorder
  /** For `lifecycle` and `unkeyed`: the reserve and commit calls inside it. */
  readonly reserve: Recorder
  readonly commit: Recorder
}

export interface CaseResult {
  readonly kind: Kind
  readonly clients: number
  readonly steps: number
  readonly elapsedMs: number
  readonly cpuMs: number
  /** Minor page faults of the process during the case. */
  readonly pageFaults: number
  readonly samples: Samples
}

/**
 * One client's loop: steps of `kind` until `until` (a `performance.now()`
 * instant). `key` makes idempotency keys unique across clients and cases.
 */
const client = (
  ledger: Ledger.Service,
  tenant: string,
  kind: Kind,
  key: string,
  until: number,
  samples: Samples
) =>
  Effect.gen(function*() {
    const subject = subjectOf(tenant)
    let n = 0
    let steps = 0
    const reserve = (idempotencyKey: string | undefined) =>
      ledger.reserve(
        idempotencyKey === undefined
          ? { tenant, subject, action, estimate: { unit, amount: estimate } }
          : { tenant, subject, action, estimate: { unit, amount: estimate }, idempotencyKey }
      )
    const reservationOf = (answer: Ledger.ReserveAnswer): string => {
      if (answer.reservationId === undefined) throw new Error(`reserve denied: ${JSON.stringify(answer.reasonCode)}`)
      return answer.reservationId
    }
    const commit = (reservationId: string, keyed = true) =>
      ledger.commit(
        keyed
          ? { tenant, reservationId, actual: { unit, amount: actual }, idempotencyKey: `${key}c${n}` }
          : { tenant, reservationId, actual: { unit, amount: actual } }
      )
    const release = (reservationId: string) => ledger.release({ tenant, reservationId, idempotencyKey: `${key}x${n}` })
    // getReservation reads one reservation held for the whole case
    const held = kind === "getReservation" ? reservationOf(yield* reserve(`${key}held`)) : ""

    while (performance.now() < until) {
      n++
      switch (kind) {
        case "lifecycle":
        case "unkeyed": {
          const keyed = kind === "lifecycle"
          const start = performance.now()
          const answer = yield* reserve(keyed ? `${key}r${n}` : undefined)
          const reserved = performance.now()
          yield* commit(reservationOf(answer), keyed)
          const end = performance.now()
          samples.step.record(end - start)
          samples.reserve.record(reserved - start)
          samples.commit.record(end - reserved)
          break
        }
        case "reserve": {
          const start = performance.now()
          const answer = yield* reserve(`${key}r${n}`)
          samples.step.record(performance.now() - start)
          yield* release(reservationOf(answer))
          break
        }
        case "commit": {
          const id = reservationOf(yield* reserve(`${key}r${n}`))
          const start = performance.now()
          yield* commit(id)
          samples.step.record(performance.now() - start)
          break
        }
        case "release": {
          const id = reservationOf(yield* reserve(`${key}r${n}`))
          const start = performance.now()
          yield* release(id)
          samples.step.record(performance.now() - start)
          break
        }
        case "extend": {
          // the 10 extensions a reservation allows, each timed, then the release
          const id = reservationOf(yield* reserve(`${key}r${n}`))
          for (let i = 0; i < 10; i++) {
            const start = performance.now()
            yield* ledger.extend({ tenant, reservationId: id, extendByMs: 1_000, idempotencyKey: `${key}e${n}.${i}` })
            samples.step.record(performance.now() - start)
          }
          yield* release(id)
          break
        }
        case "decide": {
          const start = performance.now()
          yield* ledger.decide({ tenant, subject, action, estimate: { unit, amount: estimate } })
          samples.step.record(performance.now() - start)
          break
        }
        case "event": {
          const start = performance.now()
          yield* ledger.event({
            tenant,
            subject,
            action,
            actual: { unit, amount: actual },
            idempotencyKey: `${key}v${n}`
          })
          samples.step.record(performance.now() - start)
          break
        }
        case "balances": {
          const start = performance.now()
          yield* ledger.balances({ tenant, subject, unit })
          samples.step.record(performance.now() - start)
          break
        }
        case "getReservation": {
          const start = performance.now()
          yield* ledger.getReservation({ tenant, reservationId: held })
          samples.step.record(performance.now() - start)
          break
        }
      }
      steps++
    }
    if (held !== "") yield* release(held)
    return steps
  })

/**
 * Runs `clients` clients of `kind` on `ledger` for `ms` of wall time, on a
 * tenant whose budgets `fund` has created. `label` starts every idempotency
 * key, so that two runs on one tenant (a warm-up, then the measured run)
 * never share a key.
 */
export const runCase = (
  ledger: Ledger.Service,
  tenant: string,
  kind: Kind,
  clients: number,
  ms: number,
  label = ""
): Effect.Effect<CaseResult, Ledger.LedgerError> =>
  Effect.gen(function*() {
    const samples: Samples = { step: new Recorder(), reserve: new Recorder(), commit: new Recorder() }
    const cpu = process.cpuUsage()
    const faults = process.resourceUsage().minorPageFault
    const start = performance.now()
    const until = start + ms
    const counts = yield* Effect.forEach(
      Array.from({ length: clients }, (_, i) => i),
      (i) => client(ledger, tenant, kind, `${label}${kind}-${clients}-${i}-`, until, samples),
      { concurrency: "unbounded" }
    )
    const elapsedMs = performance.now() - start
    const used = process.cpuUsage(cpu)
    const pageFaults = process.resourceUsage().minorPageFault - faults
    return {
      kind,
      clients,
      steps: counts.reduce((a, b) => a + b, 0),
      elapsedMs,
      cpuMs: (used.user + used.system) / 1000,
      pageFaults,
      samples
    }
  })

/**
 * Checks what a case left behind: nothing reserved on any scope, and the
 * balance identity on each. Fails loudly otherwise (a bench that leaks is
 * measuring something else).
 */
export const verify = (ledger: Ledger.Service, tenant: string) =>
  Effect.gen(function*() {
    const { balances } = yield* ledger.balances({ tenant, subject: subjectOf(tenant), unit })
    if (balances.length !== 3) throw new Error(`expected 3 budgets, found ${balances.length}`)
    for (const b of balances) {
      if (b.reserved !== 0n) throw new Error(`${b.scope}: ${b.reserved} still reserved after the case`)
      if (b.remaining !== b.allocated - b.spent - b.reserved - b.debt) throw new Error(`${b.scope}: identity broken`)
    }
    return balances
  })
