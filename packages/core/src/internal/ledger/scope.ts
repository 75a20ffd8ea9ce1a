/**
 * Scopes: the canonical identifiers derived from a subject. The levels are
 * `tenant → workspace → app → workflow → agent → toolset`; a subject's derived
 * scopes are the cumulative paths of the levels it names (`tenant:acme`,
 * `tenant:acme/app:support`, …), absent levels skipped, not filled.
 *
 * @internal
 */

/** The subject levels, in canonical order. */
export const levels = ["tenant", "workspace", "app", "workflow", "agent", "toolset"] as const

/** One subject level. */
export type Level = typeof levels[number]

/** The standard fields of a subject. */
export type Levels = { readonly [L in Level]?: string | undefined }

/** The characters a level value may use (Cycles' portable charset). */
export const levelPattern = /^[a-zA-Z0-9_.-]+$/

/** The derived scopes of a subject, shortest first; empty when it names no level. */
export const derive = (subject: Levels): Array<string> => {
  const scopes: Array<string> = []
  let path = ""
  for (const level of levels) {
    const value = subject[level]
    if (value === undefined) continue
    path = path === "" ? `${level}:${value}` : `${path}/${level}:${value}`
    scopes.push(path)
  }
  return scopes
}

/**
 * What `deriveShared` has derived: a tree with one level per subject level,
 * each node keyed by the level's index then its value, holding the scopes of
 * the subject that ends there.
 */
interface Node {
  scopes: ReadonlyArray<string> | undefined
  readonly next: Array<Map<string, Node> | undefined>
}

const node = (): Node => ({ scopes: undefined, next: [] })

let root = node()

/** How many subjects `deriveShared` remembers before it starts afresh. */
const sharedCapacity = 4_096

let sharedCount = 0

/**
 * `derive` for the hot path: the same scopes, as one frozen array per subject
 * shared by every call that names it, so that stores key their maps with
 * strings whose hashes are already computed, and a reservation holds no copy
 * of its scopes. Finding it walks a tree by the subject's level values, so a
 * call builds no string. Subjects must be decoded (level values without `/`
 * or `:`).
 */
export const deriveShared = (subject: Levels): ReadonlyArray<string> => {
  let at = root
  for (let i = 0; i < levels.length; i++) {
    const value = subject[levels[i]!]
    if (value === undefined) continue
    let children = at.next[i]
    if (children === undefined) {
      children = new Map()
      at.next[i] = children
    }
    let child = children.get(value)
    if (child === undefined) {
      child = node()
      children.set(value, child)
    }
    at = child
  }
  if (at.scopes === undefined) {
    if (sharedCount >= sharedCapacity) {
      root = node()
      sharedCount = 0
      return deriveShared(subject)
    }
    sharedCount++
    at.scopes = Object.freeze(derive(subject))
  }
  return at.scopes
}

/** The subject a canonical scope path names, or an explanation of why it is not one. */
export const parse = (path: string): { readonly subject: Record<string, string> } | { readonly problem: string } => {
  if (path === "") return { problem: "a scope path names at least one level" }
  const subject: Record<string, string> = {}
  let last = -1
  for (const segment of path.split("/")) {
    const colon = segment.indexOf(":")
    const level = colon < 0 ? segment : segment.slice(0, colon)
    const value = colon < 0 ? "" : segment.slice(colon + 1)
    const index = levels.indexOf(level as Level)
    if (index < 0) return { problem: `unknown level "${level}" (levels: ${levels.join(", ")})` }
    if (subject[level] !== undefined) return { problem: `"${level}" appears twice` }
    if (index <= last) return { problem: `"${level}" is out of order (order: ${levels.join(" → ")})` }
    if (!levelPattern.test(value) || value.length > 128) {
      return { problem: `"${level}" needs a value of 1 to 128 characters from [a-zA-Z0-9_.-]` }
    }
    last = index
    subject[level] = value
  }
  return { subject }
}

/** Whether `scope` lies strictly below `ancestor` (`tenant:a/app:b` is below `tenant:a`). */
export const isBelow = (scope: string, ancestor: string): boolean =>
  scope.length > ancestor.length && scope.startsWith(ancestor) && scope.charCodeAt(ancestor.length) === 47
