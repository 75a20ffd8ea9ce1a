/**
 * The errors of the `timebox` command. Each carries the process exit code it
 * stands for, and says it has already been reported, so the runtime neither
 * logs it nor prints a stack: the CLI writes one line to stderr itself.
 *
 * @since 0.1.0
 */
import { Runtime, Schema } from "effect"

/**
 * Bad input: an unknown agent, a bad duration, flag or argument, a module
 * that does not export an agent. Exit code 2.
 *
 * **Example** (Rejecting a missing argument)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { UsageError } from "./errors.ts"
 *
 * const agentName = (spec: string | undefined): Effect.Effect<string, UsageError> =>
 *   spec === undefined ? Effect.fail(new UsageError({ message: "missing <agent>" })) : Effect.succeed(spec)
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 2
  override readonly [Runtime.errorReported] = false
}

/**
 * A run that ended `failed`; its report was already printed. Exit code 1.
 *
 * **Example** (Ending the process with 1 after a failed run)
 *
 * ```ts
 * import { Effect } from "effect"
 * import type { Report } from "@timebox/core"
 * import { RunFailed } from "./errors.ts"
 *
 * const exitOnFailure = (result: Report.RunResult<unknown>): Effect.Effect<void, RunFailed> =>
 *   result.status === "failed"
 *     ? Effect.fail(new RunFailed({ agent: result.report.agent, reason: result.reason }))
 *     : Effect.void
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  agent: Schema.String,
  reason: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
  override get message(): string {
    return `${this.agent} failed: ${this.reason}`
  }
}

/**
 * A ledger operation the ledger refused or could not carry out (an existing
 * budget, a missing one, a debit below zero, a Redis that cannot be
 * reached); `message` is the ledger's, with its reason and numbers. Exit
 * code 1.
 *
 * **Example** (Reporting a refused ledger call)
 *
 * ```ts
 * import { Effect } from "effect"
 * import type { Ledger } from "@timebox/core"
 * import { LedgerFailed } from "./errors.ts"
 *
 * const refused = (error: Ledger.LedgerError) => Effect.fail(new LedgerFailed({ message: error.message }))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class LedgerFailed extends Schema.TaggedError<LedgerFailed>()("LedgerFailed", {
  message: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
}

/**
 * An agent whose output `--json` cannot print: not a JSON value (a `bigint`,
 * a function, a cycle). The run's report is not printed. Exit code 1.
 *
 * **Example** (Refusing an output that is not JSON)
 *
 * ```ts
 * import { OutputNotJson } from "./errors.ts"
 *
 * const error = new OutputNotJson({ agent: "counter", detail: "Expected JSON value at [\"output\"][\"n\"]" })
 * // error.message: "counter: its output is not JSON, so --json cannot print the run: Expected JSON value …"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class OutputNotJson extends Schema.TaggedError<OutputNotJson>()("OutputNotJson", {
  agent: Schema.String,
  detail: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
  override get message(): string {
    return `${this.agent}: its output is not JSON, so --json cannot print the run: ${this.detail}`
  }
}

/**
 * The exit codes of `timebox`.
 *
 * **Example** (The exit code of a run's status)
 *
 * ```ts
 * import type { Report } from "@timebox/core"
 * import { ExitCode } from "./errors.ts"
 *
 * const exitCodeOf = (status: Report.RunStatus): number =>
 *   status === "failed" ? ExitCode.failed : status === "interrupted" ? ExitCode.interrupted : ExitCode.ok
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  interrupted: 130
} as const
