/**
 * The memory store's table of idempotency keys: an exact map from key to
 * value, in first-use order, built for a key that is new almost every time.
 *
 * Most keys a store sees are fresh, so most lookups miss, in a table of
 * hundreds of thousands of keys (24 hours of them). A `Map` answers a miss by
 * walking a bucket's chain, reading each candidate entry and key string from
 * wherever they live on the heap. Here the slots are one `Int32Array` of
 * (hash, entry) pairs probed linearly, so a miss usually reads one cache
 * line and no string; a key string is compared (exactly, by value) only when
 * its full 32-bit hash matches. Entries are kept in first-use order in two
 * arrays, which is the order `forget` walks to drop expired keys.
 *
 * @internal
 */

/** The table. */
export interface Table<V> {
  /** Per slot: the hash, then the entry number plus one (0 empty, -1 a deleted entry's slot). */
  slots: Int32Array
  mask: number
  /** Slots holding an entry or a deletion mark. */
  used: number
  /** The entries in first-use order (`undefined` once deleted). */
  keys: Array<string | undefined>
  values: Array<V | undefined>
  /** Entries before `first` are all deleted. */
  first: number
  /** Entries not deleted. */
  size: number
  /** The last key hashed and its hash (a new key is looked up, then set). */
  lastKey: string
  lastHash: number
}

const initialSlots = 1_024

/** A 32-bit hash of `key` (FNV-1a over its UTF-16 code units, then mixed). */
const hashOf = (key: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193)
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  return hash | 0
}

/** An empty table. */
export const make = <V>(): Table<V> => ({
  slots: new Int32Array(2 * initialSlots),
  mask: initialSlots - 1,
  used: 0,
  keys: [],
  values: [],
  first: 0,
  size: 0,
  lastKey: "",
  lastHash: hashOf("")
})

/** The hash of `key`, remembered until the next key is hashed. */
const hashIn = <V>(table: Table<V>, key: string): number => {
  if (key === table.lastKey) return table.lastHash
  const hash = hashOf(key)
  table.lastKey = key
  table.lastHash = hash
  return hash
}

/** The entry number of `key` (whose hash is `hash`), or -1. */
const find = <V>(table: Table<V>, key: string, hash: number): number => {
  const { keys, mask, slots } = table
  let slot = hash & mask
  for (;;) {
    const entry = slots[2 * slot + 1]!
    if (entry === 0) return -1
    if (entry > 0 && slots[2 * slot] === hash && keys[entry - 1] === key) return entry - 1
    slot = (slot + 1) & mask
  }
}

/** The value of `key`, or `undefined`. */
export const get = <V>(table: Table<V>, key: string): V | undefined => {
  const entry = find(table, key, hashIn(table, key))
  return entry < 0 ? undefined : table.values[entry]
}

/** Places entry `entry`, whose key's hash is `hash`, in the first free slot of its probe sequence. */
const place = (slots: Int32Array, mask: number, hash: number, entry: number): void => {
  let slot = hash & mask
  while (slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask
  slots[2 * slot] = hash
  slots[2 * slot + 1] = entry + 1
}

/**
 * Rebuilds the slots for the entries not deleted, with room for as many
 * again, and drops the deleted entries (keeping the order). Without deleted
 * entries past `first`, the hashes are taken from the old slots.
 */
const rebuild = <V>(table: Table<V>): void => {
  const { first } = table
  const compact = table.keys.length - first === table.size
  const keys: Array<string | undefined> = compact ? table.keys : []
  const values: Array<V | undefined> = compact ? table.values : []
  if (compact) {
    if (first > 0) {
      keys.splice(0, first)
      values.splice(0, first)
    }
  } else {
    for (let entry = first; entry < table.keys.length; entry++) {
      const key = table.keys[entry]
      if (key === undefined) continue
      keys.push(key)
      values.push(table.values[entry])
    }
  }
  let capacity = initialSlots
  while (capacity < 4 * (keys.length + 1)) capacity *= 2
  const slots = new Int32Array(2 * capacity)
  if (compact) {
    const old = table.slots
    for (let slot = 0; slot < old.length; slot += 2) {
      const entry = old[slot + 1]!
      if (entry > 0) place(slots, capacity - 1, old[slot]!, entry - 1 - first)
    }
  } else {
    for (let entry = 0; entry < keys.length; entry++) place(slots, capacity - 1, hashOf(keys[entry]!), entry)
  }
  table.slots = slots
  table.mask = capacity - 1
  table.used = keys.length
  table.keys = keys
  table.values = values
  table.first = 0
  table.size = keys.length
}

/** Sets `key` to `value`: a new key goes last, a known one keeps its place. */
export const set = <V>(table: Table<V>, key: string, value: V): void => {
  const hash = hashIn(table, key)
  const entry = find(table, key, hash)
  if (entry >= 0) {
    table.values[entry] = value
    return
  }
  if (2 * (table.used + 1) > table.mask + 1) rebuild(table)
  place(table.slots, table.mask, hash, table.keys.length)
  table.keys.push(key)
  table.values.push(value)
  table.used++
  table.size++
}

/** Deletes entry `entry` (not yet deleted). */
const remove = <V>(table: Table<V>, entry: number): void => {
  const { mask, slots } = table
  let slot = hashOf(table.keys[entry]!) & mask
  while (slots[2 * slot + 1] !== entry + 1) slot = (slot + 1) & mask
  slots[2 * slot + 1] = -1
  table.keys[entry] = undefined
  table.values[entry] = undefined
  table.size--
}

/**
 * Deletes the keys first used at or before `cutoff`, walking in first-use
 * order and stopping at the first one used after it; a key `keep` holds on
 * to stays.
 */
export const forget = <V>(
  table: Table<V>,
  cutoff: number,
  firstUsedAt: (value: V) => number,
  keep: (value: V) => boolean
): void => {
  let first = table.first
  let kept = false
  for (let entry = table.first; entry < table.keys.length; entry++) {
    if (table.keys[entry] === undefined) {
      if (!kept) first = entry + 1
      continue
    }
    const value = table.values[entry] as V
    if (firstUsedAt(value) > cutoff) break
    if (keep(value)) {
      kept = true
      continue
    }
    remove(table, entry)
    if (!kept) first = entry + 1
  }
  table.first = first
  if (table.keys.length - table.size > Math.max(table.size, initialSlots)) rebuild(table)
}
