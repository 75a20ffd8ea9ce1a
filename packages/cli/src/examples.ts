/**
 * The bundled example agents, by name. Each example package exports its
 * agent (and, for several architectures, one agent per profile); the CLI
 * depends on those packages, never the reverse. To bundle a new example, add
 * its package to `dependencies` and one entry here.
 *
 * @since 0.1.0
 */
import type { Agent } from "@timebox/core"
import { ResearchAgent } from "@timebox/example-research-agent"
import { RunawayAgent } from "@timebox/example-runaway-agent"
import { SupportAgent } from "@timebox/example-support-agent"
import type { Effect } from "effect"
import type { LedgerFailed, RunFailed, UsageError } from "./errors.ts"
import { runaway, type RunawayFlags } from "./runaway.ts"

/**
 * A bundled example: the name `timebox run` accepts, a one-line description
 * for `timebox list`, the agent, and optionally its profiles (`--profile`)
 * and the input a run gets without `--input`.
 *
 * **Example** (An entry of the list)
 *
 * ```ts
 * import { SupportAgent } from "@timebox/example-support-agent"
 * import type { Example } from "./examples.ts"
 *
 * const support: Example = {
 *   name: "support-agent",
 *   description: "customer support in 2 s",
 *   agent: SupportAgent.agent
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Example {
  readonly name: string
  readonly description: string
  /** The agent `timebox run <name>` runs without `--profile`. */
  readonly agent: Agent.Any
  /** Other architectures of the same agent, by name, for `--profile <name>`. */
  readonly profiles?: Readonly<Record<string, Agent.Any>> | undefined
  /** The input when `--input` is absent (default: the CLI's `defaultInput`). */
  readonly input?: string | undefined
  /**
   * A runner of its own, for an example that is more than one run
   * (`runaway-agent` runs two halves side by side): `timebox run <name>`
   * hands it the flags instead of running `agent`.
   */
  readonly runner?: ((flags: RunawayFlags) => Effect.Effect<void, UsageError | RunFailed | LedgerFailed>) | undefined
}

/**
 * Every bundled example, in the order `timebox list` prints them.
 *
 * **Example** (The names `timebox run` accepts)
 *
 * ```ts
 * import { examples } from "./examples.ts"
 *
 * const names = examples.map((example) => example.name) // ["support-agent", "research-agent", "runaway-agent"]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const examples: ReadonlyArray<Example> = [
  {
    name: "support-agent",
    description: "customer support in 2 s: auth, context (history, RAG, profile), inference, tools, assembly",
    agent: SupportAgent.agent
  },
  {
    name: "research-agent",
    description: "research in 12 s: two indexes, a reasoning model with three tools, a verifier; " +
      "faster profiles trade accuracy for time",
    agent: ResearchAgent.agent,
    profiles: ResearchAgent.agents,
    input: "Why do solid-state batteries lose capacity?"
  },
  {
    name: "runaway-agent",
    description: "a loop of model calls at $0.01 each: 30 s unguarded next to a $1.00 ledger budget that stops it " +
      "after exactly 100 calls (--unguarded-for, --backend memory | redis)",
    agent: RunawayAgent.agent,
    input: RunawayAgent.input,
    runner: runaway
  }
]

/**
 * The example named `name`, if there is one.
 *
 * **Example** (Running a bundled example by name)
 *
 * ```ts
 * import { Agent } from "@timebox/core"
 * import { find } from "./examples.ts"
 *
 * const example = find("support-agent")
 * const run = example === undefined ? undefined : Agent.run(example.agent, "Where is my order?")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const find = (name: string): Example | undefined => examples.find((example) => example.name === name)
