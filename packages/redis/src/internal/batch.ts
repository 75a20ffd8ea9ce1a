/**
 * Batching of the hot operations (reserve, commit, release, extend, decide,
 * event): the operations of one kind that callers of one tenant start in
 * the same tick of the event loop go to Redis in `EVALSHA` calls of that
 * kind's script, each carrying up to `maxBatch` of them (half of the
 * operations under way), which the script runs one after the other
 * (`hot.ts`).
 *
 * - A lone caller waits for nothing: its operation leaves at the end of the
 *   tick it was started in, alone.
 * - Under load, operations pile up while batches are in flight and leave
 *   together, up to `maxBatch` per call (half of the operations
 *   under way, so that callers form at least two groups): one round trip
 *   and one script call for many, and each budget read and written once per
 *   batch.
 * - At most `maxInFlight` batches are in flight. When several come back
 *   together, their callers go on one batch at a time, each after the
 *   client has written what the batch before started: Redis works on that
 *   while the next callers run, and the groups of callers fall into turns
 *   instead of moving in lockstep.
 * - Each operation keeps its own answer, its own failure and its own
 *   atomicity: Redis runs a script without interleaving anything, and the
 *   script checks each operation fully before it writes.
 * - A caller interrupted before its batch leaves (while it gathers, or
 *   while it waits for a place in flight) is taken out of it; once the
 *   batch has left, the operation runs (as a single command would) and its
 *   answer is dropped.
 * - A call that fails for the connection (Redis gone, or no reply within
 *   the store's timeout) fails the batches waiting for a place in flight as
 *   well, so no caller waits longer than one call's timeout for a Redis that
 *   does not answer. A call that Redis answered with an error (a script
 *   error on one tenant's keys) fails only its own operations.
 *
 * @internal
 */
import { Cause, Effect, Exit, Result } from "effect"

/** One operation waiting for, or riding in, a batch. */
interface Pending<S> {
  readonly args: ReadonlyArray<string>
  readonly answer: (kind: string, text: string) => void
  readonly failed: (error: S) => void
  cancelled: boolean
}

interface Batch<K, S> {
  readonly kind: K
  readonly tenant: string
  readonly operations: Array<Pending<S>>
}

/**
 * The most operations one script call carries. A call carries half of the
 * operations under way (rounded up), never more than this: callers that
 * start together split into at least two groups, whose batches take turns
 * in Redis (one runs in Redis while the callers of the other run in Node);
 * they split evenly, and keep to their groups while they do the same
 * things; batches that wait for a place in flight merge again (`pump`).
 * The bigger the batch, the less each operation pays for the call (the
 * script's prelude, its budget reads and writes), but one group alone moves
 * in lockstep with Redis. Measured on 2 cores when the split was chosen
 * (reserve + commit lifecycles/s, alternating runs, before later changes to
 * the scripts and the client; `packages/redis/README.md` gives today's
 * figure): at 32 callers two groups of 16 did
 * 12,350–18,700 where four of 8 did 11,200–13,300; at 16 callers two groups
 * of 8 did 11,300–12,100 where one of 16 did 7,600–8,000; at 8 callers two
 * groups of 4 did 11,500–14,100 where one of 8 did 6,500–7,800; at 4, two
 * of 2 did 7,600–8,700 where one of 4 did 5,700–6,100.
 */
export const maxBatch = 16

/**
 * The most batches in flight at once, per batcher (one store, one
 * connection): enough for Redis to find the next batch waiting when it
 * finishes one, while the callers of the previous ones run.
 */
export const maxInFlight = 4

/**
 * A batcher: `submit` one operation of `kind` for `tenant` and get its
 * answer, decoded by `decode` from the script's `kind, text` for it, or the
 * batch's failure `S`. @internal
 */
export interface Batcher<K, S> {
  readonly submit: <A, E>(
    kind: K,
    tenant: string,
    args: ReadonlyArray<string>,
    decode: (kind: string, text: string) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | S>
}

/**
 * A batcher over `run`, which sends the script of `kind` for `tenant` with
 * `argv` (the tenant, then per operation its argument count and arguments)
 * and answers the reply: a flat array, `kind, text` per operation.
 * `unavailable` turns a failed or malformed call into each operation's
 * failure.
 *
 * @internal
 */
export const make = <K, S>(
  run: (kind: K, tenant: string, argv: ReadonlyArray<string>) => Effect.Effect<unknown, S>,
  unavailable: (detail: string) => S,
  /** Whether a call's failure is the connection's, which the batches waiting for a place would share. */
  isConnectionFailure: (error: S) => boolean = () => true
): Batcher<K, S> => {
  let open = new Map<K, Map<string, Batch<K, S>>>()
  let scheduled = false
  // Operations submitted and neither answered nor dropped (cancelled before they left).
  let underWay = 0

  const spreads = (exit: Exit.Failure<unknown, S>): boolean => {
    const found = Cause.findError(exit.cause)
    return Result.isFailure(found) || isConnectionFailure(found.success)
  }

  /** Hands each operation of a batch its answer, or the batch's failure. */
  const deliver = (operations: ReadonlyArray<Pending<S>>, exit: Exit.Exit<unknown, S>) => {
    underWay -= operations.length
    if (Exit.isFailure(exit)) {
      const found = Cause.findError(exit.cause)
      const failure = Result.isSuccess(found)
        ? found.success
        : unavailable(`script call failed: ${Cause.pretty(exit.cause)}`)
      for (const operation of operations) operation.failed(failure)
      return
    }
    const reply = exit.value
    if (!Array.isArray(reply) || reply.length !== operations.length * 2) {
      const failure = unavailable(`unexpected reply: ${JSON.stringify(reply)?.slice(0, 200)}`)
      for (const operation of operations) operation.failed(failure)
      return
    }
    for (let i = 0; i < operations.length; i++) {
      const kind = reply[2 * i]
      const text = reply[2 * i + 1]
      if (typeof kind === "string" && typeof text === "string") operations[i]!.answer(kind, text)
      else operations[i]!.failed(unavailable(`unexpected reply: ${JSON.stringify([kind, text])}`))
    }
  }

  // Batches back from Redis whose callers have not gone on yet, oldest first.
  const arrived: Array<readonly [ReadonlyArray<Pending<S>>, Exit.Exit<unknown, S>]> = []
  let delivering = false

  /**
   * Lets the callers of the oldest batch back go on, and those of the next
   * one after the client has written what the first started, so that Redis
   * works on that while the next callers run, instead of the two groups
   * moving in lockstep. The client writes on `setImmediate`, queued after
   * this one's: the next group goes on one `setImmediate` later still.
   */
  const deliverNext = (): void => {
    const next = arrived.shift()
    if (next === undefined) {
      delivering = false
      return
    }
    deliver(next[0], next[1])
    setImmediate(afterWrite)
  }
  const afterWrite = (): void => {
    setImmediate(deliverNext)
  }

  /** Sends the operations of a batch still wanted (a caller may have left while it waited); whether any. */
  const send = (batch: Batch<K, S>, queued: ReadonlyArray<Pending<S>>): boolean => {
    const operations = queued.filter((operation) => !operation.cancelled)
    underWay -= queued.length - operations.length
    if (operations.length === 0) return false
    const argv: Array<string> = [batch.tenant]
    for (const operation of operations) {
      argv.push(String(operation.args.length))
      for (const arg of operation.args) argv.push(arg)
    }
    Effect.runCallback(run(batch.kind, batch.tenant, argv), {
      onExit: (exit) => {
        inFlight--
        arrived.push([operations, exit])
        // a call failed for the connection (Redis gone, or no reply in time) fails the batches waiting
        // for a place too: they would wait behind it for nothing, each caller's wait bounded by one call's
        if (Exit.isFailure(exit) && spreads(exit)) {
          for (const [, waiting] of ready.splice(0)) {
            const kept = waiting.filter((operation) => !operation.cancelled)
            underWay -= waiting.length - kept.length
            arrived.push([kept, exit])
          }
        }
        pump()
        if (!delivering) {
          delivering = true
          deliverNext()
        }
      }
    })
    return true
  }

  // Batches ready to leave, oldest first, and how many are in flight.
  const ready: Array<readonly [Batch<K, S>, ReadonlyArray<Pending<S>>]> = []
  let inFlight = 0

  /** The operations a call carries now (see `maxBatch`). */
  const batchSize = (): number => Math.min(maxBatch, Math.max(1, Math.ceil(underWay / 2)))

  /**
   * Sends ready batches while fewer than `maxInFlight` are in flight. A
   * batch that leaves takes along the batches of its kind and tenant that
   * wait behind it, in their order, while they fit in `batchSize`: callers
   * that drifted apart into small batches (some took another path, or
   * took longer) travel together again once they have to wait.
   */
  const pump = (): void => {
    while (inFlight < maxInFlight && ready.length > 0) {
      const [batch, first] = ready.shift()!
      let operations = first
      const size = batchSize()
      for (let i = 0; i < ready.length && operations.length < size;) {
        const [other, more] = ready[i]!
        if (other.kind !== batch.kind || other.tenant !== batch.tenant) {
          i++
        } else if (operations.length + more.length <= size) {
          operations = operations.concat(more)
          ready.splice(i, 1)
        } else {
          break
        }
      }
      inFlight++
      if (!send(batch, operations)) inFlight--
    }
  }

  const flush = () => {
    scheduled = false
    const batches = open
    open = new Map()
    const size = batchSize()
    for (const byTenant of batches.values()) {
      for (const batch of byTenant.values()) {
        // callers that left are dropped when the batch is sent (`send`), wherever they left;
        // the operations split evenly: 33 at 16 a call are three calls of 11, not 16 + 16 + 1
        const { operations } = batch
        const each = Math.ceil(operations.length / Math.ceil(operations.length / size))
        for (let start = 0; start < operations.length; start += each) {
          ready.push([batch, operations.slice(start, start + each)])
        }
      }
    }
    pump()
  }

  const enqueue = (kind: K, tenant: string, operation: Pending<S>) => {
    let byTenant = open.get(kind)
    if (byTenant === undefined) {
      byTenant = new Map()
      open.set(kind, byTenant)
    }
    let batch = byTenant.get(tenant)
    if (batch === undefined) {
      batch = { kind, tenant, operations: [] }
      byTenant.set(tenant, batch)
    }
    batch.operations.push(operation)
    underWay++
    if (!scheduled) {
      scheduled = true
      queueMicrotask(flush)
    }
  }

  return {
    submit: <A, E>(
      kind: K,
      tenant: string,
      args: ReadonlyArray<string>,
      decode: (kind: string, text: string) => Effect.Effect<A, E>
    ) =>
      Effect.callback<A, E | S>((resume) => {
        const operation: Pending<S> = {
          args,
          answer: (replyKind, text) => resume(decode(replyKind, text)),
          failed: (error) => resume(Effect.fail(error)),
          cancelled: false
        }
        enqueue(kind, tenant, operation)
        return Effect.sync(() => {
          operation.cancelled = true
        })
      })
  }
}
