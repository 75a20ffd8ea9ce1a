/**
 * The idempotency fingerprint of a decoded request: canonical JSON (keys
 * sorted, bigints as decimal strings), so that requests equal after decoding
 * (defaults applied, `5` and `"5"` alike) have the same fingerprint.
 *
 * @internal
 */

const write = (value: unknown, out: Array<string>): void => {
  if (typeof value === "bigint") {
    out.push(`"${value}"`)
  } else if (Array.isArray(value)) {
    out.push("[")
    value.forEach((item, index) => {
      if (index > 0) out.push(",")
      write(item, out)
    })
    out.push("]")
  } else if (value !== null && typeof value === "object") {
    out.push("{")
    let first = true
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key]
      if (item === undefined) continue
      if (!first) out.push(",")
      first = false
      out.push(JSON.stringify(key), ":")
      write(item, out)
    }
    out.push("}")
  } else {
    out.push(JSON.stringify(value) ?? "null")
  }
}

/** Canonical JSON of a decoded request. */
export const fingerprint = (value: unknown): string => {
  const out: Array<string> = []
  write(value, out)
  return out.join("")
}
