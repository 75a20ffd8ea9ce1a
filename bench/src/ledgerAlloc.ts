/**
 * Bytes allocated per reserve + commit lifecycle on the memory store, as
 * V8's sampling heap profiler counts them (objects already collected
 * included): a figure that, unlike lifecycles per second, does not move
 * with the machine's speed, so a change to the hot path shows in it even on
 * a noisy VM. One client, after a warm-up, through the `Ledger` as the
 * lifecycle cases call it; the driver's own requests and keys are counted
 * too (about 0.5 KB of it, the same before and after a change to the ledger).
 */
import { Ledger } from "@timebox/core"
import { Effect } from "effect"
import * as Inspector from "node:inspector"
import * as Driver from "./ledgerDriver.ts"

interface ProfileNode {
  readonly selfSize: number
  readonly children: ReadonlyArray<ProfileNode>
}

const post = <A>(session: Inspector.Session, method: string, params?: object) =>
  Effect.callback<A, Error>((resume) => {
    session.post(method, params ?? {}, (error, result) =>
      resume(error === null ? Effect.succeed(result as A) : Effect.fail(error)))
  })

const total = (node: ProfileNode): number => node.children.reduce((sum, child) => sum + total(child), node.selfSize)

/**
 * The bytes a lifecycle allocates, keyed (idempotency keys on both calls,
 * as the guard makes them) or not, averaged over `count` lifecycles on a
 * fresh ledger.
 */
export const perLifecycle = (keyed: boolean, count: number): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const tenant = `alloc-${keyed ? "k" : "u"}`
    const subject = Driver.subjectOf(tenant)
    yield* Driver.fund(ledger, tenant, Ledger.scopes(subject))
    const action = { kind: "llm.completion", name: "bench-model" }
    let n = 0
    const run = (times: number) =>
      Effect.gen(function*() {
        for (let i = 0; i < times; i++) {
          n++
          const answer = yield* ledger.reserve({
            tenant,
            subject,
            action,
            estimate: { unit: Driver.unit, amount: Driver.estimate },
            ...(keyed ? { idempotencyKey: `a${n}r` } : {})
          })
          yield* ledger.commit({
            tenant,
            reservationId: answer.reservationId!,
            actual: { unit: Driver.unit, amount: Driver.actual },
            ...(keyed ? { idempotencyKey: `a${n}c` } : {})
          })
        }
      })
    yield* run(20_000)
    const session = new Inspector.Session()
    session.connect()
    yield* post(session, "HeapProfiler.startSampling", {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    })
    yield* run(count)
    const { profile } = yield* post<{ readonly profile: { readonly head: ProfileNode } }>(
      session,
      "HeapProfiler.stopSampling"
    )
    session.disconnect()
    return Math.round(total(profile.head) / count)
  }).pipe(Effect.provide(Ledger.layerMemory))
