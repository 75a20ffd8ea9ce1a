/**
 * The Lua helpers of the hot scripts (reserve, commit, release, extend,
 * decide, event), on top of the prelude (`prelude.ts`).
 *
 * A hot script runs a batch: up to 16 operations of one kind that one
 * tenant's callers started (half of those under way; see `batch.ts`), in the
 * order they were started. Each operation is still one atomic step,
 * with exactly the memory store's rules: it checks everything first and
 * answers a failure without writing, or writes all of it. What a batch
 * shares is the budgets: each is read once (`hot_budget`), changed in Lua
 * memory by the operations one after the other, and written back once at
 * the end (`hot_flush`). A batch of 16 reserves on the same three scopes
 * reads and writes three budgets, not forty-eight.
 *
 * A batched script's prelude is lazy (`assemble.ts`): what these helpers
 * use only on failures, or for amounts of 10^15 and more, is created the
 * first time a call needs it.
 *
 * Amounts are `amt_*` values (`amount.ts`). Each budget keeps the decimal
 * string of every amount next to its value, so an answer reuses the strings
 * of what did not change.
 *
 * Answers are compact: the fields of the answer joined by a tab (`TAB`),
 * each budget's snapshot as eight fields (`scope, status, allocated, spent,
 * reserved, debt, overdraftLimit, isOverLimit`); the store builds the answer
 * object from them and from the request (`answers.ts`). That text is also
 * what an idempotency record keeps, so a replay answers the same text.
 *
 * @internal
 */

/** The hot helpers (Lua). @internal */
export const hotLua = `
local TAB = "\\t"
local TENANT = ARGV[1]
local HOT_BUDGETS = {}
local HOT_DIRTY = {}
-- Writes of the batch that go out together at its end (hot_flush): new
-- idempotency records (MSET, and HOT_RECORDS to find them in the batch),
-- log entries, and index members.
local HOT_RECORDS = {}
-- The idempotency records of the batch's keys as they were when it started
-- (false: none), read in one MGET (hot_prefetch).
local HOT_FETCHED = {}
-- The tenant's sequence, read once per batch and written back at its end
-- (false until the batch needs it).
local HOT_SEQUENCE = false
local HOT_MSET = {}
local HOT_LOG_IDEMPOTENCY = {}
local HOT_LOG_ENDED = {}
local HOT_RESERVATIONS = {}
local HOT_EXPIRIES = {}
local HOT_FINISHED = {}
-- The idempotency record names of the batch's operation start with this
-- (set by hot_batch), and log entries with HOT_LOG_OP.
local HOT_IDEM = ""
local HOT_LOG_OP = ""
-- Where each operation of the batch starts in ARGV, and its argument count
-- (hot_prefetch reads them once for hot_batch).
local HOT_AT = {}
local HOT_COUNT = {}
-- Each operation's idempotency record name (false: no key), and the key and
-- record name of the operation running (hot_batch sets them), so that
-- hot_recall and hot_remember do not build the name again.
local HOT_NAMES = {}
local HOT_KEY = false
local HOT_NAME = false

-- The snapshot fields after reserved: debt, overdraftLimit, isOverLimit.
local function hot_tail(b)
  local over = "0"
  if b.isOverLimit then over = "1" end
  b.tail = b.debt_s .. TAB .. b.overdraftLimit_s .. TAB .. over
end

-- The budget of scope in unit, read once per batch; false when there is none.
-- Built in one table constructor; amounts of at most 15 characters (below
-- 10^15) are read as numbers straight away. The budget is small when spent,
-- reserved, debt and the overdraft limit all are (allocated need not be:
-- small_allocated says whether it is too). An allocated of 10^15 or more is
-- parsed only when a check needs more than its sign (hot_allocated).
local function hot_budget(scope, unit)
  local key = P .. "budget:" .. scope .. ":" .. unit
  local b = HOT_BUDGETS[key]
  if b == nil then
    local text = redis.call("GET", key)
    if text then
      local status, allocated_s, spent_s, reserved_s, debt_s, limit_s, over_s, order = string.match(text, BUDGET)
      local small = #spent_s <= 15 and #reserved_s <= 15 and #debt_s <= 15 and #limit_s <= 15
      local allocated, spent, reserved, debt, limit
      if #allocated_s <= 15 then allocated = tonumber(allocated_s) end
      if small then
        if spent_s == "0" then spent = 0 else spent = tonumber(spent_s) end
        if reserved_s == "0" then reserved = 0 else reserved = tonumber(reserved_s) end
        if debt_s == "0" then debt = 0 else debt = tonumber(debt_s) end
        if limit_s == "0" then limit = 0 else limit = tonumber(limit_s) end
      else
        spent, reserved, debt, limit = amt_parse(spent_s), amt_parse(reserved_s), amt_parse(debt_s), amt_parse(limit_s)
      end
      b = {
        key = key, scope = scope, unit = unit, status = status, isOverLimit = over_s == "1", small = small,
        small_allocated = allocated ~= nil,
        allocated_nonnegative = allocated ~= nil or string.byte(allocated_s, 1) ~= 45,
        allocated = allocated, spent = spent, reserved = reserved, debt = debt, overdraftLimit = limit,
        allocated_s = allocated_s, spent_s = spent_s, reserved_s = reserved_s, debt_s = debt_s,
        overdraftLimit_s = limit_s, order = order,
        -- the snapshot fields around spent and reserved, which change most
        head = scope .. TAB .. status .. TAB .. allocated_s,
        tail = debt_s .. TAB .. limit_s .. TAB .. over_s,
        dirty = false
      }
    else
      b = false
    end
    HOT_BUDGETS[key] = b
  end
  return b
end

local function hot_touch(b)
  if not b.dirty then
    b.dirty = true
    HOT_DIRTY[#HOT_DIRTY + 1] = b
  end
end

-- Sets amount name of b (reserved or spent) to value, and its decimal text
-- (field text). b.small: spent, reserved, debt and the overdraft limit of b
-- are numbers (below 10^15), so the hot paths add and compare them directly;
-- it stays true only while they are.
local function hot_set(b, name, text, value)
  b[name] = value
  if type(value) == "number" then
    b[text] = string.format("%d", value)
  else
    b.small = false
    b[text] = amt_str(value)
  end
  hot_touch(b)
end

local function hot_set_debt(b, value)
  b.debt = value
  if type(value) ~= "number" then b.small = false end
  b.debt_s = amt_str(value)
  hot_tail(b)
  hot_touch(b)
end

-- Adds delta to amount name of every budget (reserved or spent, with its
-- text field; delta a number when small). A sum of two numbers that stays
-- below 10^15 is set here directly (hot_set, without its type check).
local function hot_add(budgets, name, text, delta, small)
  for i = 1, #budgets do
    local b = budgets[i]
    local value = nil
    if small and b.small then
      value = b[name] + delta
      if value < AMT_SMALL and value > -AMT_SMALL then
        b[name] = value
        b[text] = string.format("%d", value)
        hot_touch(b)
      else
        value = nil
      end
    end
    if value == nil then hot_set(b, name, text, amt_add(b[name], delta)) end
  end
end

-- Appends the pairs a, b to list.
local function hot_push(list, a, b)
  list[#list + 1] = a
  list[#list + 1] = b
end

-- Writes the batch's deferred writes: the indexes first (what the sweeper
-- and listReservations need to find a reservation), then the budgets and
-- the idempotency records (one MSET), and the pruning logs. Once a script
-- has written, Redis lets it write on even when out of memory, and these
-- keys have the types the scripts give them, so in practice all of it is
-- written.
local function hot_flush()
  -- first: a later write failing must not leave ids to be handed out again
  if HOT_SEQUENCE then redis.call("SET", P .. "sequence", num(HOT_SEQUENCE)) end
  if #HOT_EXPIRIES > 0 then redis.call("ZADD", P .. "expiries", unpack(HOT_EXPIRIES)) end
  if #HOT_FINISHED > 0 then redis.call("ZREM", P .. "expiries", unpack(HOT_FINISHED)) end
  if #HOT_RESERVATIONS > 0 then redis.call("ZADD", P .. "reservations", unpack(HOT_RESERVATIONS)) end
  -- the budgets and the idempotency records in one MSET (one command: all of it or none)
  for i = 1, #HOT_DIRTY do
    local b = HOT_DIRTY[i]
    local over = "0"
    if b.isOverLimit then over = "1" end
    hot_push(HOT_MSET, b.key,
      budget_text(b.status, b.allocated_s, b.spent_s, b.reserved_s, b.debt_s, b.overdraftLimit_s, over, b.order))
  end
  if #HOT_MSET > 0 then redis.call("MSET", unpack(HOT_MSET)) end
  if #HOT_LOG_IDEMPOTENCY > 0 then redis.call("RPUSH", P .. "idempotency", unpack(HOT_LOG_IDEMPOTENCY)) end
  if #HOT_LOG_ENDED > 0 then redis.call("RPUSH", P .. "ended", unpack(HOT_LOG_ENDED)) end
end

-- The allocated amount of b: read as a number by hot_budget when below
-- 10^15, else parsed here the first time a check needs it.
local function hot_allocated(b)
  local allocated = b.allocated
  if allocated == nil then
    allocated = amt_parse(b.allocated_s)
    b.allocated = allocated
  end
  return allocated
end

-- What a budget holds and owes: spent + reserved + debt (small in practice,
-- so one pair operation at most when allocated is large).
local function hot_used(b)
  return amt_add(amt_add(b.spent, b.reserved), b.debt)
end

local function hot_remaining(b)
  return amt_sub(hot_allocated(b), hot_used(b))
end

-- head (an answer's own fields, each followed by TAB), then the eight
-- snapshot fields of each budget, joined by TAB: one concatenation for up to
-- three budgets (a string made is a string hashed, interned and collected).
local function hot_snapshots(head, budgets)
  local n = #budgets
  local a = budgets[1]
  if n == 1 then return head .. a.head .. TAB .. a.spent_s .. TAB .. a.reserved_s .. TAB .. a.tail end
  local b = budgets[2]
  if n == 2 then
    return head .. a.head .. TAB .. a.spent_s .. TAB .. a.reserved_s .. TAB .. a.tail
      .. TAB .. b.head .. TAB .. b.spent_s .. TAB .. b.reserved_s .. TAB .. b.tail
  end
  local c = budgets[3]
  local text = head .. a.head .. TAB .. a.spent_s .. TAB .. a.reserved_s .. TAB .. a.tail
    .. TAB .. b.head .. TAB .. b.spent_s .. TAB .. b.reserved_s .. TAB .. b.tail
    .. TAB .. c.head .. TAB .. c.spent_s .. TAB .. c.reserved_s .. TAB .. c.tail
  for i = 4, n do
    local d = budgets[i]
    text = text .. TAB .. d.head .. TAB .. d.spent_s .. TAB .. d.reserved_s .. TAB .. d.tail
  end
  return text
end

-- A budget in the pair form the prelude's error reasons take.
local function hot_pairs(b)
  return {
    scope = b.scope, unit = b.unit, debt = amt_pair(b.debt), overdraftLimit = amt_pair(b.overdraftLimit)
  }
end

-- The budgets of the scopes ARGV[first .. last] in unit, or nil and why there
-- are none. The ledger derives scopes as the prefixes of the last one, so the
-- last one and their number name the list: it is looked up once per batch,
-- with its mask (which of the scopes have a budget; see mask_scopes).
local HOT_LOOKUPS = {}

local function hot_scoped(first, last, unit)
  local cached = nil
  if last >= first then
    cached = ARGV[last] .. TAB .. ARGV[first] .. TAB .. unit
    local found = HOT_LOOKUPS[cached]
    if found then return found, nil end
  end
  local budgets = {}
  local n = 0
  local mask = ""
  for i = first, last do
    local b = hot_budget(ARGV[i], unit)
    if b then
      n = n + 1
      budgets[n] = b
      mask = mask .. "1"
    else
      mask = mask .. "0"
    end
  end
  if n == 0 then
    local scopes = {}
    for i = first, last do scopes[#scopes + 1] = ARGV[i] end
    local _, failure = lookup(scopes, unit)
    return nil, failure
  end
  budgets.mask = mask
  if cached then HOT_LOOKUPS[cached] = budgets end
  return budgets, nil
end

-- The first budget that cannot hold estimate, as the failure saying why.
local function hot_check(budgets, estimate)
  local small = type(estimate) == "number"
  for i = 1, #budgets do
    local b = budgets[i]
    if b.status ~= "active" then
      if b.status == "frozen" then return budget_frozen(b.scope, b.unit) end
      return budget_closed(b.scope, b.unit)
    end
    if b.isOverLimit then return overdraft_limit_exceeded(hot_pairs(b), AMOUNT_ZERO) end
    if b.debt ~= 0 and b.overdraftLimit == 0 then return debt_outstanding(hot_pairs(b)) end
    -- remaining < estimate, as allocated < spent + reserved + debt + estimate
    local spent, reserved, debt = b.spent, b.reserved, b.debt
    local fits
    if small and (b.small or (type(spent) == "number" and type(reserved) == "number" and type(debt) == "number")) then
      -- four numbers below 10^15: their sum is exact (a pair allocated lies
      -- beyond it, on the side of its sign)
      local need = spent + reserved + debt + estimate
      if b.small_allocated then
        fits = b.allocated >= need
      elseif need < AMT_SMALL then
        fits = b.allocated_nonnegative
      else
        fits = amount_cmp(hot_allocated(b), amt_pair(need)) >= 0
      end
    else
      fits = amt_cmp(hot_allocated(b), amt_add(hot_used(b), estimate)) >= 0
    end
    if not fits then
      return budget_exceeded(b.scope, b.unit, amt_pair(estimate), amt_pair(amt_sub(hot_allocated(b), hot_used(b))), nil)
    end
  end
  return nil
end

-- The charge of delta (> 0) under ALLOW_IF_AVAILABLE or ALLOW_WITH_OVERDRAFT
-- on amt values (the memory store's Overage.plan), or nil and the failure;
-- shown: the request's actual amount, which an InvalidRequest names.
local function hot_plan(budgets, delta, policy, shown)
  local lefts = {}
  for i, b in ipairs(budgets) do lefts[i] = hot_remaining(b) end
  local charged = delta
  local shares = {}
  if policy == "ALLOW_IF_AVAILABLE" then
    for _, left in ipairs(lefts) do charged = amt_min(charged, amt_max(left, 0)) end
    local short = amt_cmp(charged, delta) < 0
    for i, left in ipairs(lefts) do
      shares[i] = { funded = charged, deficit = 0, overLimit = short and amt_cmp(left, delta) < 0 }
    end
    return { charged = charged, shares = shares }, nil
  end
  for i, b in ipairs(budgets) do
    if b.overdraftLimit == 0 and amt_cmp(lefts[i], delta) < 0 then
      charged = amt_min(charged, amt_max(lefts[i], 0))
    end
  end
  for i, b in ipairs(budgets) do
    local left = lefts[i]
    local zero_limit_short = b.overdraftLimit == 0 and amt_cmp(charged, delta) < 0 and amt_cmp(left, delta) < 0
    if amt_cmp(left, charged) >= 0 then
      shares[i] = { funded = charged, deficit = 0, overLimit = zero_limit_short }
    else
      local funded = amt_max(left, 0)
      local deficit = amt_sub(charged, funded)
      if b.overdraftLimit ~= 0 and amt_cmp(amt_add(b.debt, deficit), b.overdraftLimit) > 0 then
        return nil, overdraft_limit_exceeded(hot_pairs(b), amt_pair(deficit))
      end
      -- no figure leaves its range: the debt may not take remaining below -2^63
      if amt_cmp(amt_sub(amt_sub(left, funded), deficit), AMOUNT_MIN) < 0 then
        return nil, invalid("actual", shown, b.scope .. ": remaining would fall below -2^63")
      end
      shares[i] = { funded = funded, deficit = deficit, overLimit = zero_limit_short }
    end
  end
  return { charged = charged, shares = shares }, nil
end

-- Applies a planned charge: spent grows by base + funded, debt by deficit.
local function hot_apply(budgets, base, charge)
  for i, b in ipairs(budgets) do
    local share = charge.shares[i]
    hot_set(b, "spent", "spent_s", amt_add(b.spent, amt_add(base, share.funded)))
    if share.deficit ~= 0 then hot_set_debt(b, amt_add(b.debt, share.deficit)) end
    if share.overLimit then
      b.isOverLimit = true
      hot_tail(b)
      hot_touch(b)
    end
  end
end

-- The next number of the tenant's sequence (next_sequence in the prelude),
-- counted in Lua memory during the batch.
local function hot_next_sequence()
  if not HOT_SEQUENCE then HOT_SEQUENCE = tonumber(redis.call("GET", P .. "sequence")) or 0 end
  HOT_SEQUENCE = HOT_SEQUENCE + 1
  return HOT_SEQUENCE
end

-- hot_next_sequence as its decimal string (an integer below 2^53).
local function hot_next_sequence_s()
  return string.format("%d", hot_next_sequence())
end

-- Reads the idempotency records of every key of the batch (operation's keys,
-- each operation's first argument) in one MGET, for hot_recall.
local function hot_prefetch()
  local names = {}
  local found = 0
  local ops = 0
  local at = 2
  local last = #ARGV
  while at <= last do
    local count = tonumber(ARGV[at])
    ops = ops + 1
    HOT_AT[ops] = at + 1
    HOT_COUNT[ops] = count
    local key = ARGV[at + 1]
    if key ~= nil and key ~= "" then
      found = found + 1
      local name = HOT_IDEM .. key
      names[found] = name
      HOT_NAMES[ops] = name
    else
      HOT_NAMES[ops] = false
    end
    at = at + 1 + count
  end
  if found == 0 then return end
  local values = redis.call("MGET", unpack(names))
  for i = 1, found do HOT_FETCHED[names[i]] = values[i] end
end

-- recall (prelude), seeing the records of the batch too.
local function hot_recall(operation, key, fingerprint)
  if key == "" then return nil end
  local name = HOT_NAME
  if key ~= HOT_KEY or not name then name = HOT_IDEM .. key end
  local record = HOT_RECORDS[name]
  if record == nil then record = HOT_FETCHED[name] end
  if record == nil then record = redis.call("GET", name) end
  if not record then return nil end
  local length = #fingerprint
  if string.byte(record, length + 1) == 10 and string.sub(record, 1, length) == fingerprint then
    return { "ok", string.sub(record, length + 2) }
  end
  return fail("IdempotencyMismatch", { '"operation":' .. js(operation), '"idempotencyKey":' .. js(key) })
end

-- Remembers a compact answer for (operation, key) (written at the end of the
-- batch), and answers it: "ok" and the answer, two values (see hot_batch).
local function hot_remember(operation, key, fingerprint, answer, now)
  if key ~= "" then
    local name = HOT_NAME
    if key ~= HOT_KEY or not name then name = HOT_IDEM .. key end
    local record = fingerprint .. "\\n" .. answer
    HOT_RECORDS[name] = record
    local n = #HOT_MSET
    HOT_MSET[n + 1] = name
    HOT_MSET[n + 2] = record
    HOT_LOG_IDEMPOTENCY[#HOT_LOG_IDEMPOTENCY + 1] = now .. HOT_LOG_OP .. key
  end
  return "ok", answer
end

-- The terms settling needs (TERMS in the prelude, without createdAtMs and
-- the action): unit, estimate, graceMs, overagePolicy, scopePath, budgets.
local HOT_TERMS = "^([^\\t]*)\\t([^\\t]*)\\t[^\\t]*\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t"

-- What settling a reservation needs (commit, release, extend), or nil.
local function hot_reservation(id)
  local v = redis.call("HMGET", reservation_key(id), "status", "terms", "expiresAtMs", "extensions")
  if not v[1] then return nil end
  local unit, estimate, grace, policy, path, mask = string.match(v[2], HOT_TERMS)
  return {
    id = id, status = v[1], unit = unit, estimate = amt_parse(estimate), estimate_s = estimate,
    expiresAtMs = tonumber(v[3]), graceMs = tonumber(grace), extensions = v[4], overagePolicy = policy,
    scopePath = path, budgets = mask
  }
end

-- The reservation id if it can still be settled at now: while
-- now <= expiresAt + grace (extend passes grace_counts = false).
local function hot_settleable(id, foreign, now, grace_counts)
  if foreign == "1" then return nil, forbidden(TENANT, "reservation " .. id) end
  local r = hot_reservation(id)
  if not r then return nil, reservation_not_found(id) end
  if r.status == "committed" or r.status == "released" then
    return nil, fail("ReservationFinalized", { '"reservationId":' .. js(id), '"status":' .. js(r.status) })
  end
  local grace = 0
  if grace_counts then grace = r.graceMs end
  if r.status == "expired" or now > r.expiresAtMs + grace then
    return nil, fail("ReservationExpired", {
      '"reservationId":' .. js(id),
      '"expiresAtMs":' .. num(r.expiresAtMs),
      '"graceMs":' .. num(grace),
      '"nowMs":' .. num(now)
    })
  end
  return r, nil
end

-- The budgets a reservation holds money in (the list looked up once per batch).
local function hot_reservation_budgets(r)
  local cached = r.scopePath .. " " .. r.budgets .. " " .. r.unit
  local budgets = HOT_LOOKUPS[cached]
  if budgets then return budgets end
  budgets = {}
  local scopes = mask_scopes(r.scopePath, r.budgets)
  for i = 1, #scopes do budgets[i] = hot_budget(scopes[i], r.unit) end
  HOT_LOOKUPS[cached] = budgets
  return budgets
end

-- The first budget of a reservation whose key is gone (evicted under a
-- maxmemory policy other than noeviction, or deleted by hand), as a NotFound:
-- checked before a settlement writes anything, so that it fails whole.
local function hot_missing_budget(r, budgets)
  for i = 1, #budgets do
    if not budgets[i] then return budget_not_found(mask_scopes(r.scopePath, r.budgets)[i], r.unit) end
  end
  return nil
end

-- Ends a reservation (commit, release): no longer active, pruned
-- the retention after now (the "ended" log; see reservation_finish).
local function hot_finish(id, status, now, committed)
  if committed then
    redis.call("HSET", reservation_key(id), "status", status, "finalizedAtMs", now, "committed", committed)
  else
    redis.call("HSET", reservation_key(id), "status", status, "finalizedAtMs", now)
  end
  HOT_LOG_ENDED[#HOT_LOG_ENDED + 1] = now .. " " .. id
  HOT_FINISHED[#HOT_FINISHED + 1] = id
end

-- Runs operation(first, count) on every operation of the batch named name:
-- ARGV is the tenant, then per operation its argument count and its
-- arguments, the idempotency key first (read for all at once). Answers
-- { kind, text } per operation: "ok" and the compact answer, "err" and the
-- reason JSON, or "crash" and the Lua error of an operation that failed
-- unexpectedly (the batch goes on). Then writes the budgets back.
local function hot_batch(name, operation)
  HOT_IDEM = P .. "idem:" .. name .. ":"
  HOT_LOG_OP = " " .. name .. ":"
  hot_prefetch()
  local out = {}
  for i = 1, #HOT_AT do
    local at = HOT_AT[i]
    HOT_KEY, HOT_NAME = ARGV[at], HOT_NAMES[i]
    -- an answer is two values ("ok", text); a failure one table { "err", reason }
    local done, result, text = pcall(operation, at, HOT_COUNT[i])
    if done then
      if text ~= nil then
        out[2 * i - 1] = result
        out[2 * i] = text
      else
        out[2 * i - 1] = result[1]
        out[2 * i] = result[2]
      end
    else
      out[2 * i - 1] = "crash"
      if type(result) == "table" and result.err then result = result.err end
      out[2 * i] = tostring(result)
    end
  end
  hot_flush()
  return out
end
`
