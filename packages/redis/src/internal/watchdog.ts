/**
 * The life of `layerUrl`'s client after it connected: a watchdog for a
 * connection that stops answering while calls keep coming, and a bounded
 * close.
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
 * longer than the timeout with no reply on the connection, and the
 * connection is suspect. A suspect is probed: a second connection of the
 * same options (no retries; connecting and the reply each bounded by the
 * timeout, at most twice the timeout in all) sends `PING`. Only when
 * the probe answers while the old connection still has not (Redis is
 * alive, this connection is not) is the connection dropped (its waiting
 * commands fail at once) and the same client connected again; commands sent
 * meanwhile fail at once (the client has no offline queue). A Redis that is
 * busy (a long script, a slow fork) answers the probe no sooner than the
 * connection, so it keeps its connection and answers on it as soon as it
 * can; a Redis that is slow but answering settles something within each
 * look and is never suspected.
 *
 * A drop costs node-redis's metrics (its OpenTelemetry registry) this
 * client: `destroy()` unregisters it and `connect()` does not register it
 * again; the ledger's figures do not depend on them.
 *
 * Closing waits for a reconnection under way (up to the timeout) before it
 * closes the client, and destroys the client (failing what is still in
 * flight) when closing takes longer than the timeout: node-redis's `close()`
 * waits for the reply of every command already written.
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
  /** Times the connection was suspect. */
  suspected: number
  /** Connections dropped (suspect, and the probe answered). */
  dropped: number
}

/** Looks in a row without a settled command before the connection is suspect. */
export const quietLooks = 3

/** Fresh counts. */
export const counts = (): Counts => ({ sent: 0, settled: 0, seen: 0, quiet: 0, suspected: 0, dropped: 0 })

/**
 * One look: counts it, and answers whether the connection is suspect (then
 * the count of quiet looks starts again).
 */
export const look = (state: Counts): boolean => {
  const waiting = state.sent > state.settled
  state.quiet = waiting && state.settled === state.seen ? state.quiet + 1 : 0
  state.seen = state.settled
  if (state.quiet < quietLooks) return false
  state.quiet = 0
  state.suspected++
  return true
}

/**
 * Whether a suspect connection should be dropped after its probe: the probe
 * answered, the client is open (not closing), and the connection still has
 * commands waiting and has settled nothing since it became suspect
 * (`settled`, then).
 */
export const shouldDrop = (state: Counts, settled: number, probeAnswered: boolean, open: boolean): boolean =>
  probeAnswered && open && state.settled === settled && state.sent > state.settled

/** The wall clock: the watchdog times the connection whatever `Clock` the caller runs under. */
const wallClock = Clock.Clock.defaultValue()

type Client = NodeRedis.NodeRedis["Service"]["client"]

/**
 * Whether Redis answers `PING` on a new connection of `client`'s options
 * within about `ms` (connecting and the handshake, then the reply), without
 * retries; the connection is destroyed after.
 */
const probe = (client: Client, ms: number): Effect.Effect<boolean> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const side = client.duplicate({
        pingInterval: 0,
        socket: { connectTimeout: ms, socketTimeout: ms, reconnectStrategy: false }
      })
      side.on("error", () => {})
      return side
    }),
    (side) =>
      Effect.tryPromise(() => side.connect().then(() => side.sendCommand(["PING"]))).pipe(
        Effect.timeoutOrElse({ duration: Duration.millis(2 * ms), orElse: () => Effect.fail("late") }),
        Effect.match({ onFailure: () => false, onSuccess: () => true })
      ),
    (side) => Effect.sync(() => side.destroy())
  )

/**
 * A `Redis` service over the `NodeRedis` client in context, its commands
 * counted, the watchdog looking every half `timeout` for as long as the
 * layer lives, and the client closed within `timeout` when it ends. Only
 * what the store uses works: commands and scripts (`send`, `eval`);
 * `subscribe` and `reserve` fail.
 */
export const layer = (timeout: Duration.Duration): Layer.Layer<Redis.Redis, never, NodeRedis.NodeRedis> =>
  Layer.effect(
    Redis.Redis,
    Effect.gen(function*() {
      const { client } = yield* NodeRedis.NodeRedis
      const ms = Math.max(1, Math.ceil(Duration.toMillis(timeout)))
      const state = counts()
      let reconnecting: Promise<unknown> = Promise.resolve()

      // closing, after the watchdog stopped (finalizers run last added first)
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => reconnecting).pipe(
          Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.void }),
          Effect.andThen(Effect.interruptible(Effect.tryPromise(() => client.close()))),
          Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.sync(() => client.destroy()) }),
          Effect.ignore,
          Effect.provideService(Clock.Clock, wallClock)
        )
      )

      const drop = Effect.sync(() => {
        state.dropped++
        client.destroy()
        reconnecting = client.connect().catch(() => {})
      })
      const watch = Effect.suspend(() => {
        if (!look(state)) return Effect.void
        const settled = state.settled
        return Effect.flatMap(
          probe(client, ms),
          (answered) => shouldDrop(state, settled, answered, client.isOpen) ? drop : Effect.void
        )
      })
      const every = Duration.millis(Math.max(1, Math.floor(ms / 2)))
      yield* Effect.forkScoped(
        Effect.repeat(watch, Schedule.spaced(every)).pipe(Effect.provideService(Clock.Clock, wallClock))
      )

      const settle = <A>(reply: A): A => {
        state.settled++
        return reply
      }
      const fail = (cause: unknown): Promise<never> => {
        state.settled++
        return Promise.reject(cause)
      }
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
