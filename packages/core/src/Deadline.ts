/**
 * The ambient deadline: an absolute instant (epoch milliseconds, read from
 * `Clock`) that travels down the call tree as a `Context.Reference`, so any
 * nested effect, tool or HTTP call can ask how much time it has without
 * parameters.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect } from "effect"
import { dual } from "effect/Function"

/**
 * The current deadline in epoch milliseconds; `Infinity` when no budget is in
 * force. Every stage provides its own (never later than its parent's).
 *
 * **When to use**
 *
 * Read it through `Deadline.remainingMillis` rather than directly; provide it
 * with `Deadline.within` or `Deadline.at`.
 *
 * **Example** (Reading the deadline)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@timebox/core"
 *
 * const program = Effect.gen(function*() {
 *   const deadline = yield* Deadline.CurrentDeadline // Infinity outside a budget
 *   return deadline
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const CurrentDeadline = Context.Reference<number>("@timebox/core/Deadline/CurrentDeadline", {
  defaultValue: () => Number.POSITIVE_INFINITY
})

/**
 * Milliseconds left until the current deadline, never negative; `Infinity`
 * outside a budget.
 *
 * **Example** (Sizing work to the time left)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@timebox/core"
 *
 * const maxResults = Effect.map(Deadline.remainingMillis, (ms) => (ms > 100 ? 20 : 5))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const remainingMillis: Effect.Effect<number> = Effect.gen(function*() {
  const deadline = yield* CurrentDeadline
  if (deadline === Number.POSITIVE_INFINITY) return deadline
  const clock = yield* Clock.Clock
  return Math.max(0, deadline - clock.currentTimeMillisUnsafe())
})

/**
 * Time left until the current deadline as a `Duration` (`Duration.infinity`
 * outside a budget).
 *
 * **Gotchas**
 *
 * Once the deadline has passed it is `Duration.zero`, never negative. Outside
 * any budget it is `Duration.infinity`, so a timeout built from it never
 * fires.
 *
 * **Example** (A call that gives up at the current deadline)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@timebox/core"
 *
 * const callModel = Effect.sleep("300 millis").pipe(Effect.as("answer"))
 * // Some(answer) when it fits in what is left, None otherwise
 * const bounded = Effect.flatMap(Deadline.remaining, (left) => Effect.timeoutOption(callModel, left))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const remaining: Effect.Effect<Duration.Duration> = Effect.map(
  remainingMillis,
  (ms) => (ms === Number.POSITIVE_INFINITY ? Duration.infinity : Duration.millis(ms))
)

/**
 * Runs `self` with the deadline `deadlineMillis` (epoch ms), or the current
 * one when that is earlier: a child deadline is never later than its parent's.
 * It only sets the deadline; it does not time `self` out.
 *
 * **Example** (Pinning an absolute deadline)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@timebox/core"
 *
 * const program = Deadline.remainingMillis.pipe(Deadline.at(5_000))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const at: {
  (deadlineMillis: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, deadlineMillis: number): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, deadlineMillis: number): Effect.Effect<A, E, R> =>
    Effect.flatMap(
      CurrentDeadline,
      (outer) => Effect.provideService(self, CurrentDeadline, Math.min(outer, deadlineMillis))
    )
)

/**
 * Runs `self` with a deadline `duration` from now (from `Clock`), never
 * later than the current one. It only sets the deadline; pair it with a
 * `Stage` to enforce it.
 *
 * **Example** (Nested budgets never extend the outer one)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@timebox/core"
 *
 * // 1 s inside 10 s: remaining is 1 s; 10 s inside 1 s: still 1 s
 * const inner = Deadline.remainingMillis.pipe(Deadline.within("1 second"), Deadline.within("10 seconds"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const within: {
  (duration: Duration.Input): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.Input): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.Input): Effect.Effect<A, E, R> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => at(self, now + Duration.toMillis(duration)))
)
