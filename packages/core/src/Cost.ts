/**
 * Money and tokens as integers: prices in nano-USD per token (so that
 * $0.00075 per 1K tokens is exactly 750), usage in tokens, and the cost of a
 * run in nano-USD, reported in micro-USD rounded up. No floating-point money.
 *
 * @since 0.1.0
 */

/**
 * A model's price: integer nano-USD per input token and per output token
 * (hidden reasoning tokens are billed as output).
 *
 * **Example** (The fast preset: $0.00075 in, $0.0008 out per 1K tokens)
 *
 * ```ts
 * import type { Cost } from "@timebox/core"
 *
 * const fast: Cost.Price = { inputNanoUsdPerToken: 750, outputNanoUsdPerToken: 800 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Price {
  readonly inputNanoUsdPerToken: number
  readonly outputNanoUsdPerToken: number
}

/**
 * Token usage of one or more model calls.
 *
 * **Example** (One call)
 *
 * ```ts
 * import type { Cost } from "@timebox/core"
 *
 * const usage: Cost.Usage = { inputTokens: 120, outputTokens: 80, reasoningTokens: 0 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly reasoningTokens: number
}

/**
 * The cost of `usage` at `price`, in nano-USD (an integer).
 *
 * **Example** (200 tokens on the fast preset)
 *
 * ```ts
 * import { Cost } from "@timebox/core"
 *
 * Cost.nanoUsd({ inputTokens: 120, outputTokens: 80, reasoningTokens: 0 }, {
 *   inputNanoUsdPerToken: 750,
 *   outputNanoUsdPerToken: 800
 * }) // 154_000
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const nanoUsd = (usage: Usage, price: Price): number =>
  usage.inputTokens * price.inputNanoUsdPerToken +
  (usage.outputTokens + usage.reasoningTokens) * price.outputNanoUsdPerToken

/**
 * Nano-USD to micro-USD, rounded up: a report never under-states a cost.
 *
 * **Example** (Rounding up)
 *
 * ```ts
 * import { Cost } from "@timebox/core"
 *
 * Cost.toMicroUsd(154_000) // 154
 * Cost.toMicroUsd(154_001) // 155
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const toMicroUsd = (nano: number): number => Math.ceil(nano / 1000)

/**
 * A mutable tally of the model calls of one run.
 *
 * **Gotchas**
 *
 * A tally is mutated in place by `Cost.add`: share one per run, never
 * between runs.
 *
 * **Example** (The average cost of a call)
 *
 * ```ts
 * import type { Cost } from "@timebox/core"
 *
 * const nanoUsdPerCall = (tally: Cost.Tally): number => tally.calls === 0 ? 0 : Math.ceil(tally.nanoUsd / tally.calls)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Tally {
  inputTokens: number
  outputTokens: number
  reasoningTokens: number
  nanoUsd: number
  calls: number
}

/**
 * A fresh tally.
 *
 * **Example** (Summing two calls)
 *
 * ```ts
 * import { Cost } from "@timebox/core"
 *
 * const tally = Cost.makeTally()
 * Cost.add(tally, { inputTokens: 10, outputTokens: 5, reasoningTokens: 0 }, { inputNanoUsdPerToken: 1, outputNanoUsdPerToken: 2 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeTally = (): Tally => ({ inputTokens: 0, outputTokens: 0, reasoningTokens: 0, nanoUsd: 0, calls: 0 })

/**
 * Adds one call's usage, priced, to a tally.
 *
 * **Example** (Two calls on the fast preset's prices)
 *
 * ```ts
 * import { Cost } from "@timebox/core"
 *
 * const fast: Cost.Price = { inputNanoUsdPerToken: 750, outputNanoUsdPerToken: 800 }
 * const tally = Cost.makeTally()
 * Cost.add(tally, { inputTokens: 120, outputTokens: 80, reasoningTokens: 0 }, fast)
 * Cost.add(tally, { inputTokens: 300, outputTokens: 30, reasoningTokens: 0 }, fast)
 * Cost.toMicroUsd(tally.nanoUsd) // 403
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const add = (tally: Tally, usage: Usage, price: Price): void => {
  tally.inputTokens += usage.inputTokens
  tally.outputTokens += usage.outputTokens
  tally.reasoningTokens += usage.reasoningTokens
  tally.nanoUsd += nanoUsd(usage, price)
  tally.calls += 1
}
