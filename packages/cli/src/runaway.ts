/**
 * `timebox run runaway-agent [--unguarded-for <duration>] [--backend memory|redis] [--json]`:
 * the runaway agent's own runner. It runs the loop of $0.01 model calls
 * twice at the same time, unguarded for `--unguarded-for` (default 30 s) and
 * guarded by a $1.00 budget on the cost ledger (in memory, or on Redis with
 * `--backend redis`: `REDIS_URL`, else `redis://127.0.0.1:6379`, keys under
 * `TIMEBOX_LEDGER_PREFIX`, else `timebox`), and prints
 * both side by side: calls, spend, duration, stop reason.
 *
 * @since 0.1.0
 */
import { Budget, Ledger } from "@timebox/core"
import { RunawayAgent } from "@timebox/example-runaway-agent"
import { Config, Console, Effect, References, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { literalFlag } from "./commands/ledger.ts"
import { LedgerFailed, RunFailed, UsageError } from "./errors.ts"
import * as RedisLedger from "./internal/redisLedger.ts"

// =============================================================================
// Flags
// =============================================================================

/**
 * The flags of `timebox run` the runner reads, as given.
 *
 * **Example** (The flags of `timebox run runaway-agent --unguarded-for 2s --json`)
 *
 * ```ts
 * import type { RunawayFlags } from "./runaway.ts"
 *
 * const flags: RunawayFlags = {
 *   agent: "runaway-agent",
 *   json: true,
 *   unguardedFor: "2s",
 *   backend: undefined,
 *   unsupported: []
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RunawayFlags {
  readonly agent: string
  readonly json: boolean
  readonly unguardedFor: string | undefined
  readonly backend: string | undefined
  /** Flags of `timebox run` that were given and do not apply here (`--stream`, `--budget`, …). */
  readonly unsupported: ReadonlyArray<string>
}

/**
 * `--unguarded-for`: a positive duration (`30s`, `1.5s`, `"2 seconds"`) to
 * milliseconds.
 *
 * **Example** (Decoding it)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { UnguardedFor } from "./runaway.ts"
 *
 * Schema.decodeUnknownSync(UnguardedFor)("2s") // 2000
 * // Schema.decodeUnknownSync(UnguardedFor)("0s") throws: must be a positive, finite duration
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const UnguardedFor: Schema.Codec<number, string> = Schema.String.pipe(
  Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transformEffect({
      decode: (text: string) => {
        const total = Budget.parseTotal("timebox run", "--unguarded-for", text)
        return typeof total === "number"
          ? Effect.succeed(total)
          : Effect.fail(
            new SchemaIssue.InvalidValue({
              message: total.reason._tag === "InvalidConfig" ? total.reason.problem : total.message
            }, text)
          )
      },
      encode: (ms: number) => Effect.succeed(`${ms}ms`)
    })
  )
)

/**
 * `--backend`: where the guarded half's ledger lives.
 *
 * **Example** (Decoding it)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Backend } from "./runaway.ts"
 *
 * Schema.decodeUnknownSync(Backend)("redis") // "redis"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Backend: Schema.Codec<"memory" | "redis", string> = literalFlag(["memory", "redis"])

const decodeFlag = <A>(flag: string, codec: Schema.Codec<A, string>) => (text: string): Effect.Effect<A, UsageError> =>
  Schema.decodeEffect(codec)(text).pipe(
    Effect.mapError((error) =>
      new UsageError({ message: `invalid --${flag} ${JSON.stringify(text)}: ${error.message.split("\n")[0]}` })
    )
  )

// =============================================================================
// Output
// =============================================================================

const dollars = (microcents: number): string => `$${(microcents / 100_000_000).toFixed(2)}`

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

const pad = (text: string, width: number, right = false): string => right ? text.padStart(width) : text.padEnd(width)

/**
 * The comparison as a table: one row per half, with calls, spend,
 * duration and stop reason.
 *
 * **Example** (The rows of a comparison)
 *
 * ```ts
 * import { table } from "./runaway.ts"
 *
 * const lines = table({
 *   unguarded: { calls: 1150, spentUsdMicrocents: 1_150_000_000, durationMs: 29_980, stopReason: "deadline" },
 *   guarded: { calls: 100, spentUsdMicrocents: 100_000_000, durationMs: 2_640, stopReason: "budget-exceeded" }
 * })
 * // ["            calls    spend  duration  stop reason",
 * //  "unguarded    1150   $11.50    30.0 s  deadline",
 * //  "guarded       100    $1.00     2.6 s  budget-exceeded"]
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const table = (comparison: RunawayAgent.Comparison): Array<string> => {
  const row = (name: string, summary: RunawayAgent.Summary) =>
    `${pad(name, 9)}  ${pad(String(summary.calls), 6, true)}  ${pad(dollars(summary.spentUsdMicrocents), 7, true)}  ${
      pad(seconds(summary.durationMs), 8, true)
    }  ${summary.stopReason}`
  return [
    `${pad("", 9)}  ${pad("calls", 6, true)}  ${pad("spend", 7, true)}  ${pad("duration", 8, true)}  stop reason`,
    row("unguarded", comparison.unguarded),
    row("guarded", comparison.guarded)
  ]
}

/**
 * The comparison as `--json` prints it.
 *
 * **Example** (The JSON of a comparison)
 *
 * ```ts
 * import { toJson } from "./runaway.ts"
 *
 * const json = toJson({
 *   unguarded: { calls: 40, spentUsdMicrocents: 40_000_000, durationMs: 1_000, stopReason: "deadline" },
 *   guarded: { calls: 100, spentUsdMicrocents: 100_000_000, durationMs: 2_600, stopReason: "budget-exceeded" }
 * })
 * // { unguarded: { calls: 40, spentUsdMicrocents: 40000000, durationMs: 1000 },
 * //   guarded: { calls: 100, spentUsdMicrocents: 100000000, durationMs: 2600, stopReason: "budget-exceeded" } }
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const toJson = (comparison: RunawayAgent.Comparison) => ({
  unguarded: {
    calls: comparison.unguarded.calls,
    spentUsdMicrocents: comparison.unguarded.spentUsdMicrocents,
    durationMs: comparison.unguarded.durationMs
  },
  guarded: {
    calls: comparison.guarded.calls,
    spentUsdMicrocents: comparison.guarded.spentUsdMicrocents,
    durationMs: comparison.guarded.durationMs,
    stopReason: comparison.guarded.stopReason
  }
})

// =============================================================================
// Runner
// =============================================================================

const randomTenant = (): string => `runaway-${globalThis.crypto.randomUUID().slice(0, 8)}`

/**
 * Runs the comparison and prints it. Exits 0 when the guarded half stopped
 * with `budget-exceeded`, 1 when it stopped for another reason (a Redis that
 * went away: `store-unavailable`), 2 on bad flags, 130 on Ctrl-C.
 *
 * **Details**
 *
 * The unguarded half runs on the real clock for the whole of
 * `--unguarded-for`: by default the command takes 30 s. On Redis, each run
 * creates its $1.00 budget in a tenant of its own (`runaway-<random>`), so
 * runs never share a budget; the header names it (printed before the run,
 * so a run stopped by Ctrl-C names it too), for `timebox ledger
 * balances --redis <url>`.
 *
 * **Example** (What `timebox run runaway-agent --unguarded-for 2s` does)
 *
 * ```ts
 * import { runaway } from "./runaway.ts"
 *
 * const program = runaway({
 *   agent: "runaway-agent",
 *   json: false,
 *   unguardedFor: "2s",
 *   backend: undefined,
 *   unsupported: []
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const runaway = Effect.fn("timebox run runaway-agent")(function*(flags: RunawayFlags) {
  if (flags.unsupported.length > 0) {
    return yield* new UsageError({
      message: `${flags.unsupported.join(", ")} ${
        flags.unsupported.length === 1 ? "does" : "do"
      } not apply to ${flags.agent} (it takes --unguarded-for, --backend and --json)`
    })
  }
  const unguardedForMs = flags.unguardedFor === undefined
    ? 30_000
    : yield* decodeFlag("unguarded-for", UnguardedFor)(flags.unguardedFor)
  const backend = flags.backend === undefined ? "memory" : yield* decodeFlag("backend", Backend)(flags.backend)
  const url = backend === "redis"
    ? yield* Config.String("REDIS_URL").pipe(
      Config.withDefault("redis://127.0.0.1:6379"),
      Effect.mapError((error) => new UsageError({ message: `REDIS_URL: ${error.message}` }))
    )
    : undefined
  const prefix = yield* Config.String("TIMEBOX_LEDGER_PREFIX").pipe(
    Config.withDefault("timebox"),
    Effect.mapError((error) => new UsageError({ message: `TIMEBOX_LEDGER_PREFIX: ${error.message}` }))
  )
  const tenant = backend === "redis" ? randomTenant() : "demo"
  const ledger = url === undefined
    ? Ledger.layerMemory
    : RedisLedger.layer(url, prefix)
  const scope = Ledger.scopes(RunawayAgent.subject(tenant)).at(-1)
  const on = url === undefined ? "the memory ledger" : `${redact(url)} (${scope})`
  // the header once the ledger is there and before the run, so that a run stopped by Ctrl-C names its tenant
  const header = flags.json
    ? url === undefined ? Effect.void : Console.error(`${flags.agent}: guarded by $1.00 on ${on}`)
    : Console.log(`${flags.agent}  $0.01 a call  unguarded for ${seconds(unguardedForMs)}  guarded by $1.00 on ${on}`)
  const comparison = yield* Effect.andThen(header, RunawayAgent.compare({ unguardedFor: unguardedForMs, tenant })).pipe(
    // said at once: closing the ledger then waits for the guarded call under way to settle
    Effect.onInterrupt(() => Console.error(`timebox: ${flags.agent} interrupted`)),
    Effect.provide(ledger, { local: true }),
    // The Redis client's own warnings stay off stderr (a lost Redis shows as store-unavailable).
    Effect.provideService(References.MinimumLogLevel, "Error"),
    Effect.catchTag("LedgerError", (error) =>
      Effect.fail(
        error.method === "RedisLedgerStore.connect" && error.reason._tag === "InvalidRequest"
          ? new UsageError({ message: `REDIS_URL ${error.reason.value}: ${error.reason.problem}` })
          : new LedgerFailed({ message: `${error.message} (${error.reason._tag})` })
      )),
    Effect.catchTag(
      "TimeboxError",
      (error) => Effect.fail(new UsageError({ message: `${JSON.stringify(flags.agent)}: ${error.message}` }))
    )
  )
  if (flags.json) {
    yield* Console.log(JSON.stringify(toJson(comparison), null, 2))
  } else {
    yield* Console.log(["", ...table(comparison)].join("\n"))
  }
  if (comparison.guarded.stopReason !== "budget-exceeded") {
    yield* Console.error(
      `timebox: ${flags.agent}: the guarded half stopped with ${comparison.guarded.stopReason}, not budget-exceeded`
    )
    return yield* new RunFailed({ agent: flags.agent, reason: comparison.guarded.stopReason })
  }
})

const redact = (url: string): string => url.replace(/\/\/([^@/]*)@/, "//***@")
