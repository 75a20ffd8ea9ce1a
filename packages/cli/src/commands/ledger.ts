/**
 * `timebox ledger create|fund|balances|reservations`: the cost ledger's
 * budget administration and queries, on Redis (`--redis <url>`) or on the
 * in-memory store.
 *
 * **Gotchas**
 *
 * Without `--redis`, each command runs against an in-memory ledger that
 * lives only for that command: `create` shows the budget it made, and then
 * it is gone. It is a demo of the requests and answers; keep budgets on
 * Redis.
 *
 * @since 0.1.0
 */
import { Ledger } from "@timebox/core"
import { Config, Console, Effect, Option, References, Result, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { LedgerFailed, UsageError } from "../errors.ts"
import { fromText } from "../internal/flagText.ts"
import * as RedisLedger from "../internal/redisLedger.ts"

// =============================================================================
// Flag codecs
// =============================================================================

/**
 * A ledger amount from flag text: a whole number from 0 to 2^63 − 1
 * (a `_` between digits allowed), as a `bigint`.
 *
 * **Example** (Decoding `--allocated 100_000_000`)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { AmountFlag } from "./ledger.ts"
 *
 * Schema.decodeUnknownSync(AmountFlag)("100_000_000") // 100000000n
 * // Schema.decodeUnknownSync(AmountFlag)("1.5") throws: expected a whole number from 0 to 2^63-1
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const AmountFlag: Schema.Codec<bigint, string> = fromText(Schema.BigInt, (text) => {
  const trimmed = text.trim()
  // a `_` only between two digits, as in a JavaScript number literal
  if (!/^\d+(?:_\d+)*$/.test(trimmed)) return "expected a whole number from 0 to 2^63-1"
  const value = BigInt(trimmed.replaceAll("_", ""))
  return value > Ledger.maxAmount ? "expected a whole number from 0 to 2^63-1" : { value }
}, String)

/**
 * A page size from flag text: 1 to 200.
 *
 * **Example** (Decoding `--limit 20`)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { LimitFlag } from "./ledger.ts"
 *
 * Schema.decodeUnknownSync(LimitFlag)("20") // 20
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const LimitFlag: Schema.Codec<number, string> = fromText(Schema.Int, (text) => {
  const limit = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN
  return Number.isSafeInteger(limit) && limit >= 1 && limit <= 200
    ? { value: limit }
    : "expected a whole number from 1 to 200"
}, String)

/**
 * One of `literals`, from flag text, with the choices in the message.
 *
 * **Example** (Decoding `--unit`)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { literalFlag } from "./ledger.ts"
 *
 * Schema.decodeUnknownSync(literalFlag(["memory", "redis"]))("redis") // "redis"
 * // Schema.decodeUnknownSync(literalFlag(["memory", "redis"]))("disk") throws: expected one of memory, redis
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const literalFlag = <const L extends ReadonlyArray<string>>(literals: L): Schema.Codec<L[number], string> =>
  fromText(
    Schema.Literals(literals) as unknown as Schema.Codec<L[number]>,
    (text) => literals.includes(text) ? { value: text as L[number] } : `expected one of ${literals.join(", ")}`,
    String
  )

const decodeFlag = <A>(flag: string, codec: Schema.Codec<A, string>) => (text: string): Effect.Effect<A, UsageError> =>
  Schema.decodeEffect(codec)(text).pipe(
    Effect.mapError((error) =>
      new UsageError({ message: `invalid --${flag} ${JSON.stringify(text)}: ${error.message.split("\n")[0]}` })
    )
  )

const optionalFlag = <A>(flag: string, codec: Schema.Codec<A, string>, value: Option.Option<string>) =>
  Option.isNone(value) ? Effect.succeed(undefined) : decodeFlag(flag, codec)(value.value)

// =============================================================================
// The ledger a command runs on
// =============================================================================

/**
 * The flags every `timebox ledger` command takes.
 *
 * **Example** (On a local Redis, as tenant acme)
 *
 * ```ts
 * import { Option } from "effect"
 * import type { Common } from "./ledger.ts"
 *
 * const flags: Common = {
 *   redis: Option.some("redis://127.0.0.1:6379"),
 *   prefix: "timebox",
 *   tenant: Option.some("acme"),
 *   json: false
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Common {
  readonly redis: Option.Option<string>
  readonly prefix: string
  readonly tenant: Option.Option<string>
  readonly json: boolean
}

const common = {
  redis: Flag.String("redis").pipe(
    Flag.withMetavar("url"),
    Flag.withDescription(
      "The ledger on Redis, e.g. redis://127.0.0.1:6379 (default: an in-memory ledger for this command only)"
    ),
    Flag.optional
  ),
  prefix: Flag.String("prefix").pipe(
    Flag.withMetavar("prefix"),
    Flag.withDescription("The Redis key prefix of the ledger (default: TIMEBOX_LEDGER_PREFIX, else timebox)"),
    Flag.withFallbackConfig(Config.String("TIMEBOX_LEDGER_PREFIX")),
    Flag.withDefault("timebox")
  ),
  tenant: Flag.String("tenant").pipe(
    Flag.withMetavar("id"),
    Flag.withDescription("The caller's tenant (default: the tenant --scope names)"),
    Flag.optional
  ),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print the ledger's answer as JSON"), Flag.withDefault(false))
}

/** How an amount flag is written. */
const amountSyntax = "a whole number from 0 to 2^63-1, _ between digits allowed (1_000_000)"

const scopeFlag = Flag.String("scope").pipe(
  Flag.withMetavar("path"),
  Flag.withDescription(
    "Required. A scope path: tenant:acme, tenant:acme/app:support, tenant:acme/app:support/agent:bot, …"
  )
)

const unitFlag = Flag.String("unit").pipe(
  Flag.withMetavar("unit"),
  Flag.withDescription(`${Ledger.Unit.literals.join(", ")} (default: USD_MICROCENTS)`),
  Flag.withDefault("USD_MICROCENTS")
)

/** The tenant of a scope path (`tenant:acme/app:support` → `acme`). */
const tenantOf = (scope: string | undefined): string | undefined =>
  scope === undefined ? undefined : /(?:^|\/)tenant:([^/]+)/.exec(scope)?.[1]

const resolveTenant = (flags: Common, scope: string | undefined): Effect.Effect<string, UsageError> => {
  const tenant = Option.getOrUndefined(flags.tenant) ?? tenantOf(scope)
  return tenant === undefined
    ? Effect.fail(new UsageError({ message: "missing --tenant (or a --scope that names one, e.g. tenant:acme)" }))
    : Effect.succeed(tenant)
}

/**
 * The subject a scope path names (`tenant:acme/app:support` →
 * `{ tenant: "acme", app: "support" }`), decoded with `Ledger.Subject`.
 *
 * **Example** (A path to a subject)
 *
 * ```ts
 * import { subjectOf } from "./ledger.ts"
 *
 * const subject = subjectOf("tenant:acme/app:support") // succeeds with { tenant: "acme", app: "support" }
 * // subjectOf("app:support/tenant:acme") fails: "tenant" is out of order
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const subjectOf = (scope: string): Effect.Effect<Ledger.Subject, UsageError> => {
  const parsed = Ledger.parseScope(scope)
  return Result.isSuccess(parsed)
    ? Effect.succeed(parsed.success)
    : Effect.fail(new UsageError({ message: `invalid --scope ${JSON.stringify(scope)}: ${parsed.failure}` }))
}

const flagOf = (field: string): string => {
  const head = field.split(".")[0] ?? field
  return head.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
}

/**
 * Runs `use` on the ledger the flags name: Redis at `--redis`, else a fresh
 * in-memory ledger (with a note on stderr that it lives only for this
 * command). A request the ledger rejects as invalid is a `UsageError`
 * naming the flag (exit 2), a bad `--redis` URL included; every other
 * ledger error, an amount that would overflow the budget included, is a
 * `LedgerFailed` with the ledger's message and reason (exit 1).
 *
 * **Example** (The balances of acme)
 *
 * ```ts
 * import { Option } from "effect"
 * import { withLedger } from "./ledger.ts"
 *
 * const balances = withLedger(
 *   { redis: Option.some("redis://127.0.0.1:6379"), prefix: "timebox", tenant: Option.none(), json: false },
 *   (ledger) => ledger.balances({ tenant: "acme", subject: { tenant: "acme" } })
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLedger = <A>(
  flags: Common,
  use: (ledger: Ledger.Service) => Effect.Effect<A, Ledger.LedgerError>
): Effect.Effect<A, UsageError | LedgerFailed> => {
  if (Option.isSome(flags.redis) && flags.prefix === "") {
    return Effect.fail(
      new UsageError({ message: "invalid --prefix \"\": must not be empty (every key starts with it)" })
    )
  }
  const layer = Option.isSome(flags.redis)
    ? RedisLedger.layer(flags.redis.value, flags.prefix)
    : Ledger.layerMemory
  const note = Option.isSome(flags.redis)
    ? Effect.void
    : Console.error("timebox: note: the memory ledger lives only for this command (use --redis <url> to keep budgets)")
  return note.pipe(
    Effect.andThen(Effect.flatMap(Ledger.Ledger, use)),
    Effect.provide(layer, { local: true }),
    // The Redis client's own warnings (a refused connection, each reconnect) stay off stderr:
    // the ledger's error says it in one line.
    Effect.provideService(References.MinimumLogLevel, "Error"),
    Effect.mapError((error): UsageError | LedgerFailed => {
      const reason = error.reason
      // a request the ledger refuses for the budget's state (an amount that would overflow it) is a
      // refusal, not a bad flag
      if (reason._tag === "InvalidRequest" && !/ would (be|fall) /.test(reason.problem)) {
        const flag = error.method === "RedisLedgerStore.connect" && reason.field === "url"
          ? "redis"
          : flagOf(reason.field)
        return new UsageError({ message: `invalid --${flag} ${reason.value}: ${reason.problem}` })
      }
      return new LedgerFailed({ message: `${error.message} (${reason._tag})` })
    })
  )
}

// =============================================================================
// Output
// =============================================================================

const columns = (rows: ReadonlyArray<ReadonlyArray<string>>, numeric: ReadonlySet<number>): Array<string> => {
  const widths = rows[0]!.map((_, index) => Math.max(...rows.map((row) => row[index]!.length)))
  return rows.map((row) =>
    row.map((cell, index) =>
      index === row.length - 1 ? cell : numeric.has(index) ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!)
    ).join("  ").trimEnd()
  )
}

/**
 * Balances as a table: one row per scope and unit.
 *
 * **Example** (A fresh budget)
 *
 * ```ts
 * import { balancesTable } from "./ledger.ts"
 *
 * const lines = balancesTable([{
 *   scope: "tenant:acme",
 *   unit: "USD_MICROCENTS",
 *   status: "active",
 *   allocated: 100_000_000n,
 *   spent: 0n,
 *   reserved: 0n,
 *   debt: 0n,
 *   overdraftLimit: 0n,
 *   remaining: 100_000_000n,
 *   isOverLimit: false
 * }])
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const balancesTable = (balances: ReadonlyArray<Ledger.Balance>): Array<string> => {
  if (balances.length === 0) return ["no budgets"]
  const header = ["scope", "unit", "status", "allocated", "spent", "reserved", "debt", "remaining", "over limit"]
  const rows = balances.map((balance) => [
    balance.scope,
    balance.unit,
    balance.status,
    String(balance.allocated),
    String(balance.spent),
    String(balance.reserved),
    String(balance.debt),
    String(balance.remaining),
    balance.isOverLimit ? "yes" : "no"
  ])
  return columns([header, ...rows], new Set([3, 4, 5, 6, 7]))
}

/**
 * Reservations as a table: one row each.
 *
 * **Example** (An empty page)
 *
 * ```ts
 * import { reservationsTable } from "./ledger.ts"
 *
 * reservationsTable([]) // ["no reservations"]
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const reservationsTable = (reservations: ReadonlyArray<Ledger.Reservation>): Array<string> => {
  if (reservations.length === 0) return ["no reservations"]
  const header = ["id", "status", "scope", "unit", "reserved", "committed", "action"]
  const rows = reservations.map((reservation) => [
    reservation.reservationId,
    reservation.status,
    reservation.scopePath,
    reservation.reserved.unit,
    String(reservation.reserved.amount),
    reservation.committed === undefined ? "-" : String(reservation.committed.amount),
    `${reservation.action.kind} ${reservation.action.name}`
  ])
  return columns([header, ...rows], new Set([4, 5]))
}

// Amounts are bigints: their encoded form is a decimal string.
const printJson = <T, E>(schema: Schema.Codec<T, E>, value: T): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.orDie(Schema.encodeEffect(schema)(value)),
    (json) => Console.log(JSON.stringify(json, null, 2))
  )

// =============================================================================
// Commands
// =============================================================================

const create = Command.make(
  "create",
  {
    ...common,
    scope: scopeFlag,
    unit: unitFlag,
    allocated: Flag.String("allocated").pipe(
      Flag.withMetavar("amount"),
      Flag.withDescription(`Required. The budget, in --unit: ${amountSyntax}`)
    ),
    overdraftLimit: Flag.String("overdraft-limit").pipe(
      Flag.withMetavar("amount"),
      Flag.withDescription("How much debt the budget may take (default: 0)"),
      Flag.withDefault("0")
    )
  },
  Effect.fn("timebox ledger create")(function*(flags) {
    const unit = yield* decodeFlag("unit", literalFlag(Ledger.Unit.literals))(flags.unit)
    const allocated = yield* decodeFlag("allocated", AmountFlag)(flags.allocated)
    const overdraftLimit = yield* decodeFlag("overdraft-limit", AmountFlag)(flags.overdraftLimit)
    const scope = yield* subjectOf(flags.scope)
    const tenant = yield* resolveTenant(flags, flags.scope)
    const answer = yield* withLedger(
      flags,
      (ledger) => ledger.createBudget({ tenant, scope, unit, allocated, overdraftLimit })
    )
    if (flags.json) return yield* printJson(Ledger.BudgetAnswer, answer)
    yield* Console.log(balancesTable(answer.balances).join("\n"))
  })
).pipe(Command.withDescription("Create a budget for a scope and unit"))

const fund = Command.make(
  "fund",
  {
    ...common,
    scope: scopeFlag,
    unit: unitFlag,
    operation: Flag.String("operation").pipe(
      Flag.withMetavar("operation"),
      Flag.withDescription(`${Ledger.FundOperation.literals.join(", ")} (default: credit)`),
      Flag.withDefault("credit")
    ),
    amount: Flag.String("amount").pipe(
      Flag.withMetavar("amount"),
      Flag.withDescription(`Required. In --unit: ${amountSyntax}`)
    ),
    idempotencyKey: Flag.String("idempotency-key").pipe(
      Flag.withMetavar("key"),
      Flag.withDescription("Repeating a fund with the same key applies it once"),
      Flag.optional
    )
  },
  Effect.fn("timebox ledger fund")(function*(flags) {
    const unit = yield* decodeFlag("unit", literalFlag(Ledger.Unit.literals))(flags.unit)
    const operation = yield* decodeFlag("operation", literalFlag(Ledger.FundOperation.literals))(flags.operation)
    const amount = yield* decodeFlag("amount", AmountFlag)(flags.amount)
    const scope = yield* subjectOf(flags.scope)
    const tenant = yield* resolveTenant(flags, flags.scope)
    const answer = yield* withLedger(flags, (ledger) =>
      ledger.fundBudget({
        tenant,
        scope,
        unit,
        operation,
        amount,
        ...(Option.isSome(flags.idempotencyKey) ? { idempotencyKey: flags.idempotencyKey.value } : {})
      }))
    if (flags.json) return yield* printJson(Ledger.FundAnswer, answer)
    const after = answer.balances.find((balance) => balance.scope === answer.previous.scope)
    yield* Console.log(
      [
        `${operation} ${amount} ${unit} on ${answer.previous.scope}: allocated ${answer.previous.allocated} → ${
          after?.allocated ?? "?"
        }, debt ${answer.previous.debt} → ${after?.debt ?? "?"}`,
        ...balancesTable(answer.balances)
      ].join("\n")
    )
  })
).pipe(Command.withDescription("Credit, debit, reset a budget, or repay its debt"))

const balances = Command.make(
  "balances",
  {
    ...common,
    scope: scopeFlag,
    unit: Flag.String("unit").pipe(
      Flag.withMetavar("unit"),
      Flag.withDescription(`Only this unit: ${Ledger.Unit.literals.join(", ")}`),
      Flag.optional
    ),
    children: Flag.Boolean("children").pipe(
      Flag.withDescription("Also the scopes below --scope"),
      Flag.withDefault(false)
    ),
    limit: Flag.String("limit").pipe(
      Flag.withMetavar("n"),
      Flag.withDescription("A page of 1 to 200 (default: 50)"),
      Flag.withDefault("50")
    ),
    cursor: Flag.String("cursor").pipe(Flag.withMetavar("cursor"), Flag.withDescription("The next page"), Flag.optional)
  },
  Effect.fn("timebox ledger balances")(function*(flags) {
    const unit = yield* optionalFlag("unit", literalFlag(Ledger.Unit.literals), flags.unit)
    const limit = yield* decodeFlag("limit", LimitFlag)(flags.limit)
    const subject = yield* subjectOf(flags.scope)
    const tenant = yield* resolveTenant(flags, flags.scope)
    const answer = yield* withLedger(flags, (ledger) =>
      ledger.balances({
        tenant,
        subject,
        includeChildren: flags.children,
        limit,
        ...(unit === undefined ? {} : { unit }),
        ...(Option.isSome(flags.cursor) ? { cursor: flags.cursor.value } : {})
      }))
    if (flags.json) return yield* printJson(Ledger.BalancesAnswer, answer)
    yield* Console.log(
      [
        ...balancesTable(answer.balances),
        ...(answer.nextCursor === undefined ? [] : [`next: --cursor ${answer.nextCursor}`])
      ]
        .join("\n")
    )
  })
).pipe(Command.withDescription("The balances of a scope (and, with --children, of the scopes below)"))

const reservations = Command.make(
  "reservations",
  {
    ...common,
    scope: scopeFlag.pipe(Flag.withDescription("Only reservations of this subject"), Flag.optional),
    status: Flag.String("status").pipe(
      Flag.withMetavar("status"),
      Flag.withDescription(`Only these: ${Ledger.ReservationStatus.literals.join(", ")}`),
      Flag.optional
    ),
    limit: Flag.String("limit").pipe(
      Flag.withMetavar("n"),
      Flag.withDescription("A page of 1 to 200 (default: 50)"),
      Flag.withDefault("50")
    ),
    cursor: Flag.String("cursor").pipe(Flag.withMetavar("cursor"), Flag.withDescription("The next page"), Flag.optional)
  },
  Effect.fn("timebox ledger reservations")(function*(flags) {
    const status = yield* optionalFlag("status", literalFlag(Ledger.ReservationStatus.literals), flags.status)
    const limit = yield* decodeFlag("limit", LimitFlag)(flags.limit)
    const scope = Option.getOrUndefined(flags.scope)
    const subject = scope === undefined ? undefined : yield* subjectOf(scope)
    const tenant = yield* resolveTenant(flags, scope)
    const answer = yield* withLedger(flags, (ledger) =>
      ledger.listReservations({
        tenant,
        limit,
        ...(subject === undefined ? {} : { subject }),
        ...(status === undefined ? {} : { status }),
        ...(Option.isSome(flags.cursor) ? { cursor: flags.cursor.value } : {})
      }))
    if (flags.json) return yield* printJson(Ledger.ReservationsAnswer, answer)
    yield* Console.log(
      [
        ...reservationsTable(answer.reservations),
        ...(answer.nextCursor === undefined ? [] : [`next: --cursor ${answer.nextCursor}`])
      ].join("\n")
    )
  })
).pipe(Command.withDescription("The tenant's reservations, oldest first, a page at a time"))

/**
 * `timebox ledger`: `create`, `fund`, `balances`, `reservations`.
 *
 * **Example** (A command tree with `ledger` only)
 *
 * ```ts
 * import { Command } from "effect/cli"
 * import { ledger } from "./ledger.ts"
 *
 * const timebox = Command.make("timebox").pipe(Command.withSubcommands([ledger]))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const ledger = Command.make("ledger").pipe(
  Command.withDescription(
    "Administer and query the cost ledger: on Redis with --redis <url>, else in memory for one command"
  ),
  Command.withSubcommands([create, fund, balances, reservations]),
  Command.withExamples([
    {
      command: "timebox ledger create --redis redis://127.0.0.1:6379 --scope tenant:acme --allocated 100000000",
      description: "A $1.00 budget (USD_MICROCENTS) for tenant acme"
    },
    {
      command: "timebox ledger fund --redis redis://127.0.0.1:6379 --scope tenant:acme --amount 50000000",
      description: "Add $0.50"
    },
    {
      command: "timebox ledger balances --redis redis://127.0.0.1:6379 --scope tenant:acme --children",
      description: "acme's budgets and those below it"
    },
    {
      command: "timebox ledger reservations --redis redis://127.0.0.1:6379 --tenant acme --status active",
      description: "acme's open reservations"
    }
  ])
)
