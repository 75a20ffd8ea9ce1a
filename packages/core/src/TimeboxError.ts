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
 * @category guards
 * @since 0.1.0
 */
export const isTimeboxError = (u: unknown): u is TimeboxError => u instanceof TimeboxError
