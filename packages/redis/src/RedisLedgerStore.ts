/**
 * The cost ledger's store on Redis: the `LedgerStore` of `@timebox/core`
 * with one atomic Lua script per operation, so any number of processes and
 * machines share one ledger and no interleaving can overspend a budget.
 *
 * **Details**
 *
 * - Atomic: each operation runs in one `EVALSHA` of its script (loaded once
 *   with `SCRIPT LOAD`, reloaded on `NOSCRIPT`); Redis runs a script without
 *   interleaving any other command.
 * - Batched: the hot operations (reserve, commit, release, extend, decide,
 *   event) that one tenant's callers start together travel in one script
 *   call, up to 16 (half of the operations under way), each still checked
 *   and applied on its own, in order; a lone call leaves at once.
 * - Exact: amounts up to 2^63−1 are decimal strings in Redis and on the
 *   wire. Inside a script an amount below 10^15 is a Lua number (sums of a
 *   few stay below 2^53, where doubles are exact) and a larger one a pair of
 *   doubles `high · 10^9 + low`, each limb exact. No amount is ever rounded,
 *   and a sum past 2^63−1 is caught, as in memory.
 * - Same time as memory: `now` comes from the ledger's `Clock` in every
 *   call, and expiry is an `expiresAt` stored from it, never a Redis TTL, so
 *   the Redis and memory ledgers agree under `TestClock`.
 * - One slot per tenant: all keys of a tenant share the hash tag
 *   `{tenant:<id>}`. The store runs on one Redis node: its scripts declare
 *   only the tenant's prefix in `KEYS` (see the package README for what a
 *   cluster still needs).
 * - Fails closed: an unreachable Redis is the `StoreUnavailable` reason of
 *   `LedgerError`, never a hang and never an allow.
 *
 * @since 0.1.0
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Ledger, LedgerStore } from "@timebox/core"
import { Clock, Config, Duration, Effect, Layer, Option, Schema } from "effect"
import * as Redis from "effect/persistence/Redis"
import { ErrorReply } from "redis"
import * as Answers from "./internal/answers.ts"
import * as Batch from "./internal/batch.ts"
import * as Digest from "./internal/digest.ts"
import * as Keys from "./internal/keys.ts"
import * as Scripts from "./internal/scripts.ts"
import * as Watchdog from "./internal/watchdog.ts"

// =============================================================================
// Models
// =============================================================================

/**
 * Options of the Redis store.
 *
 * **Details**
 *
 * - `prefix`: the first part of every key (`<prefix>:v3:{tenant:acme}:…`), so
 *   several ledgers can share one Redis. Default `"timebox"`.
 * - `timeout`: how long a command may wait for its reply before the call
 *   fails with `StoreUnavailable`. Default 5 seconds.
 *
 * **Example** (A ledger of its own on a shared Redis)
 *
 * ```ts
 * import { RedisLedgerStore } from "@timebox/redis"
 *
 * const options: RedisLedgerStore.Options = { prefix: "billing" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** @default "timebox" */
  readonly prefix?: string | undefined
  /**
   * How long the store waits for Redis to answer a command (a batch of hot
   * operations is one command) before the call fails with the
   * `StoreUnavailable` reason, so a Redis that accepts connections but
   * stops answering fails closed instead of hanging. Measured on the wall
   * clock (Effect's default `Clock`), even under `TestClock`: a network wait
   * is real time. The command was sent, so Redis may still run it: retry
   * with the same idempotency key. Over a client of your own (`layer`),
   * node-redis's own command timeout (5 s by default) applies as well
   * unless its `commandOptions.timeout` is 0.
   *
   * @default "5 seconds"
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Options of `layerUrl` and `layerConfig`: the store's options plus the
 * Redis URL (`redis://[[user]:password@]host[:port][/db]`, or `rediss://`
 * for TLS).
 *
 * **Example** (Redis on loopback)
 *
 * ```ts
 * import { RedisLedgerStore } from "@timebox/redis"
 *
 * const options: RedisLedgerStore.UrlOptions = { url: "redis://127.0.0.1:6379", prefix: "timebox" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface UrlOptions extends Options {
  readonly url: string
}

// =============================================================================
// Constructors
// =============================================================================

const storeName = "redis"

const unavailable = (detail: string) => new Ledger.StoreUnavailable({ store: storeName, detail })

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

/** Failures Redis answered (an error reply): the connection works, unlike for the others. */
const replied = new WeakSet<Ledger.StoreUnavailable>()

const storeFailed = (error: Redis.RedisError) => {
  const failure = unavailable(describe(error.cause))
  if (error.cause instanceof ErrorReply) replied.add(failure)
  return failure
}

/** A bad option of the store, as the typed failure of building it. */
const badOption = (field: string, value: unknown, problem: string) =>
  new Ledger.LedgerError({
    method: "RedisLedgerStore.connect",
    reason: new Ledger.InvalidRequest({ field, value: JSON.stringify(value) ?? String(value), problem })
  })

/** The store's command timeout: a duration above zero and at most 2^31 − 1 ms. */
const timeoutOf = (options: Options): Effect.Effect<Duration.Duration, Ledger.LedgerError> => {
  const input = options.timeout ?? "5 seconds"
  const timeout = Option.getOrUndefined(Duration.fromInput(input))
  // Node's timers take at most 2^31 - 1 ms
  return timeout !== undefined && Duration.isPositive(timeout) && Duration.toMillis(timeout) <= 2_147_483_647
    ? Effect.succeed(timeout)
    : Effect.fail(
      badOption(
        "timeout",
        input,
        "expected a duration above zero and at most 2^31-1 ms (~24.8 days), e.g. \"5 seconds\""
      )
    )
}

/**
 * `url` if it is a Redis URL: `redis://` or `rediss://`, a host, a port
 * from 1 to 65535 when given.
 */
const urlOf = (url: string): Effect.Effect<string, Ledger.LedgerError> => {
  const invalid = (problem: string) => Effect.fail(badOption("url", redactUrl(url), problem))
  if (!URL.canParse(url)) return invalid("expected redis://[[user]:password@]host[:port][/db] or rediss://…")
  const parsed = new URL(url)
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return invalid(`expected the redis: or rediss: scheme, not ${parsed.protocol}`)
  }
  if (parsed.hostname === "") return invalid("expected a host")
  if (parsed.port === "0") return invalid("expected a port from 1 to 65535")
  return Effect.succeed(url)
}

/** The wall clock, which times commands whatever `Clock` the caller runs under. */
const wallClock = Clock.Clock.defaultValue()

/**
 * `command` (one Redis command), its failure `StoreUnavailable`, and the
 * same after `timeout` without a reply.
 */
const bounded = (timeout: Duration.Duration) => {
  const late = () => Effect.fail(unavailable(`no reply from Redis within ${Duration.format(timeout)}`))
  return <A>(command: Effect.Effect<A, Redis.RedisError>): Effect.Effect<A, Ledger.StoreUnavailable> =>
    Effect.provideService(
      Effect.timeoutOrElse(Effect.mapError(command, storeFailed), { duration: timeout, orElse: late }),
      Clock.Clock,
      wallClock
    )
}

const Reply = Schema.Tuple([Schema.Literals(["ok", "err"]), Schema.String])

const Reason = Schema.fromJsonString(
  Schema.Union([
    Ledger.BudgetExceeded,
    Ledger.OverdraftLimitExceeded,
    Ledger.DebtOutstanding,
    Ledger.BudgetFrozen,
    Ledger.BudgetClosed,
    Ledger.BudgetExists,
    Ledger.NotFound,
    Ledger.UnitMismatch,
    Ledger.ReservationExpired,
    Ledger.ReservationFinalized,
    Ledger.MaxExtensionsExceeded,
    Ledger.IdempotencyMismatch,
    Ledger.Forbidden,
    Ledger.InvalidRequest
  ])
)

const decodeReply = Schema.decodeUnknownEffect(Reply)
const decodeReason = Schema.decodeUnknownEffect(Reason)
const SweepExpired = Schema.Array(Schema.String)
const decodeTenants = Schema.decodeUnknownEffect(Schema.Array(Schema.String))

const decoders = new WeakMap<object, (json: string) => Effect.Effect<unknown, Schema.SchemaError>>()

/** The decoder of an answer's JSON text, built once per answer Schema. */
const decoderOf = <S extends Schema.Codec<unknown, unknown, never, never>>(
  answer: S
): (json: string) => Effect.Effect<S["Type"], Schema.SchemaError> => {
  let decoder = decoders.get(answer)
  if (decoder === undefined) {
    decoder = Schema.decodeUnknownEffect(Schema.fromJsonString(answer))
    decoders.set(answer, decoder)
  }
  return decoder
}

const levels = ["tenant", "workspace", "app", "workflow", "agent", "toolset"] as const

const levelValues = (subject: Partial<Record<typeof levels[number], string>> | undefined): Array<string> =>
  levels.map((level) => subject?.[level] ?? "")

const flag = (value: boolean): string => (value ? "1" : "0")

const invalidCursor = (cursor: string, problem: string) =>
  new Ledger.InvalidRequest({ field: "cursor", value: JSON.stringify(cursor), problem })

const unitOrder: ReadonlyArray<string> = Ledger.Unit.literals

/**
 * Builds the Redis store over the `Redis` service in context.
 *
 * **When to use**
 *
 * To put the ledger on a Redis client you already provide (for example
 * `NodeRedis.layer` with your own options); otherwise use `layerUrl`.
 *
 * **Details**
 *
 * Each method is one script call, shared with the other calls of the same
 * kind and tenant started in the same tick for the hot operations. A
 * command that fails (connection refused or lost, Redis out of memory, a
 * reply that is not the script's) fails with the `StoreUnavailable` reason;
 * every other failure is the ledger reason the memory store gives for the
 * same request.
 *
 * **Example** (The store over a Redis client)
 *
 * ```ts
 * import * as NodeRedis from "@effect/platform-node/NodeRedis"
 * import { Effect } from "effect"
 * import { RedisLedgerStore } from "@timebox/redis"
 *
 * const store = RedisLedgerStore.make({ prefix: "billing" }).pipe(
 *   Effect.provide(NodeRedis.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (
  options?: Options
) => Effect.Effect<LedgerStore.Service, Ledger.LedgerError, Redis.Redis> = Effect.fnUntraced(
  function*(options: Options = {}) {
    const redis = yield* Redis.Redis
    const keys = Keys.make(options.prefix)
    const send = bounded(yield* timeoutOf(options))
    const registered = new Set<string>()

    /**
     * `effect`, after recording `tenant` in the tenant set the first time
     * this process sees it (or `always`), so a sweep of all tenants finds it.
     */
    const withTenant = <A, E>(
      tenant: string,
      effect: Effect.Effect<A, E>,
      always = false
    ): Effect.Effect<A, E | Ledger.StoreUnavailable> =>
      registered.has(tenant) && !always
        ? effect
        : send(redis.send("SADD", keys.tenants, tenant)).pipe(
          Effect.tap(() => Effect.sync(() => registered.add(tenant))),
          Effect.andThen(effect)
        )

    const notForeign = Effect.succeed("0")

    /**
     * "1" when `id` is a reservation of another tenant (Forbidden), else "0"
     * (the script then finds it, or answers NotFound). Ids name their tenant,
     * so only ids of other tenants cost a read, in that tenant's slot: a
     * reservation disappears only when pruned, a day after it ended.
     */
    const foreign = (tenant: string, id: string): Effect.Effect<string, Ledger.StoreUnavailable> => {
      if (Keys.isReservationOf(id, tenant)) return notForeign
      const owner = Keys.reservationTenant(id)
      if (owner === undefined || owner === tenant) return notForeign
      return Effect.map(
        send(redis.send<number>("EXISTS", `${keys.tenant(owner)}reservation:${id}`)),
        (exists) => flag(exists === 1)
      )
    }

    /**
     * Runs one cold `script` (balances, reservations, the sweeper,
     * administration) for `tenant` and decodes its JSON answer with the
     * `answer` Schema, or its failure as a ledger reason; a reply that is not
     * the script's is `StoreUnavailable`, saying what is wrong.
     */
    const call = <S extends Schema.Codec<unknown, unknown, never, never>>(
      script: Scripts.LedgerScript,
      tenant: string,
      args: ReadonlyArray<string>,
      answer: S
    ): Effect.Effect<S["Type"], Ledger.LedgerErrorReason> => {
      const decodeAnswer = decoderOf(answer)
      return send(redis.eval(script)(keys.tenant(tenant), args)).pipe(
        Effect.flatMap(decodeReply),
        Effect.mapError((error) =>
          error._tag === "StoreUnavailable" ? error : unavailable(`unexpected reply: ${error.message}`)
        ),
        Effect.flatMap(([kind, json]) =>
          kind === "ok"
            ? decodeAnswer(json).pipe(Effect.mapError((error) => unavailable(`unexpected answer: ${error.message}`)))
            : decodeReason(json).pipe(
              Effect.mapError((error) => unavailable(`unexpected failure: ${error.message}`)),
              Effect.flatMap(Effect.fail)
            )
        )
      )
    }

    /** The hot operations, batched per kind and tenant (see `internal/batch.ts`). */
    const batcher = Batch.make(
      (script: Scripts.LedgerScript, tenant: string, argv: ReadonlyArray<string>) =>
        send(redis.eval(script)(keys.tenant(tenant), argv)),
      unavailable,
      (failure) => !replied.has(failure)
    )

    /**
     * Runs one hot operation in its batch and builds its answer from the
     * script's compact text with `build`, or decodes its failure.
     */
    const hot = <C extends { readonly tenant: string }, A>(
      script: Scripts.LedgerScript,
      command: C,
      args: ReadonlyArray<string>,
      build: (text: string, command: C) => A | undefined
    ): Effect.Effect<A, Ledger.LedgerErrorReason> =>
      batcher.submit(script, command.tenant, args, (kind, text): Effect.Effect<A, Ledger.LedgerErrorReason> => {
        if (kind === "ok") {
          const answer = build(text, command)
          return answer === undefined ? Effect.fail(unavailable(`unexpected answer: ${text}`)) : Effect.succeed(answer)
        }
        if (kind === "err") {
          return decodeReason(text).pipe(
            Effect.mapError((error) => unavailable(`unexpected failure: ${error.message}`)),
            Effect.flatMap(Effect.fail)
          )
        }
        return Effect.fail(unavailable(`script error: ${text}`))
      })

    const shapes = Digest.shapes()

    const reserve = (command: LedgerStore.ReserveCommand) => {
      const shape = shapes.of(command)
      return withTenant(
        command.tenant,
        hot(
          Scripts.reserve,
          command,
          [
            command.idempotencyKey ?? "",
            shape.digest,
            command.estimate.unit,
            command.estimate.amount.toString(),
            String(command.now),
            String(command.now + command.ttlMs),
            String(command.graceMs),
            command.overagePolicy,
            flag(command.dryRun),
            // a subject of levels only is its scope path; only one with dimensions is kept whole
            command.subject.dimensions === undefined ? "" : JSON.stringify(command.subject),
            shape.action,
            command.metadata === undefined ? "" : JSON.stringify(command.metadata),
            // when the sweeper may expire it: its score in the sweeper's index
            String(command.now + command.ttlMs + command.graceMs),
            ...command.scopes
          ],
          Answers.reserveAnswer
        )
      )
    }

    // The arguments of every script that settles an existing reservation: these four, then `rest`.
    const settleArgs = (
      command: { readonly idempotencyKey?: string | undefined; readonly reservationId: string },
      digest: string,
      other: string,
      ...rest: Array<string>
    ): Array<string> => [command.idempotencyKey ?? "", digest, command.reservationId, other, ...rest]

    const commit = (command: LedgerStore.CommitCommand) =>
      Effect.flatMap(foreign(command.tenant, command.reservationId), (other) =>
        hot(
          Scripts.commit,
          command,
          settleArgs(
            command,
            Digest.commit(command),
            other,
            command.actual.unit,
            command.actual.amount.toString(),
            String(command.now)
          ),
          Answers.commitAnswer
        ))

    const release = (command: LedgerStore.ReleaseCommand) =>
      Effect.flatMap(
        foreign(command.tenant, command.reservationId),
        (other) =>
          hot(
            Scripts.release,
            command,
            settleArgs(command, Digest.release(command), other, String(command.now)),
            Answers.releaseAnswer
          )
      )

    const extend = (command: LedgerStore.ExtendCommand) =>
      Effect.flatMap(foreign(command.tenant, command.reservationId), (other) =>
        hot(
          Scripts.extend,
          command,
          settleArgs(command, Digest.extend(command), other, String(command.extendByMs), String(command.now)),
          Answers.extendAnswer
        ))

    const decide = (command: LedgerStore.DecideCommand) =>
      withTenant(
        command.tenant,
        hot(
          Scripts.decide,
          command,
          [
            command.idempotencyKey ?? "",
            Keys.fingerprintDigest(command),
            command.estimate.unit,
            command.estimate.amount.toString(),
            String(command.now),
            ...command.scopes
          ],
          Answers.decideAnswer
        )
      )

    const event = (command: LedgerStore.EventCommand) =>
      hot(
        Scripts.event,
        command,
        [
          command.idempotencyKey ?? "",
          Keys.fingerprintDigest(command),
          command.actual.unit,
          command.actual.amount.toString(),
          command.overagePolicy,
          String(command.now),
          ...command.scopes
        ],
        Answers.eventAnswer
      )

    const balances = (query: LedgerStore.BalancesQuery) => {
      let cursor = ""
      if (query.cursor !== undefined) {
        const at = query.cursor.lastIndexOf("#")
        const unit = query.cursor.slice(at + 1)
        if (at <= 0 || !unitOrder.includes(unit)) {
          return Effect.fail(invalidCursor(query.cursor, "not a cursor from a previous balances answer"))
        }
        cursor = `${query.cursor.slice(0, at)} ${unitOrder.indexOf(unit) + 1}`
      }
      return call(Scripts.balances, query.tenant, [
        query.unit ?? "",
        flag(query.includeChildren),
        String(query.limit),
        cursor,
        ...query.scopes
      ], Ledger.BalancesAnswer)
    }

    const getReservation = (query: LedgerStore.GetReservationQuery) =>
      Effect.flatMap(foreign(query.tenant, query.reservationId), (other) =>
        call(Scripts.getReservation, query.tenant, [
          String(query.now),
          query.tenant,
          query.reservationId,
          other
        ], Ledger.Reservation))

    const listReservations = (query: LedgerStore.ListReservationsQuery) => {
      const after = query.cursor === undefined ? 0 : Number(query.cursor)
      if (query.cursor !== undefined && (!Number.isSafeInteger(after) || after < 0)) {
        return Effect.fail(invalidCursor(query.cursor, "not a cursor from a previous listReservations answer"))
      }
      return call(Scripts.listReservations, query.tenant, [
        String(after),
        String(query.limit),
        query.status ?? "",
        query.idempotencyKey ?? "",
        ...levelValues(query.subject),
        query.subject?.dimensions === undefined ? "" : JSON.stringify(query.subject.dimensions)
      ], Ledger.ReservationsAnswer)
    }

    const sweepTenant = (tenant: string, limit: number, command: LedgerStore.SweepCommand) =>
      call(Scripts.sweep, tenant, [
        String(command.now),
        String(limit),
        Number.isFinite(command.retentionMs) ? String(command.retentionMs) : ""
      ], SweepExpired)

    const sweep = (command: LedgerStore.SweepCommand) =>
      command.tenant !== undefined
        ? Effect.map(sweepTenant(command.tenant, command.limit, command), (expired) => ({ expired }))
        : Effect.gen(function*() {
          const tenants = yield* send(redis.send<unknown>("SMEMBERS", keys.tenants)).pipe(
            Effect.flatMap((reply) =>
              Effect.mapError(
                decodeTenants(reply),
                () =>
                  unavailable(`unexpected reply to SMEMBERS ${keys.tenants}: ${JSON.stringify(reply)?.slice(0, 200)}`)
              )
            )
          )
          const expired: Array<string> = []
          // every tenant is visited, to prune it, though only `limit` reservations are expired
          for (const tenant of tenants) {
            expired.push(...(yield* sweepTenant(tenant, command.limit - expired.length, command)))
          }
          return { expired }
        })

    // A new budget registers its tenant again, whatever this process saw: after Redis lost its
    // data (a flush, a restart without persistence) the budgets are created anew, and the
    // tenant set with them, so the sweeper finds the tenant's reservations again.
    const createBudget = (command: LedgerStore.CreateBudgetCommand) =>
      withTenant(
        command.tenant,
        call(Scripts.createBudget, command.tenant, [
          command.scope,
          command.unit,
          command.allocated.toString(),
          command.overdraftLimit.toString()
        ], Ledger.BudgetAnswer),
        true
      )

    const fundBudget = (command: LedgerStore.FundBudgetCommand) =>
      call(Scripts.fundBudget, command.tenant, [
        String(command.now),
        command.idempotencyKey ?? "",
        Keys.fingerprintDigest(command),
        command.scope,
        command.unit,
        command.operation,
        command.amount.toString()
      ], Ledger.FundAnswer)

    const setBudgetStatus = (command: LedgerStore.BudgetStatusCommand) =>
      call(Scripts.setBudgetStatus, command.tenant, [command.scope, command.unit, command.status], Ledger.BudgetAnswer)

    const setOverdraftLimit = (command: LedgerStore.OverdraftLimitCommand) =>
      call(Scripts.setOverdraftLimit, command.tenant, [
        command.scope,
        command.unit,
        command.overdraftLimit.toString()
      ], Ledger.BudgetAnswer)

    return LedgerStore.LedgerStore.of({
      reserve,
      commit,
      release,
      extend,
      decide,
      event,
      balances,
      getReservation,
      listReservations,
      sweep,
      createBudget,
      fundBudget,
      setBudgetStatus,
      setOverdraftLimit
    })
  }
)

// =============================================================================
// Layers
// =============================================================================

/**
 * The Redis store as a `LedgerStore` layer over the `Redis` service in
 * context.
 *
 * **Example** (The ledger on a Redis client of your own)
 *
 * ```ts
 * import * as NodeRedis from "@effect/platform-node/NodeRedis"
 * import { Layer } from "effect"
 * import { Ledger } from "@timebox/core"
 * import { RedisLedgerStore } from "@timebox/redis"
 *
 * const ledger = Ledger.layer.pipe(
 *   Layer.provide(RedisLedgerStore.layer()),
 *   Layer.provide(NodeRedis.layer({ url: "redis://127.0.0.1:6379", disableOfflineQueue: true }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<LedgerStore.LedgerStore, Ledger.LedgerError, Redis.Redis> =>
  Layer.effect(LedgerStore.LedgerStore, make(options))

const connectionFailed = (url: string) => (error: Redis.RedisError) =>
  Layer.effect(
    LedgerStore.LedgerStore,
    Effect.fail(
      new Ledger.LedgerError({
        method: "RedisLedgerStore.connect",
        reason: unavailable(`cannot connect to ${redactUrl(url)}: ${describe(error.cause)}`)
      })
    )
  )

const redactUrl = (url: string): string => url.replace(/\/\/([^@/]*)@/, "//***@")

/**
 * The client of `layerUrl`, its socket bounded by the store's `timeout`:
 * connecting (TCP and the handshake) fails after it, and so does a
 * connection on which nothing arrives for that long, while a `PING` every
 * half of it keeps a healthy idle connection busy. After the first
 * connection, a lost one is reconnected with backoff (50 ms doubling to 2 s,
 * plus up to 200 ms of jitter), a timed-out one included; one that goes
 * silent under steady traffic is dropped by the watchdog (`Watchdog`),
 * which its socket's idle timer cannot see. The store times
 * its own commands (`timeout`), so the client's per-command timeout is off:
 * node-redis arms an `AbortSignal.timeout` for each command, which cost
 * ~15 µs of CPU per command here.
 */
const connectWithin = (url: string, timeout: Duration.Duration) => {
  const ms = Math.max(1, Math.ceil(Duration.toMillis(timeout)))
  let connected = false
  return NodeRedis.layer({
    url,
    disableOfflineQueue: true,
    commandOptions: { timeout: 0 },
    pingInterval: Math.max(1, Math.floor(ms / 2)),
    socket: {
      connectTimeout: ms,
      socketTimeout: ms,
      reconnectStrategy: (retries: number, cause: Error) =>
        connected ? Math.min(2 ** retries * 50, 2_000) + Math.floor(Math.random() * 200) : cause
    }
  }).pipe(Layer.tap(() => Effect.sync(() => void (connected = true))))
}

/**
 * The Redis store on its own client, connected to `url` when the layer is
 * built and closed when it is released.
 *
 * **When to use**
 *
 * The usual way to run the ledger on Redis:
 * `Ledger.layer.pipe(Layer.provide(RedisLedgerStore.layerUrl({ url })))`.
 *
 * **Details**
 *
 * The client rejects commands while it is disconnected instead of queueing
 * them (`disableOfflineQueue`), so a Redis that goes away answers
 * `StoreUnavailable` at once, and the client reconnects in the background.
 * A connection whose replies stop while calls keep coming (never idle, so
 * its idle timeout cannot fire) is dropped and connected again once
 * commands have waited across three looks, half a `timeout` apart, with
 * nothing answered, and a `PING` on a second connection answers (a Redis
 * busy with a long script answers neither and keeps its connection).
 *
 * **Gotchas**
 *
 * The layer connects when it is built: an unreachable Redis fails the
 * layer with a `LedgerError` (method `RedisLedgerStore.connect`, reason
 * `StoreUnavailable`), which names the URL without its password.
 *
 * **Example** (The ledger on Redis)
 *
 * ```ts
 * import { Layer } from "effect"
 * import { Ledger } from "@timebox/core"
 * import { RedisLedgerStore } from "@timebox/redis"
 *
 * const ledger = Ledger.layer.pipe(Layer.provide(RedisLedgerStore.layerUrl({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerUrl = (options: UrlOptions): Layer.Layer<LedgerStore.LedgerStore, Ledger.LedgerError> =>
  Layer.unwrap(Effect.gen(function*() {
    const url = yield* urlOf(options.url)
    const timeout = yield* timeoutOf(options)
    return layer(options).pipe(
      Layer.provide(Watchdog.layer(timeout)),
      Layer.provide(connectWithin(url, timeout)),
      Layer.catchTag("RedisError", connectionFailed(url))
    )
  }))

/**
 * `layerUrl` with its options read from `Config` (environment variables by
 * default).
 *
 * **Example** (URL and prefix from the environment)
 *
 * ```ts
 * import { Config, Layer } from "effect"
 * import { Ledger } from "@timebox/core"
 * import { RedisLedgerStore } from "@timebox/redis"
 *
 * const ledger = Ledger.layer.pipe(
 *   Layer.provide(
 *     RedisLedgerStore.layerConfig({
 *       url: Config.String("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")),
 *       prefix: Config.String("LEDGER_PREFIX").pipe(Config.withDefault("timebox"))
 *     })
 *   )
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Wrap<UrlOptions>
): Layer.Layer<LedgerStore.LedgerStore, Ledger.LedgerError | Config.ConfigError> =>
  Layer.unwrap(Effect.gen(function*() {
    return layerUrl(yield* Config.unwrap(options))
  }))
