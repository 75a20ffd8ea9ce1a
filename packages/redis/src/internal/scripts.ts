/**
 * One Lua script per ledger operation. Each is the prelude plus the body of
 * the memory store's function of the same name (`@timebox/core`,
 * `internal/ledger/*`): check everything first and answer a failure without
 * writing, or apply all of it and answer. Redis runs a script atomically, so
 * each operation is one atomic step, as in memory.
 *
 * Every script takes `KEYS[1]` = the tenant's key prefix and string
 * arguments; it answers `{ "ok" | "err", json }` (see `prelude.ts`). How
 * its text is put together: `assemble.ts`.
 *
 * @internal
 */
import * as Redis from "effect/persistence/Redis"
import { lazyPrelude, preludeFor } from "./assemble.ts"

const script = (body: string, options: { readonly lazy?: boolean } = {}) =>
  Redis.script((prefix: string, args: ReadonlyArray<string>) => [prefix, ...args], {
    numberOfKeys: 1,
    lua: options.lazy === true ? lazyPrelude(body) : preludeFor(body)
  }).withReturnType<unknown>()

/** A ledger script: `(tenantPrefix, args)` to the raw reply. @internal */
export type LedgerScript = ReturnType<typeof script>

/**
 * reserve, batched (see `hot.ts`). Per operation: idempotencyKey,
 * fingerprint, unit, estimate, now, expiresAtMs, graceMs, overagePolicy,
 * dryRun, subject JSON ("" when the subject is only its levels), action
 * JSON, metadata JSON ("" = none), expiresAtMs + graceMs (its score in
 * the sweeper's index), then the scopes. A reservation keeps its
 * scope path, whose prefixes and segments are its affected scopes and
 * subject levels, and a mask of the prefixes it holds money in, all it
 * never changes in one field (`terms`, see `reservation_terms`), so that its
 * hash stays small (listpack: four fields to write, and the idempotency
 * key, the subject and the metadata when there are). Answers
 * `decision, reasonCode, reservationId, expiresAtMs, snapshots…` ("" for
 * what does not apply).
 *
 * @internal
 */
export const reserve = script(
  `
local function reserve_one(a, count)
  local key, fingerprint, unit, now = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 4]
  local replay = hot_recall("reserve", key, fingerprint)
  if replay then return replay end
  local estimate = amt_parse(ARGV[a + 3])
  local dry = ARGV[a + 8] == "1"
  local leaf = ""
  if count > 13 then leaf = ARGV[a + count - 1] end
  local budgets, failure = hot_scoped(a + 13, a + count - 1, unit)
  if not budgets then
    if dry and deny_reason(failure) == "budget-not-found" then
      return hot_remember("reserve", key, fingerprint, "deny" .. TAB .. "budget-not-found" .. TAB .. TAB, now)
    end
    return failure
  end
  failure = hot_check(budgets, estimate)
  if dry then
    local head = "allow" .. TAB .. TAB .. TAB
    if failure then head = "deny" .. TAB .. deny_reason(failure) .. TAB .. TAB end
    return hot_remember("reserve", key, fingerprint, hot_snapshots(head .. TAB, budgets), now)
  end
  if failure then return failure end
  local seq = hot_next_sequence_s()
  local id = "rsv_" .. TENANT .. "_" .. seq
  local expires, grace = ARGV[a + 5], ARGV[a + 6]
  local name = reservation_key(id)
  -- the terms (TERMS in the prelude) in one field
  local terms = unit .. TAB .. ARGV[a + 3] .. TAB .. now .. TAB .. grace .. TAB .. ARGV[a + 7] .. TAB .. leaf .. TAB
    .. budgets.mask .. TAB .. ARGV[a + 10]
  if key ~= "" then
    redis.call("HSET", name, "terms", terms, "status", "active", "expiresAtMs", expires, "extensions", "0",
      "idempotencyKey", key)
  else
    redis.call("HSET", name, "terms", terms, "status", "active", "expiresAtMs", expires, "extensions", "0")
  end
  if ARGV[a + 9] ~= "" then redis.call("HSET", name, "subject", ARGV[a + 9]) end
  if ARGV[a + 11] ~= "" then redis.call("HSET", name, "metadata", ARGV[a + 11]) end
  hot_push(HOT_RESERVATIONS, seq, id)
  hot_push(HOT_EXPIRIES, ARGV[a + 12], id)
  hot_add(budgets, "reserved", "reserved_s", estimate, type(estimate) == "number")
  local answer = hot_snapshots("allow" .. TAB .. TAB .. id .. TAB .. expires .. TAB, budgets)
  return hot_remember("reserve", key, fingerprint, answer, now)
end
return hot_batch("reserve", reserve_one)
`,
  { lazy: true }
)

/**
 * commit, batched. Per operation: idempotencyKey, fingerprint,
 * reservationId, foreign ("1" when the id names another tenant), unit,
 * actual, now. Answers `charged, released, snapshots…`.
 *
 * @internal
 */
export const commit = script(
  `
local function commit_one(a)
  local key, fingerprint, id, foreign, unit, now_s = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 6]
  local replay = hot_recall("commit", key, fingerprint)
  if replay then return replay end
  local r, failure = hot_settleable(id, foreign, tonumber(now_s), true)
  if not r then return failure end
  if unit ~= r.unit then return unit_mismatch(r.scopePath, unit, { r.unit }) end
  local actual = amt_parse(ARGV[a + 5])
  local estimate = r.estimate
  local small = type(actual) == "number" and type(estimate) == "number"
  local delta
  if small then delta = actual - estimate else delta = amt_sub(actual, estimate) end
  local budgets = hot_reservation_budgets(r)
  local missing = hot_missing_budget(r, budgets)
  if missing then return missing end
  local charge = nil
  local charged = actual
  if (small and delta > 0) or (not small and amt_cmp(delta, 0) > 0) then
    if r.overagePolicy == "REJECT" then
      return budget_exceeded(r.scopePath, r.unit, amt_pair(actual), amt_pair(estimate), r.id)
    end
    local over
    charge, over = hot_plan(budgets, delta, r.overagePolicy, ARGV[a + 5])
    if not charge then return over end
    charged = amt_add(estimate, charge.charged)
  end
  local charged_s
  if charged == actual then charged_s = ARGV[a + 5] else charged_s = amt_str(charged) end
  hot_finish(id, "committed", now_s, charged_s)
  hot_add(budgets, "reserved", "reserved_s", amt_neg(estimate), small)
  if charge then
    hot_apply(budgets, estimate, charge)
  else
    hot_add(budgets, "spent", "spent_s", actual, small)
  end
  local released = "0"
  if small then
    if delta < 0 then released = string.format("%d", -delta) end
  elseif amt_cmp(delta, 0) < 0 then
    released = amt_str(amt_neg(delta))
  end
  return hot_remember("commit", key, fingerprint, hot_snapshots(charged_s .. TAB .. released .. TAB, budgets), now_s)
end
return hot_batch("commit", commit_one)
`,
  { lazy: true }
)

/**
 * release, batched. Per operation: idempotencyKey, fingerprint,
 * reservationId, foreign, now. Answers `released, unit, snapshots…`.
 *
 * @internal
 */
export const release = script(
  `
local function release_one(a)
  local key, fingerprint, id, foreign, now_s = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local replay = hot_recall("release", key, fingerprint)
  if replay then return replay end
  local r, failure = hot_settleable(id, foreign, tonumber(now_s), true)
  if not r then return failure end
  local budgets = hot_reservation_budgets(r)
  local missing = hot_missing_budget(r, budgets)
  if missing then return missing end
  hot_finish(id, "released", now_s, nil)
  hot_add(budgets, "reserved", "reserved_s", amt_neg(r.estimate), type(r.estimate) == "number")
  local answer = hot_snapshots(r.estimate_s .. TAB .. r.unit .. TAB, budgets)
  return hot_remember("release", key, fingerprint, answer, now_s)
end
return hot_batch("release", release_one)
`,
  { lazy: true }
)

/**
 * extend, batched. Per operation: idempotencyKey, fingerprint,
 * reservationId, foreign, extendByMs, now. Answers `expiresAtMs,
 * extensions, unit, snapshots…`.
 *
 * @internal
 */
export const extend = script(
  `
local function extend_one(a)
  local key, fingerprint, id, foreign, now_s = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 5]
  local replay = hot_recall("extend", key, fingerprint)
  if replay then return replay end
  local r, failure = hot_settleable(id, foreign, tonumber(now_s), false)
  if not r then return failure end
  local extensions_now = tonumber(r.extensions)
  if extensions_now >= MAX_EXTENSIONS then
    return fail("MaxExtensionsExceeded", { '"reservationId":' .. js(id), '"extensions":' .. num(extensions_now) })
  end
  local budgets = hot_reservation_budgets(r)
  local missing = hot_missing_budget(r, budgets)
  if missing then return missing end
  local expires = num(r.expiresAtMs + tonumber(ARGV[a + 4]))
  local extensions = num(extensions_now + 1)
  redis.call("HSET", reservation_key(id), "expiresAtMs", expires, "extensions", extensions)
  hot_push(HOT_EXPIRIES, tonumber(expires) + r.graceMs, id)
  local answer = hot_snapshots(expires .. TAB .. extensions .. TAB .. r.unit .. TAB, budgets)
  return hot_remember("extend", key, fingerprint, answer, now_s)
end
return hot_batch("extend", extend_one)
`,
  { lazy: true }
)

/**
 * decide, batched. Per operation: idempotencyKey, fingerprint, unit,
 * estimate, now, then the scopes. Answers `decision, reasonCode`.
 *
 * @internal
 */
export const decide = script(
  `
local function decide_one(a, count)
  local key, fingerprint, unit, now = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 4]
  local replay = hot_recall("decide", key, fingerprint)
  if replay then return replay end
  local estimate = amt_parse(ARGV[a + 3])
  local budgets, failure = hot_scoped(a + 5, a + count - 1, unit)
  if not budgets and deny_reason(failure) ~= "budget-not-found" then return failure end
  if budgets then failure = hot_check(budgets, estimate) end
  local answer = "allow" .. TAB
  if failure then answer = "deny" .. TAB .. deny_reason(failure) end
  return hot_remember("decide", key, fingerprint, answer, now)
end
return hot_batch("decide", decide_one)
`,
  { lazy: true }
)

/**
 * event, batched. Per operation: idempotencyKey, fingerprint, unit, actual,
 * overagePolicy, now, then the scopes. Answers `eventId, charged,
 * snapshots…`.
 *
 * @internal
 */
export const event = script(`
local function event_one(a, count)
  local key, fingerprint, unit, policy, now = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 4], ARGV[a + 5]
  local replay = hot_recall("event", key, fingerprint)
  if replay then return replay end
  local actual = amt_parse(ARGV[a + 3])
  local budgets, failure = hot_scoped(a + 6, a + count - 1, unit)
  if not budgets then return failure end
  for _, b in ipairs(budgets) do
    if b.status == "frozen" then return budget_frozen(b.scope, b.unit) end
    if b.status == "closed" then return budget_closed(b.scope, b.unit) end
  end
  local charge = nil
  local charged = actual
  if policy == "REJECT" then
    for _, b in ipairs(budgets) do
      local left = hot_remaining(b)
      if amt_cmp(left, actual) < 0 then return budget_exceeded(b.scope, b.unit, amt_pair(actual), amt_pair(left), nil) end
    end
  elseif amt_cmp(actual, 0) > 0 then
    local over
    charge, over = hot_plan(budgets, actual, policy, ARGV[a + 3])
    if not charge then return over end
    charged = charge.charged
  end
  local event_id = "evt_" .. TENANT .. "_" .. hot_next_sequence_s()
  if charge then
    hot_apply(budgets, 0, charge)
  else
    hot_add(budgets, "spent", "spent_s", actual, type(actual) == "number")
  end
  local answer = hot_snapshots(event_id .. TAB .. amt_str(charged) .. TAB, budgets)
  return hot_remember("event", key, fingerprint, answer, now)
end
return hot_batch("event", event_one)
`)

/**
 * balances. ARGV: unit filter ("" = every unit), includeChildren, limit,
 * cursor (the index member after which to start, "" = from the start), then
 * the scopes. The index `budgets` holds `<scope> <unit index>` at score 0, so
 * its lexical order is scope path then unit, the order answers use.
 *
 * @internal
 */
export const balances = script(`
local unit, children, limit, cursor = ARGV[1], ARGV[2] == "1", tonumber(ARGV[3]), ARGV[4]
local wanted = {}
local leaf = ""
for i = 5, #ARGV do
  wanted[ARGV[i]] = true
  leaf = ARGV[i]
end
local from = "-"
if cursor ~= "" then from = "(" .. cursor end
local members = redis.call("ZRANGEBYLEX", P .. "budgets", from, "+")
local found = {}
local more = false
for _, member in ipairs(members) do
  local space = string.find(member, " ", 1, true)
  local scope = string.sub(member, 1, space - 1)
  local budget_unit = UNITS[tonumber(string.sub(member, space + 1))]
  local below = children and #scope > #leaf and string.sub(scope, 1, #leaf) == leaf and string.byte(scope, #leaf + 1) == 47
  if (wanted[scope] or below) and (unit == "" or unit == budget_unit) then
    if #found == limit then
      more = true
      break
    end
    found[#found + 1] = budget_load(scope, budget_unit)
  end
end
local fields = { '"balances":' .. balances_json(found), '"hasMore":' .. bool(more) }
if more then
  local last = found[#found]
  field(fields, "nextCursor", js(last.scope .. "#" .. last.unit))
end
return ok(obj(fields))
`)

/**
 * getReservation. ARGV: now, tenant, reservationId, foreign.
 *
 * @internal
 */
export const getReservation = script(`
local now = tonumber(ARGV[1])
local tenant, id = ARGV[2], ARGV[3]
if ARGV[4] == "1" then return forbidden(tenant, "reservation " .. id) end
local r = reservation_load(id)
if not r then return reservation_not_found(id) end
if r.status == "expired" then
  return fail("ReservationExpired", {
    '"reservationId":' .. js(id), '"expiresAtMs":' .. num(r.expiresAtMs), '"graceMs":' .. num(r.graceMs),
    '"nowMs":' .. num(now)
  })
end
return ok(reservation_json(r))
`)

/**
 * listReservations. ARGV: after (the cursor: a sequence number), limit,
 * status filter, idempotencyKey filter, the six subject level filters, then
 * the dimensions filter as JSON ("" = no filter).
 *
 * @internal
 */
export const listReservations = script(`
local after, limit, status, key = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local dimensions = ARGV[11] ~= "" and cjson.decode(ARGV[11]) or nil
local page = {}
local more = false
local last = nil
local from = "(" .. after
while not more do
  local chunk = redis.call("ZRANGEBYSCORE", P .. "reservations", from, "+inf", "WITHSCORES", "LIMIT", 0, 200)
  if #chunk == 0 then break end
  for i = 1, #chunk, 2 do
    local id, seq = chunk[i], chunk[i + 1]
    from = "(" .. seq
    local r = reservation_load(id)
    local match = r ~= nil and (status == "" or r.status == status) and (key == "" or r.idempotencyKey == key)
    if match then
      for level = 1, 6 do
        local wanted = ARGV[4 + level]
        if wanted ~= "" and r["level:" .. LEVELS[level]] ~= wanted then match = false end
      end
    end
    if match and dimensions then
      -- every dimension asked for, with the same value (only a subject with dimensions is kept whole)
      local own = r.subject and cjson.decode(r.subject).dimensions
      for name, value in pairs(dimensions) do
        if type(own) ~= "table" or own[name] ~= value then match = false end
      end
    end
    if match then
      if #page == limit then
        more = true
        break
      end
      page[#page + 1] = reservation_json(r)
      last = seq
    end
  end
end
local fields = { '"reservations":' .. arr(page), '"hasMore":' .. bool(more) }
if more then field(fields, "nextCursor", js(last)) end
return ok(obj(fields))
`)

/**
 * sweep (one tenant). ARGV: now, limit, retention (ms, or "" to keep
 * everything). Expires, earliest due first (ties in creation order), up to
 * `limit` active reservations past `expiresAt + grace`, then (at most once a
 * minute) forgets idempotency records and finished reservations older than
 * the retention, at most 10,000 a call (the next sweep goes on with the rest).
 *
 * @internal
 */
export const sweep = script(`
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
-- At most \`limit\` reservations, earliest due first (the index's score is expiresAt + grace), ties in
-- creation order: a batch of \`limit\` from the index, plus any due at the same instant as its last,
-- so that a backlog of due reservations costs each sweep what it expires, not the whole backlog.
-- A limit of 0 (a sweep of all tenants that has expired its fill) only prunes.
local expired = {}
while #expired < limit do
  local want = limit - #expired
  local due = redis.call("ZRANGEBYSCORE", P .. "expiries", "-inf", "(" .. num(now), "WITHSCORES", "LIMIT", 0, want)
  if #due == 0 then break end
  if #due / 2 == want then
    due = redis.call("ZRANGEBYSCORE", P .. "expiries", "-inf", due[#due], "WITHSCORES")
  end
  local ordered = {}
  for i = 1, #due, 2 do
    local id = due[i]
    ordered[#ordered + 1] = { tonumber(due[i + 1]), tonumber(redis.call("ZSCORE", P .. "reservations", id)) or 0, id }
  end
  table.sort(ordered, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  for _, entry in ipairs(ordered) do
    if #expired >= limit then break end
    local r = reservation_load_settle(entry[3])
    if r and r.status == "active" then
      for _, b in ipairs(reservation_budgets(r)) do
        b.reserved = amount_sub(b.reserved, r.estimate)
        budget_save(b)
      end
      reservation_finish(r, "expired", now, false)
      expired[#expired + 1] = r.id
    end
    -- an entry whose reservation is no longer active is dropped from the index too
    redis.call("ZREM", P .. "expiries", entry[3])
  end
end
local retention = tonumber(ARGV[3])
local pruned = tonumber(redis.call("GET", P .. "pruned"))
if retention and (not pruned or now - pruned >= 60000) then
  local cutoff = now - retention
  -- at most 10,000 entries a call, so that a large backlog never holds Redis for long: a prune the
  -- budget cut short goes on at the next sweep instead of a minute later
  local budget, more = 10000, false
  -- finished reservations first: each takes its reserve key along
  budget, more = prune_log("ended", cutoff, function(id)
    local key = redis.call("HGET", reservation_key(id), "idempotencyKey")
    if key then redis.call("DEL", P .. "idem:reserve:" .. key) end
    redis.call("DEL", reservation_key(id))
    redis.call("ZREM", P .. "reservations", id)
  end, budget)
  local kept = {}
  if not more then budget, more = prune_log("idempotency", cutoff, function(member)
    -- a reserve answer is kept as long as its reservation (active, or ended within the retention),
    -- so a late replay never holds twice; the reservation's own pruning (above) forgot it
    if string.sub(member, 1, 8) == "reserve:" then
      local record = redis.call("GET", P .. "idem:" .. member)
      local id = record and string.match(record, "\\n[^\\t]*\\t[^\\t]*\\t([^\\t]+)")
      if id and redis.call("EXISTS", reservation_key(id)) == 1 then
        kept[#kept + 1] = num(now) .. " " .. member
        return
      end
    end
    redis.call("DEL", P .. "idem:" .. member)
  end, budget) end
  -- logged again once the log is pruned: with a retention of 0 they would fall within it again
  for i = 1, #kept, 1000 do
    redis.call("RPUSH", P .. "idempotency", unpack(kept, i, math.min(i + 999, #kept)))
  end
  if not more then redis.call("SET", P .. "pruned", num(now)) end
end
return ok(strings(expired))
`)

/**
 * createBudget. ARGV: scope, unit, allocated, overdraftLimit.
 *
 * @internal
 */
export const createBudget = script(`
local scope, unit = ARGV[1], ARGV[2]
if redis.call("EXISTS", budget_key(scope, unit)) == 1 then return fail("BudgetExists", scope_unit(scope, unit)) end
local b = {
  scope = scope, unit = unit, status = "active", allocated = amount_parse(ARGV[3]), spent = AMOUNT_ZERO,
  reserved = AMOUNT_ZERO, debt = AMOUNT_ZERO, overdraftLimit = amount_parse(ARGV[4]), isOverLimit = false,
  order = num(next_sequence())
}
budget_save(b)
redis.call("ZADD", P .. "budgets", 0, budget_member(scope, unit))
return ok(obj({ '"balances":' .. balances_json({ b }) }))
`)

/**
 * fundBudget. ARGV: now, idempotencyKey, fingerprint, scope, unit,
 * operation, amount.
 *
 * @internal
 */
export const fundBudget = script(`
local now = tonumber(ARGV[1])
local key, fingerprint, scope, unit, operation = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local replay = recall("fund", key, fingerprint)
if replay then return replay end
local b = budget_load(scope, unit)
if not b then return budget_not_found(scope, unit) end
if b.status == "closed" then return budget_closed(scope, unit) end
if b.status == "frozen" then return budget_frozen(scope, unit) end
local amount = amount_parse(ARGV[7])
local previous = balance_json(b)
local left = remaining(b)
local allocated, debt = b.allocated, b.debt
if operation == "credit" then
  allocated = amount_add(allocated, amount)
elseif operation == "debit" then
  if amount_cmp(left, amount) < 0 then return budget_exceeded(scope, unit, amount, left, nil) end
  allocated = amount_sub(allocated, amount)
elseif operation == "reset" then
  allocated = amount
else
  local repaid = amount_min(amount, debt)
  debt = amount_sub(debt, repaid)
  allocated = amount_add(allocated, amount_sub(amount, repaid))
end
if amount_cmp(allocated, AMOUNT_MAX) > 0 then
  return invalid("amount", amount_string(amount), "allocated would be " .. amount_string(allocated) .. ", above 2^63-1")
end
if not amount_fits(amount_sub(amount_sub(amount_sub(allocated, b.spent), b.reserved), debt)) then
  return invalid("amount", amount_string(amount), "remaining would fall below -2^63")
end
b.allocated = allocated
b.debt = debt
b.isOverLimit = amount_cmp(debt, b.overdraftLimit) > 0
budget_save(b)
local answer = obj({ '"operation":' .. js(operation), '"previous":' .. previous, '"balances":' .. balances_json({ b }) })
return remember("fund", key, fingerprint, answer, now)
`)

/**
 * setBudgetStatus. ARGV: scope, unit, status (frozen, active or closed).
 *
 * @internal
 */
export const setBudgetStatus = script(`
local scope, unit, status = ARGV[1], ARGV[2], ARGV[3]
local b = budget_load(scope, unit)
if not b then return budget_not_found(scope, unit) end
if b.status == "closed" then return budget_closed(scope, unit) end
if status == "frozen" and b.status == "frozen" then return budget_frozen(scope, unit) end
if status == "active" and b.status == "active" then return invalid("status", js("active"), "the budget is not frozen") end
b.status = status
budget_save(b)
return ok(obj({ '"balances":' .. balances_json({ b }) }))
`)

/**
 * setOverdraftLimit. ARGV: scope, unit, overdraftLimit. Allowed while
 * frozen, not once closed; the over-limit flag is left as it is.
 *
 * @internal
 */
export const setOverdraftLimit = script(`
local scope, unit = ARGV[1], ARGV[2]
local b = budget_load(scope, unit)
if not b then return budget_not_found(scope, unit) end
if b.status == "closed" then return budget_closed(scope, unit) end
b.overdraftLimit = amount_parse(ARGV[3])
budget_save(b)
return ok(obj({ '"balances":' .. balances_json({ b }) }))
`)
