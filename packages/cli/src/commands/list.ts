/**
 * `timebox list`: names the bundled example agents, one line each.
 *
 * @since 0.1.0
 */
import { Console, Effect } from "effect"
import { Command, TerminalCapabilities } from "effect/cli"
import * as Examples from "../examples.ts"
import * as Render from "../render.ts"

/**
 * `timebox list`.
 *
 * **Example** (A command tree with `list` only)
 *
 * ```ts
 * import { Command } from "effect/cli"
 * import { list } from "./list.ts"
 *
 * const timebox = Command.make("timebox").pipe(Command.withSubcommands([list]))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const list = Command.make(
  "list",
  {},
  Effect.fn("timebox list")(function*() {
    const { canColor } = yield* TerminalCapabilities.TerminalCapabilities
    yield* Console.log(Render.list(Examples.examples, { colors: canColor }).join("\n"))
  })
).pipe(Command.withDescription("Name the bundled example agents, one line each"))
