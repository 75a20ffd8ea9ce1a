/**
 * The memory store's table of idempotency keys: an exact map from key to
 * value, in first-use order, built for a key that is new almost every time.
 *
 * Most keys a store sees are fresh, so most lookups miss, in a table of
 * hundreds of thousands of keys (24 hours of them), and a miss costs what it
 * takes to read the table at a random place: the smaller the table, the more
 * of it stays in the processor's caches. Here a slot is one 32-bit integer
 * in an `Int32Array` probed linearly: the entry number plus one in its low
 * bits, and in the bits above them the same bits of the key's hash (a tag).
 * A miss usually reads one slot and no string; a key string is compared
 * (exactly, by value) only when its tag matches. The slots are kept at most
 * half full, so the entry numbers always fit below the tag. Entries are kept
 * in first-use order (keys and values in `Chunked` lists, hashes in an
 * `Int32Array`), which is the order `forget` walks to drop expired keys;
 * growing the table takes the hashes from there instead of hashing the keys
 * again.
 *
 * @internal
 */
import * as Chunked from "./chunked.ts"

/** The table. */
export interface Table<V> {
  /**
   * Per slot: 0 empty, -1 a deleted entry's slot, else the entry number plus
   * one (below `capacity`) with the hash's bits from `capacity` up to bit 30.
   */
  slots: Int32Array
  /** capacity − 1 (the capacity is a power of two). */
  mask: number
  /** The bits of a slot (and of a hash) above `mask`, without the sign bit. */
  tagMask: number
  /** Slots holding an entry or a deletion mark (also: entries, deleted or not, since the last rebuild). */
  used: number
  /** The entries in first-use order (`undefined` once deleted). */
  keys: Chunked.Chunked<string>
  values: Chunked.Chunked<V>
  /** Each entry's hash. */
  hashes: Int32Array
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

const tagMaskOf = (capacity: number): number => 0x7fffffff & ~(capacity - 1)

/**
 * The slots of a table that never held a key: one empty slot, shared (never
 * written: the first `set` rebuilds the table, since it is full).
 */
const noSlots = new Int32Array(1)

/**
 * An empty table. It takes no memory for slots until its first key (most
 * of a tenant's tables never get one).
 */
export const make = <V>(): Table<V> => ({
  slots: noSlots,
  mask: 0,
  tagMask: tagMaskOf(1),
  used: 0,
  keys: Chunked.make(),
  values: Chunked.make(),
  hashes: new Int32Array(0),
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
  const { keys, mask, slots, tagMask } = table
  const tag = hash & tagMask
  let slot = hash & mask
  for (;;) {
    const value = slots[slot]!
    if (value === 0) return -1
    if (value > 0 && (value & tagMask) === tag) {
      const entry = (value & mask) - 1
      if (Chunked.get(keys, entry) === key) return entry
    }
    slot = (slot + 1) & mask
  }
}

/** The value of `key`, or `undefined`. */
export const get = <V>(table: Table<V>, key: string): V | undefined => {
  const entry = find(table, key, hashIn(table, key))
  return entry < 0 ? undefined : Chunked.get(table.values, entry)
}

/** Places entry `entry`, whose key's hash is `hash`, in the first free slot of its probe sequence. */
const place = (slots: Int32Array, mask: number, tagMask: number, hash: number, entry: number): void => {
  let slot = hash & mask
  while (slots[slot] !== 0) slot = (slot + 1) & mask
  slots[slot] = (hash & tagMask) | (entry + 1)
}

/**
 * Rebuilds the slots for the entries not deleted, with room for as many
 * again, and drops the deleted entries (keeping the order). The old slots
 * are walked in order, so the new ones are written nearly in order too.
 */
const rebuild = <V>(table: Table<V>): void => {
  const { first, hashes, keys: oldKeys, mask: oldMask, slots: oldSlots, values: oldValues } = table
  const count = oldKeys.length
  // each old entry's new number: entry − first when none after `first` was deleted
  const moved = count - first === table.size ? undefined : new Int32Array(count)
  const keys = Chunked.make<string>()
  const values = Chunked.make<V>()
  for (let entry = first; entry < count; entry++) {
    const key = Chunked.get(oldKeys, entry)
    if (key === undefined) continue
    if (moved !== undefined) moved[entry] = keys.length
    Chunked.push(keys, key)
    Chunked.push(values, Chunked.get(oldValues, entry) as V)
  }
  let capacity = initialSlots
  while (capacity < 4 * (keys.length + 1)) capacity *= 2
  const slots = new Int32Array(capacity)
  const mask = capacity - 1
  const tagMask = tagMaskOf(capacity)
  const newHashes = new Int32Array(capacity / 2)
  for (let slot = 0; slot < oldSlots.length; slot++) {
    const value = oldSlots[slot]!
    if (value <= 0) continue
    const entry = (value & oldMask) - 1
    const to = moved === undefined ? entry - first : moved[entry]!
    const hash = hashes[entry]!
    newHashes[to] = hash
    place(slots, mask, tagMask, hash, to)
  }
  table.slots = slots
  table.mask = mask
  table.tagMask = tagMask
  table.hashes = newHashes
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
    Chunked.set(table.values, entry, value)
    return
  }
  if (2 * (table.used + 1) > table.mask + 1) rebuild(table)
  const added = table.keys.length
  place(table.slots, table.mask, table.tagMask, hash, added)
  table.hashes[added] = hash
  Chunked.push(table.keys, key)
  Chunked.push(table.values, value)
  table.used++
  table.size++
}

/** Deletes entry `entry` (not yet deleted). */
const remove = <V>(table: Table<V>, entry: number): void => {
  const { mask, slots } = table
  let slot = table.hashes[entry]! & mask
  for (;;) {
    const value = slots[slot]!
    if (value > 0 && (value & mask) === entry + 1) break
    slot = (slot + 1) & mask
  }
  slots[slot] = -1
  Chunked.set(table.keys, entry, undefined)
  Chunked.set(table.values, entry, undefined)
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
    if (Chunked.get(table.keys, entry) === undefined) {
      if (!kept) first = entry + 1
      continue
    }
    const value = Chunked.get(table.values, entry) as V
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
