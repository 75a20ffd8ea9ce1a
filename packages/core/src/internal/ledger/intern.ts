/**
 * One shared copy of each subject and action the memory store's
 * reservations keep.
 *
 * A reservation is kept for 24 hours after it ends, and most reservations
 * name one of a few subjects and actions; each request brings its own
 * decoded copy of them. Keeping the first copy of each (frozen, since many
 * reservations then share it) and letting the later ones go saves two
 * objects per reservation that would otherwise survive every young
 * collection. Only what a key determines completely is shared: a subject
 * without dimensions (its own scope names all its levels) and an action
 * without tags (its kind and name).
 *
 * @internal
 */
import type { Action, Subject } from "./model.ts"

/** The shared copies. */
export interface Table {
  /** By the subject's own scope. */
  readonly subjects: Map<string, Subject>
  /** By kind, then name. */
  readonly actions: Map<string, Map<string, Action>>
}

/** How many subjects (and action kinds) are shared before the table starts afresh. */
const capacity = 4_096

/** An empty table. */
export const make = (): Table => ({ subjects: new Map(), actions: new Map() })

/** The shared copy of `subject`, whose own scope is `scope`, or `subject` itself when it has dimensions. */
export const subject = (table: Table, value: Subject, scope: string): Subject => {
  if (value.dimensions !== undefined) return value
  const shared = table.subjects.get(scope)
  if (shared !== undefined) return shared
  if (table.subjects.size >= capacity) table.subjects.clear()
  table.subjects.set(scope, Object.freeze(value))
  return value
}

/** The shared copy of `action`, or `action` itself when it has tags. */
export const action = (table: Table, value: Action): Action => {
  if (value.tags !== undefined) return value
  let names = table.actions.get(value.kind)
  const shared = names?.get(value.name)
  if (shared !== undefined) return shared
  if (names === undefined) {
    if (table.actions.size >= capacity) table.actions.clear()
    names = new Map()
    table.actions.set(value.kind, names)
  } else if (names.size >= capacity) {
    names.clear()
  }
  names.set(value.name, Object.freeze(value))
  return value
}
