/**
 * The `timebox` command tree (`run`, `list`, `ledger`) on `effect/cli`, with
 * the exit codes of the CLI: 0 for a complete or partial run, 1 for a failed
 * one or a refused ledger operation (one line on stderr), 2 for bad input
 * (unknown agent, bad duration, bad flag) with a one-line error on stderr,
 * 130 for an interrupted run.
 *
 * @since 0.1.0
 */
import { Console, Effect, Logger, Runtime } from "effect"
import { CliError, CliOutput, Command } from "effect/cli"
import { ledger } from "./commands/ledger.ts"
import { list } from "./commands/list.ts"
import { run } from "./commands/run.ts"
import { UsageError } from "./errors.ts"

/**
 * The version `timebox --version` prints.
 *
 * **Example** (A banner)
 *
 * ```ts
 * import { Cli } from "@timebox/cli"
 *
 * const banner = `timebox ${Cli.version}` // "timebox 0.1.0"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const version = "0.1.0"

/**
 * The command tree.
 *
 * **When to use**
 *
 * To run the CLI on explicit arguments (a test, or a program that embeds
 * `timebox`); `Cli.main` reads them from the process.
 *
 * **Example** (Running `timebox list` from code)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Command } from "effect/cli"
 * import { Cli } from "@timebox/cli"
 *
 * const listExamples = Command.runWith(Cli.command, { version: Cli.version })(["list"]).pipe(
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const command = Command.make("timebox").pipe(
  Command.withDescription("Run AI agents that answer within a time budget, and see where the time went"),
  Command.withSubcommands([run, list, ledger])
)

const suggest = (suggestions: ReadonlyArray<string>): string =>
  suggestions.length === 0 ? "" : ` (did you mean ${suggestions.join(" or ")}?)`

/**
 * One line naming a parse error: the flag, argument or command and what is
 * wrong with it.
 *
 * **Example** (A missing flag)
 *
 * ```ts
 * import { CliError } from "effect/cli"
 * import { Cli } from "@timebox/cli"
 *
 * Cli.describe(new CliError.MissingOption({ option: "budget" })) // "missing --budget"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const describe = (error: CliError.CliError): string => {
  switch (error._tag) {
    case "UnrecognizedOption":
      return `unknown flag ${error.option}${error.command === undefined ? "" : ` for ${error.command.join(" ")}`}${
        suggest(error.suggestions)
      }`
    case "UnknownSubcommand":
      return `unknown command ${JSON.stringify(error.subcommand)}${suggest(error.suggestions)}`
    case "MissingArgument":
      return `missing <${error.argument}>`
    case "MissingOption":
      return `missing --${error.option}`
    case "InvalidValue":
      // a flag at the end, or followed by a value that starts with "-" (read as a flag)
      if (error.kind === "flag" && error.value === "") {
        return `--${error.option} needs a value (write --${error.option}=<value> for one that starts with "-")`
      }
      // a flag given more than once: effect/cli reports the count where the value would be
      if (error.kind === "flag" && /^\d+ occurrences$/.test(error.value)) {
        return `--${error.option} given ${error.value.split(" ")[0]} times: ${
          error.expected.replace(/^Expected:?\s*/, "expected ")
        }`
      }
      return `invalid ${error.kind === "flag" ? `--${error.option}` : `<${error.option}>`} ${
        JSON.stringify(error.value)
      }: ${error.expected.replace(/^Expected:?\s*/, "expected ")}`
    case "UnexpectedArgument":
      return `unexpected argument${error.arguments.length === 1 ? "" : "s"} ${
        error.arguments.map((argument) => JSON.stringify(argument)).join(" ")
      }`
    case "ShowHelp":
      return error.errors[0] === undefined ? "help requested" : describe(error.errors[0])
    default:
      return error.message.split("\n")[0] ?? error.message
  }
}

// Help and version go to stdout as usual; an invalid invocation (help plus
// errors) prints nothing here: `main` reports it on one stderr line.
const presenter: CliOutput.Presenter = {
  present: (event) => event._tag === "InvalidInvocation" ? Effect.void : CliOutput.defaultPresenter.present(event)
}

/**
 * Parses `process.argv` (through `Stdio`) and runs the command. Parse errors
 * become a `UsageError`; every `UsageError` is written to stderr as one line,
 * `timebox: <problem>`, and exits 2. A `LedgerFailed` is written the same
 * way and exits 1.
 *
 * **Details**
 *
 * Exit codes: 0 for a complete or partial run, 1 for a failed one (`RunFailed`)
 * or a refused ledger operation (`LedgerFailed`), 2 for bad input
 * (`UsageError`), 130 for an interrupted run. Set them with
 * `Cli.teardown`.
 *
 * **Example** (The `timebox` binary)
 *
 * ```ts
 * import { NodeRuntime, NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Cli } from "@timebox/cli"
 *
 * Cli.main.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain({ teardown: Cli.teardown }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const main = Command.run(command, { version }).pipe(
  Effect.provideService(CliOutput.Presenter, presenter),
  // stdout carries the results (tables, JSON); log lines go to stderr
  Effect.provideService(Logger.LogToStderr, true),
  Effect.catchIf(CliError.isCliError, (error) => {
    if (error._tag === "ShowHelp" && error.errors.length === 0) return Effect.void
    const hint = error._tag === "ShowHelp" ? `; see ${error.commandPath.join(" ")} --help` : ""
    return Effect.fail(new UsageError({ message: `${describe(error)}${hint}` }))
  }),
  Effect.tapError((error) =>
    error._tag === "UsageError" || error._tag === "LedgerFailed" || error._tag === "OutputNotJson"
      ? Console.error(`timebox: ${error.message}`)
      : Effect.void
  )
)

/**
 * The teardown of `NodeRuntime.runMain`: the exit code of `Runtime.defaultTeardown`
 * (0, the error's `errorExitCode`, 130 when interrupted), set as
 * `process.exitCode` so stdout drains before the process exits.
 *
 * **Example** (Another program that exits the way `timebox` does)
 *
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Cli } from "@timebox/cli"
 *
 * Effect.log("done").pipe(NodeRuntime.runMain({ teardown: Cli.teardown }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const teardown: Runtime.Teardown = (exit, _onExit) =>
  Runtime.defaultTeardown(exit, (code) => {
    process.exitCode = code
  })

/**
 * What the second interrupt prints before the process exits
 * (`exitOnSecondInterrupt`).
 *
 * **Example** (Recognising it in a wrapper's captured stderr)
 *
 * ```ts
 * import { Cli } from "@timebox/cli"
 *
 * const forced = (stderr: string) => stderr.includes(Cli.interruptedAgainMessage)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const interruptedAgainMessage = "timebox: interrupted again, exiting now without waiting for clean-up " +
  "(a model call's settlement may be lost: its reservation then holds until it expires)"

/**
 * Runs `self` with a second SIGINT or SIGTERM ending the process at once
 * (exit code 130), as command-line tools do: the first one interrupts
 * `self` (`NodeRuntime.runMain` does that), whose finalizers may then wait,
 * for instance `Ledger.layer` for the settlement of a model call under way,
 * up to `Ledger.DrainTimeout` when the store does not answer. The listener
 * is removed when `self` ends.
 *
 * **Example** (The `timebox` binary)
 *
 * ```ts
 * import { NodeRuntime, NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Cli } from "@timebox/cli"
 *
 * Cli.main.pipe(Cli.exitOnSecondInterrupt, Effect.provide(NodeServices.layer), NodeRuntime.runMain({ teardown: Cli.teardown }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const exitOnSecondInterrupt = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      let signals = 0
      const onSignal = () => {
        signals++
        if (signals < 2) return
        process.stderr.write(`${interruptedAgainMessage}\n`)
        process.exit(130)
      }
      process.on("SIGINT", onSignal)
      process.on("SIGTERM", onSignal)
      return onSignal
    }),
    () => self,
    (onSignal) =>
      Effect.sync(() => {
        process.removeListener("SIGINT", onSignal)
        process.removeListener("SIGTERM", onSignal)
      })
  )
