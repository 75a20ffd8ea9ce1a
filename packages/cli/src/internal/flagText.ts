/**
 * Flag codecs: from the text of a command-line flag to a value, with the
 * problem as the Schema issue's message (what the CLI prints after
 * `invalid --<flag> "<text>":`).
 *
 * @internal
 */
import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"

/**
 * A codec from flag text to `to`: `parse` returns `{ value }`, or the
 * problem as a string; `format` writes a value back as flag text.
 *
 * @internal
 */
export const fromText = <A>(
  to: Schema.Codec<A>,
  parse: (text: string) => { readonly value: A } | string,
  format: (value: A) => string
): Schema.Codec<A, string> =>
  Schema.String.pipe(
    Schema.decodeTo(
      to,
      SchemaTransformation.transformEffect({
        decode: (text: string) => {
          const parsed = parse(text)
          return typeof parsed === "string"
            ? Effect.fail(new SchemaIssue.InvalidValue({ message: parsed }, text))
            : Effect.succeed(parsed.value)
        },
        encode: (value: A) => Effect.succeed(format(value))
      })
    )
  )
