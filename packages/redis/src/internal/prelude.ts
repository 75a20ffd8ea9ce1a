/**
 * The Lua prelude every ledger script starts with: exact amounts
 * (`amount.ts`), a JSON writer, budgets, reservations, idempotency records
 * and the ledger's error reasons, mirroring `@timebox/core`'s memory store
 * (`internal/ledger/*`) rule for rule.
 *
 * Conventions:
 *
 * - `KEYS[1]` is the tenant's key prefix `<prefix>:v3:{tenant:<id>}:`; every key
 *   a script touches starts with it, so one script stays in one cluster slot.
 *   The keys themselves are built here, not declared in `KEYS`: fine on one
 *   node or a cluster with stable slots, not while the slot migrates.
 * - Amounts are decimal strings on the wire and in Redis; inside the cold
 *   scripts (balances, reservations, the sweeper, administration) they are
 *   `{ high, low }` pairs, inside the hot ones `amt_*` values (`amount.ts`,
 *   `hot.ts`). Times (epoch ms) are doubles: exact far beyond any clock
 *   value.
 * - A cold script answers `{ "ok", <answer JSON> }` or `{ "err", <reason
 *   JSON> }`; the reason JSON is the encoded form of one `LedgerErrorReason`.
 *   The hot scripts answer the same pair per operation of their batch, with
 *   a compact answer for "ok" (`hot.ts`).
 *
 * @internal
 */
import { amountLua } from "./amount.ts"

/** The Lua prelude. @internal */
export const preludeLua = `${amountLua}
local P = KEYS[1]
local UNITS = { "USD_MICROCENTS", "TOKENS", "CREDITS", "RISK_POINTS" }
local UNIT_INDEX = { USD_MICROCENTS = 1, TOKENS = 2, CREDITS = 3, RISK_POINTS = 4 }
local LEVELS = { "tenant", "workspace", "app", "workflow", "agent", "toolset" }
local MAX_EXTENSIONS = 10

-- JSON ------------------------------------------------------------------------

local function js(s)
  return cjson.encode(s)
end

local function num(x)
  if x == math.floor(x) and math.abs(x) < 1e15 then return string.format("%d", x) end
  return string.format("%.17g", x)
end

local function bool(b)
  if b then return "true" end
  return "false"
end

local function field(fields, key, raw)
  if raw ~= nil and raw ~= false then fields[#fields + 1] = js(key) .. ":" .. raw end
end

local function obj(fields)
  return "{" .. table.concat(fields, ",") .. "}"
end

local function arr(items)
  return "[" .. table.concat(items, ",") .. "]"
end

local function strings(list)
  local items = {}
  for i, s in ipairs(list) do items[i] = js(s) end
  return arr(items)
end

-- A JSON string of text known to need no escaping: amounts, units, statuses
-- and scope paths (the ledger decodes those to [a-zA-Z0-9_.:/-]).
local function q(s)
  return '"' .. s .. '"'
end

local function amount_json(unit, a)
  return '{"unit":"' .. unit .. '","amount":"' .. amount_string(a) .. '"}'
end

local function ok(answer)
  return { "ok", answer }
end

local function fail(tag, fields)
  table.insert(fields, 1, '"_tag":' .. js(tag))
  return { "err", obj(fields) }
end

-- Reasons -----------------------------------------------------------------------

local function scope_unit(scope, unit)
  return { '"scope":' .. js(scope), '"unit":' .. js(unit) }
end

local function budget_exceeded(scope, unit, requested, remaining, reservation_id)
  local fields = scope_unit(scope, unit)
  field(fields, "requested", js(amount_string(requested)))
  field(fields, "remaining", js(amount_string(remaining)))
  if reservation_id then field(fields, "reservationId", js(reservation_id)) end
  return fail("BudgetExceeded", fields)
end

local function overdraft_limit_exceeded(budget, shortfall)
  local fields = scope_unit(budget.scope, budget.unit)
  field(fields, "debt", js(amount_string(budget.debt)))
  field(fields, "shortfall", js(amount_string(shortfall)))
  field(fields, "overdraftLimit", js(amount_string(budget.overdraftLimit)))
  return fail("OverdraftLimitExceeded", fields)
end

local function debt_outstanding(budget)
  local fields = scope_unit(budget.scope, budget.unit)
  field(fields, "debt", js(amount_string(budget.debt)))
  return fail("DebtOutstanding", fields)
end

local function budget_frozen(scope, unit)
  return fail("BudgetFrozen", scope_unit(scope, unit))
end

local function budget_closed(scope, unit)
  return fail("BudgetClosed", scope_unit(scope, unit))
end

local function budget_not_found(scope, unit)
  return fail("NotFound", { '"resource":"budget"', '"id":' .. js(scope), '"unit":' .. js(unit) })
end

local function reservation_not_found(id)
  return fail("NotFound", { '"resource":"reservation"', '"id":' .. js(id) })
end

local function unit_mismatch(scope, requested, expected)
  return fail("UnitMismatch", { '"scope":' .. js(scope), '"requested":' .. js(requested), '"expected":' .. strings(expected) })
end

local function forbidden(tenant, resource)
  return fail("Forbidden", { '"tenant":' .. js(tenant), '"resource":' .. js(resource) })
end

local function invalid(name, value, problem)
  return fail("InvalidRequest", { '"field":' .. js(name), '"value":' .. js(value), '"problem":' .. js(problem) })
end

-- Budgets ---------------------------------------------------------------------

local function budget_key(scope, unit)
  return P .. "budget:" .. scope .. ":" .. unit
end

local function budget_member(scope, unit)
  return scope .. " " .. UNIT_INDEX[unit]
end

-- A budget is one string: status, allocated, spent, reserved, debt,
-- overdraftLimit, isOverLimit ("1" or "0") and order (its number in the
-- tenant's sequence, for the order of units), joined by a tab. One GET and
-- one SET instead of a hash's fields: Redis reads and writes a small hash
-- field by field.
local BUDGET = "^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)$"

local function budget_load(scope, unit)
  local text = redis.call("GET", budget_key(scope, unit))
  if not text then return nil end
  local status, allocated, spent, reserved, debt, limit, over, order = string.match(text, BUDGET)
  return {
    scope = scope,
    unit = unit,
    status = status,
    allocated = amount_parse(allocated),
    spent = amount_parse(spent),
    reserved = amount_parse(reserved),
    debt = amount_parse(debt),
    overdraftLimit = amount_parse(limit),
    isOverLimit = over == "1",
    order = order
  }
end

local function over_flag(b)
  if b.isOverLimit then return "1" end
  return "0"
end

-- A budget's text (BUDGET) from its figures, each a string.
local function budget_text(status, allocated, spent, reserved, debt, limit, over, order)
  return status .. "\\t" .. allocated .. "\\t" .. spent .. "\\t" .. reserved .. "\\t" .. debt .. "\\t" .. limit .. "\\t"
    .. over .. "\\t" .. order
end

-- Writes a budget, all of it.
local function budget_save(b)
  redis.call("SET", budget_key(b.scope, b.unit), budget_text(b.status, amount_string(b.allocated),
    amount_string(b.spent), amount_string(b.reserved), amount_string(b.debt), amount_string(b.overdraftLimit),
    over_flag(b), b.order))
end

local function remaining(b)
  return amount_sub(amount_sub(amount_sub(b.allocated, b.spent), b.reserved), b.debt)
end

local function balance_json(b)
  return table.concat({
    '{"scope":"', b.scope,
    '","unit":"', b.unit,
    '","status":"', b.status,
    '","allocated":"', amount_string(b.allocated),
    '","spent":"', amount_string(b.spent),
    '","reserved":"', amount_string(b.reserved),
    '","debt":"', amount_string(b.debt),
    '","overdraftLimit":"', amount_string(b.overdraftLimit),
    '","remaining":"', amount_string(remaining(b)),
    '","isOverLimit":', bool(b.isOverLimit), "}"
  })
end

local function balances_json(budgets)
  local items = {}
  for i, b in ipairs(budgets) do items[i] = balance_json(b) end
  return arr(items)
end

-- The budgets of scopes in unit, in the order of scopes.
local function budgets_in(scopes, unit)
  local found = {}
  for _, scope in ipairs(scopes) do
    local b = budget_load(scope, unit)
    if b then found[#found + 1] = b end
  end
  return found
end

-- The budgets an operation on scopes in unit touches, or the failure saying
-- why there are none (unit-mismatch: the units in the order they were created).
local function lookup(scopes, unit)
  local found = budgets_in(scopes, unit)
  if #found > 0 then return found, nil end
  for _, scope in ipairs(scopes) do
    local others = {}
    for _, other in ipairs(UNITS) do
      if other ~= unit then
        local b = budget_load(scope, other)
        if b then others[#others + 1] = { tonumber(b.order), other } end
      end
    end
    if #others > 0 then
      table.sort(others, function(a, b) return a[1] < b[1] end)
      local expected = {}
      for i, o in ipairs(others) do expected[i] = o[2] end
      return nil, unit_mismatch(scope, unit, expected)
    end
  end
  return nil, budget_not_found(scopes[#scopes] or "", unit)
end

local DENY_REASONS = {
  BudgetFrozen = "budget-frozen",
  BudgetClosed = "budget-closed",
  OverdraftLimitExceeded = "overdraft-limit-exceeded",
  DebtOutstanding = "debt-outstanding",
  NotFound = "budget-not-found"
}

local function deny_reason(failure)
  local tag = string.match(failure[2], '^{"_tag":"([^"]+)"')
  return DENY_REASONS[tag] or "budget-exceeded"
end

-- Idempotency -----------------------------------------------------------------

-- The remembered answer for (operation, key): nil when the key is new (or
-- absent), the first answer for the same request digest, else a mismatch. A
-- record is one string: the request's digest, a newline, the answer (digests
-- contain no newline).
local function recall(operation, key, fingerprint)
  if key == "" then return nil end
  local record = redis.call("GET", P .. "idem:" .. operation .. ":" .. key)
  if not record then return nil end
  local length = #fingerprint
  if string.byte(record, length + 1) == 10 and string.sub(record, 1, length) == fingerprint then
    return ok(string.sub(record, length + 2))
  end
  return fail("IdempotencyMismatch", { '"operation":' .. js(operation), '"idempotencyKey":' .. js(key) })
end

-- Remembers the answer for (operation, key), and answers it. The log
-- "idempotency" lists "<now> <operation>:<key>" in the order they came, for
-- the sweeper to forget them after the retention. now: a decimal string.
local function remember(operation, key, fingerprint, answer, now)
  if key ~= "" then
    redis.call("SET", P .. "idem:" .. operation .. ":" .. key, fingerprint .. "\\n" .. answer)
    redis.call("RPUSH", P .. "idempotency", now .. " " .. operation .. ":" .. key)
  end
  return ok(answer)
end

-- Forgets, from the head of the log (a list of "<ms> <member>", oldest
-- first), the entries at or before cutoff, calling forget(member) on each, at
-- most budget of them. Returns the budget left, and whether due entries remain
-- (the budget ran out first).
local function prune_log(log, cutoff, forget, budget)
  while budget > 0 do
    local entries = redis.call("LRANGE", P .. log, 0, math.min(budget, 1000) - 1)
    local n = 0
    for _, entry in ipairs(entries) do
      local space = string.find(entry, " ", 1, true)
      if tonumber(string.sub(entry, 1, space - 1)) > cutoff then break end
      forget(string.sub(entry, space + 1))
      n = n + 1
    end
    if n > 0 then redis.call("LTRIM", P .. log, n, -1) end
    budget = budget - n
    if n < #entries or #entries == 0 then return budget, false end
  end
  -- the budget ran out: is the next entry due too?
  local head = redis.call("LINDEX", P .. log, 0)
  if not head then return 0, false end
  return 0, tonumber(string.sub(head, 1, string.find(head, " ", 1, true) - 1)) <= cutoff
end

-- Reservations ----------------------------------------------------------------

local function reservation_key(id)
  return P .. "reservation:" .. id
end

-- What a reservation holds that never changes, kept in one field ("terms"):
-- unit, estimate, createdAtMs, graceMs, overagePolicy, scopePath, budgets (the
-- mask) and the action JSON, joined by a tab. None of them holds a tab but
-- the action, which comes last. One field instead of eight keeps the hash
-- small: Redis writes and reads a listpack hash field by field.
local TERMS = "^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$"

-- Sets the terms of a reservation (its "terms" field) on r.
local function reservation_terms(r, terms)
  r.unit, r.estimate, r.createdAtMs, r.graceMs, r.overagePolicy, r.scopePath, r.budgets, r.action =
    string.match(terms, TERMS)
  return r
end

local function reservation_fields(r, id)
  r.id = id
  -- the affected scopes are the prefixes of the scope path, and its segments the subject's levels
  local prefixes = {}
  local at = 1
  while true do
    local slash = string.find(r.scopePath, "/", at, true)
    local segment = string.sub(r.scopePath, at, (slash or 0) - 1)
    local colon = string.find(segment, ":", 1, true)
    if colon then r["level:" .. string.sub(segment, 1, colon - 1)] = string.sub(segment, colon + 1) end
    if not slash then break end
    prefixes[#prefixes + 1] = string.sub(r.scopePath, 1, slash - 1)
    at = slash + 1
  end
  if r.scopePath ~= "" then prefixes[#prefixes + 1] = r.scopePath end
  r.affectedScopes = strings(prefixes)
  r.estimate = amount_parse(r.estimate)
  r.expiresAtMs = tonumber(r.expiresAtMs)
  r.graceMs = tonumber(r.graceMs)
  r.extensions = tonumber(r.extensions)
  return r
end

-- The whole reservation (get, list, sweep).
local function reservation_load(id)
  local flat = redis.call("HGETALL", reservation_key(id))
  if #flat == 0 then return nil end
  local r = {}
  for i = 1, #flat, 2 do r[flat[i]] = flat[i + 1] end
  reservation_terms(r, r.terms)
  r.terms = nil
  return reservation_fields(r, id)
end

-- What settling a reservation needs (commit, release, extend).
local function reservation_load_settle(id)
  local v = redis.call("HMGET", reservation_key(id), "status", "terms", "expiresAtMs", "extensions")
  if not v[1] then return nil end
  return reservation_fields(reservation_terms({ status = v[1], expiresAtMs = v[3], extensions = v[4] }, v[2]), id)
end

-- The scopes a reservation holds money in: the prefixes of its scope path
-- (shortest first) whose mark in mask ("1" or "0" per prefix) is "1".
local function mask_scopes(path, mask)
  local scopes = {}
  local i = 0
  local at = 1
  while true do
    local slash = string.find(path, "/", at, true)
    i = i + 1
    if string.byte(mask, i) == 49 then
      if slash then scopes[#scopes + 1] = string.sub(path, 1, slash - 1) else scopes[#scopes + 1] = path end
    end
    if not slash then break end
    at = slash + 1
  end
  return scopes
end

local function reservation_budgets(r)
  local budgets = {}
  for _, scope in ipairs(mask_scopes(r.scopePath, r.budgets)) do budgets[#budgets + 1] = budget_load(scope, r.unit) end
  return budgets
end

-- The subject JSON of a reservation: kept when it has more than its levels
-- (dimensions), else written from the levels of its scope path.
local function subject_json(r)
  if r.subject then return r.subject end
  local fields = {}
  for _, level in ipairs(LEVELS) do
    local value = r["level:" .. level]
    if value then fields[#fields + 1] = js(level) .. ":" .. js(value) end
  end
  return obj(fields)
end

local function reservation_json(r)
  local fields = {
    '"reservationId":' .. js(r.id),
    '"status":' .. js(r.status),
    '"subject":' .. subject_json(r),
    '"action":' .. r.action,
    '"reserved":' .. amount_json(r.unit, r.estimate)
  }
  if r.committed then field(fields, "committed", amount_json(r.unit, amount_parse(r.committed))) end
  field(fields, "createdAtMs", r.createdAtMs)
  field(fields, "expiresAtMs", num(r.expiresAtMs))
  field(fields, "finalizedAtMs", r.finalizedAtMs)
  field(fields, "graceMs", num(r.graceMs))
  field(fields, "overagePolicy", js(r.overagePolicy))
  field(fields, "extensions", num(r.extensions))
  field(fields, "scopePath", js(r.scopePath))
  field(fields, "affectedScopes", r.affectedScopes)
  if r.idempotencyKey then field(fields, "idempotencyKey", js(r.idempotencyKey)) end
  field(fields, "metadata", r.metadata)
  return obj(fields)
end

-- Ends a reservation: no longer active (the sweeper forgets it), pruned
-- the retention after now. committed: the charged amount string of a commit.
-- The log "ended" lists "<now> <id>" in the order they ended. Only the
-- sweeper ends reservations here, and it takes them out of "expiries"
-- itself; the batched commit and release do it at the end of their batch.
local function reservation_finish(r, status, now, finalized, committed)
  r.status = status
  local at = num(now)
  if committed then
    redis.call("HSET", reservation_key(r.id), "status", status, "finalizedAtMs", at, "committed", committed)
  elseif finalized then
    redis.call("HSET", reservation_key(r.id), "status", status, "finalizedAtMs", at)
  else
    redis.call("HSET", reservation_key(r.id), "status", status)
  end
  redis.call("RPUSH", P .. "ended", at .. " " .. r.id)
end

-- The next number of the tenant's sequence (reservation and event ids).
local function next_sequence()
  return redis.call("INCR", P .. "sequence")
end
`
