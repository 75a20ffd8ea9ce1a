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
 * The exit codes of `timebox`.
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
