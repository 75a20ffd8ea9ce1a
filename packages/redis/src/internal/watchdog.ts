/**
 * A connection that stops answering while calls keep coming: `layerUrl`'s
 * client drops it and connects again.
 *
 * node-redis bounds an idle connection (`socketTimeout`, with a `PING` every
 * half of it), but a socket's idle timer counts writes as activity: under
 * steady traffic a connection whose replies stopped (a Redis host that
 * vanished without a reset, a NAT or firewall that dropped the flow) is
 * never idle, so it is never timed out. Every call then fails after the
 * store's timeout, for as long as TCP keeps retransmitting (about 15
 * minutes on Linux), although a new connection would work at once.
 *
 * The watchdog counts the commands sent through it and the ones settled (a
 * reply, an error reply, or a failure of the client). Every half timeout it
 * looks: when commands were waiting at a look and nothing at all settled
 * over the three halves since the look before it, some command has waited
 * longer than the timeout with no reply on the connection. Then it destroys
 * the connection (its waiting commands fail at once) and connects the same
 * client again; the client's reconnect strategy paces further attempts.
 * Commands sent meanwhile fail at once (the client has no offline queue).
 * A Redis that is slow but answering settles something within each look and
 * is left alone; a Redis busy with one long script for longer than the
 * timeout is reconnected to, which costs a connection, not an answer: the
 * commands waiting for it had already failed with the store's timeout.
 *
 * @internal
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Clock, Duration, Effect, Layer, Schedule } from "effect"
import * as Redis from "effect/persistence/Redis"

/** What the watchdog counts. */
export interface Counts {
  /** Commands sent through the watchdog. */
  sent: number
  /** Commands whose promise settled, with a reply or a failure. */
  settled: number
  /** `settled` at the last look. */
  seen: number
  /** Looks in a row that found commands waiting and nothing settled since the look before. */
  quiet: number
  /** Connections dropped for silence. */
  dropped: number
}

/** Looks in a row without a settled command before the connection is dropped. */
export const quietLooks = 3

/** Fresh counts. */
export const counts = (): Counts => ({ sent: 0, settled: 0, seen: 0, quiet: 0, dropped: 0 })

/**
 * One look: counts it, and answers whether the connection should be
 * dropped (then the count of quiet looks starts again).
 */
export const look = (state: Counts): boolean => {
  const waiting = state.sent > state.settled
  state.quiet = waiting && state.settled === state.seen ? state.quiet + 1 : 0
  state.seen = state.settled
  if (state.quiet < quietLooks) return false
  state.quiet = 0
  state.dropped++
  return true
}

/** The wall clock: the watchdog times the connection whatever `Clock` the caller runs under. */
const wallClock = Clock.Clock.defaultValue()

/**
 * A `Redis` service over the `NodeRedis` client in context, its commands
 * counted, and the watchdog looking every half `timeout` for as long as the
 * layer lives. Only what the store uses works: commands and scripts
 * (`send`, `eval`); `subscribe` and `reserve` fail.
 */
export const layer = (timeout: Duration.Duration): Layer.Layer<Redis.Redis, never, NodeRedis.NodeRedis> =>
  Layer.effect(
    Redis.Redis,
    Effect.gen(function*() {
      const { client } = yield* NodeRedis.NodeRedis
      const state = counts()
      const settle = <A>(reply: A): A => {
        state.settled++
        return reply
      }
      const fail = (cause: unknown): Promise<never> => {
        state.settled++
        return Promise.reject(cause)
      }
      const drop = Effect.sync(() => {
        if (!look(state)) return
        client.destroy()
        client.connect().catch(() => {})
      })
      const every = Duration.millis(Math.max(1, Math.floor(Duration.toMillis(timeout) / 2)))
      yield* Effect.forkScoped(
        Effect.repeat(drop, Schedule.spaced(every)).pipe(Effect.provideService(Clock.Clock, wallClock))
      )
      const send = <A>(command: string, ...args: ReadonlyArray<string>): Effect.Effect<A, Redis.RedisError> =>
        Effect.tryPromise({
          try: () => {
            state.sent++
            return client.sendCommand([command, ...args]).then(settle, fail) as Promise<A>
          },
          catch: (cause) => new Redis.RedisError({ cause })
        })
      const unused = Effect.fail(new Redis.RedisError({ cause: new Error("not used by the ledger's store") }))
      return Redis.Redis.of(yield* Redis.make({ send, subscribe: () => unused, connect: unused }))
    })
  )
