/**
 * Run-level errors of timebox, in Effect's reason pattern: one `TimeboxError`
 * carrying the method that failed and a tagged `reason`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A budget or stage configuration value that cannot be used, naming the field
 * and the value that was given.
 *
 * **Example** (Handling a bad configuration)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { TimeboxError } from "@timebox/core"
 *
 * const explain = (error: TimeboxError.TimeboxError) =>
 *   error.reason._tag === "InvalidConfig" ? `${error.reason.field}: ${error.reason.problem}` : error.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  field: Schema.String,
  value: Schema.String,
  problem: Schema.String
}) {
  /** Bad configuration never fixes itself. */
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `invalid ${this.field} (${this.value}): ${this.problem}`
  }
}

/**
 * A required stage could not start (its window was below `minUseful`) or ran
 * past its window: the run cannot produce an output in time.
 *
 * **Example** (A required stage cut at its window)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const auth = Stage.required("auth", () => Effect.sleep("50 millis"), { allocation: "20 millis" })
 * const program = Stage.run(auth, undefined).pipe(
 *   Effect.catchReason("TimeboxError", "BudgetExhausted", (reason) =>
 *     Effect.succeed(reason.timedOut ? `cut after ${reason.windowMs}ms` : `needed ${reason.minUsefulMs}ms`))
 * ) // "cut after 20ms"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class BudgetExhausted extends Schema.TaggedError<BudgetExhausted>()("BudgetExhausted", {
  stage: Schema.String,
  windowMs: Schema.Number,
  minUsefulMs: Schema.Number,
  timedOut: Schema.Boolean
}) {
  /** A larger budget may succeed. */
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return this.timedOut
      ? `required stage ${this.stage} ran past its ${this.windowMs}ms window`
      : `required stage ${this.stage} needs ${this.minUsefulMs}ms, ${this.windowMs}ms available`
  }
}

/**
 * A required stage failed with a typed error or a defect; `detail` is that
 * error's message.
 *
 * **Gotchas**
 *
 * Only the message of the stage's error is kept: the original typed error is
 * not in the `TimeboxError`. Handle errors inside the stage when the caller
 * needs them.
 *
 * **Example** (A failed lookup)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const lookup = Stage.required("lookup", (orderId: string) =>
 *   orderId === "" ? Effect.fail(new Error("empty order id")) : Effect.succeed(`order ${orderId}`))
 * const program = Stage.run(lookup, "").pipe(
 *   Effect.catchReason("TimeboxError", "StageFailed", (reason) => Effect.succeed(`${reason.stage}: ${reason.detail}`))
 * ) // "lookup: empty order id"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class StageFailed extends Schema.TaggedError<StageFailed>()("StageFailed", {
  stage: Schema.String,
  detail: Schema.String
}) {
  /** The failure came from the stage's own work: retrying is the caller's call. */
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `required stage ${this.stage} failed: ${this.detail}`
  }
}

/**
 * The reasons a `TimeboxError` can carry.
 *
 * **Example** (A message per reason)
 *
 * ```ts
 * import type { TimeboxError } from "@timebox/core"
 *
 * const hint = (reason: TimeboxError.TimeboxErrorReason): string => {
 *   switch (reason._tag) {
 *     case "InvalidConfig":
 *       return `fix ${reason.field}`
 *     case "BudgetExhausted":
 *       return `give ${reason.stage} more time`
 *     case "StageFailed":
 *       return `${reason.stage} failed: ${reason.detail}`
 *   }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type TimeboxErrorReason = InvalidConfig | BudgetExhausted | StageFailed

/**
 * The one error of the timebox core. `method` names the operation
 * (`Agent.run`, `Stage.run`, `Budget.decode`), `reason` says what happened.
 *
 * **When to use**
 *
 * Catch one reason with `Effect.catchReason("TimeboxError", "InvalidConfig", f)`.
 *
 * **Example** (Recovering from an exhausted budget)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Stage } from "@timebox/core"
 *
 * const auth = Stage.required("auth", () => Effect.succeed("user-1"), { allocation: "10 millis" })
 * const program = Stage.run(auth, undefined).pipe(
 *   Effect.catchReason("TimeboxError", "BudgetExhausted", () => Effect.succeed("anonymous"))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class TimeboxError extends Schema.TaggedError<TimeboxError>()("TimeboxError", {
  method: Schema.String,
  reason: Schema.Union([InvalidConfig, BudgetExhausted, StageFailed])
}) {
  /** Whether trying again (with more budget) may succeed. */
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
  override get message(): string {
    return `${this.method}: ${this.reason.message}`
  }
}

/**
 * Builds an `InvalidConfig` error for `method`.
 *
 * **Example** (A bad duration)
 *
 * ```ts
 * import { TimeboxError } from "@timebox/core"
 *
 * const error = TimeboxError.invalidConfig("Budget.decode", "total", "-1 millis", "must be positive")
 * // error.message === "Budget.decode: invalid total (-1 millis): must be positive"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const invalidConfig = (method: string, field: string, value: unknown, problem: string): TimeboxError =>
  new TimeboxError({ method, reason: new InvalidConfig({ field, value: showValue(value), problem }) })

const showValue = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value)
  if (value === undefined) return "undefined"
  const json = JSON.stringify(value)
  return json === undefined ? String(value) : json
}

/**
 * Whether a value is a `TimeboxError`.
 *
 * **Example** (Handling timebox errors among others)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { TimeboxError } from "@timebox/core"
 *
 * const explained = <A>(self: Effect.Effect<A, unknown>) =>
 *   self.pipe(Effect.catchIf(TimeboxError.isTimeboxError, (error) => Effect.succeed(`timebox: ${error.message}`)))
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isTimeboxError = (u: unknown): u is TimeboxError => u instanceof TimeboxError
