/**
 * Exact signed 64-bit integer arithmetic for the ledger's Lua scripts.
 *
 * Redis runs Lua 5.1, whose only number type is a double: exact up to 2^53,
 * while ledger amounts go up to 2^63−1. Amounts therefore travel as decimal
 * strings, and inside a script they are pairs `{ high, low }` of doubles with
 * `value = high * 10^9 + low` and `0 <= low < 10^9`. `high` stays below
 * about 10^11 in magnitude for any sum of a few int64 values, so every limb
 * operation is exact. Results are checked against the int64 range before they
 * are stored or returned.
 *
 * The chunk defines local functions only (Redis forbids new globals):
 *
 * - `amount_parse(s)`: a decimal string (optional `-`, digits only) to a pair,
 *   or `nil` when it is not an integer in [−2^63, 2^63−1];
 * - `amount_string(a)`: a pair back to its canonical decimal string;
 * - `amount_add(a, b)`, `amount_sub(a, b)`, `amount_neg(a)`;
 * - `amount_cmp(a, b)` (−1, 0 or 1), `amount_min(a, b)`, `amount_max(a, b)`;
 * - `amount_is_zero(a)`, `amount_is_negative(a)`, `amount_fits(a)`
 *   (within the int64 range);
 * - `AMOUNT_ZERO`, `AMOUNT_MAX` (2^63−1), `AMOUNT_MIN` (−2^63).
 *
 * The hot scripts use a faster form on top (`amt_*`): an amount below 10^15
 * in magnitude is a plain Lua number (exact: sums of a few stay below 2^53),
 * anything larger a pair as above, and every result is brought back to a
 * number when it fits, so zero is always the number `0` and a pair always
 * lies beyond every number. Nearly all real
 * amounts are numbers, so the common case costs one arithmetic operation and
 * allocates nothing:
 *
 * - `amt_parse(s)` (a canonical decimal string, as the ledger stores them
 *   and the store sends them: a non-negative one of 16 to 19 digits is cut
 *   into its pair without the checks of `amount_parse`), `amt_str(a)`;
 * - `amt_add(a, b)`, `amt_sub(a, b)`, `amt_neg(a)`, `amt_cmp(a, b)`,
 *   `amt_min(a, b)`, `amt_max(a, b)`;
 * - `amt_pair(a)`: the pair form, for the helpers above (error reasons).
 *
 * @internal
 */
export const amountLua = `
local AMOUNT_BASE = 1000000000
local AMOUNT_ZERO = { 0, 0 }
local AMOUNT_MAX = { 9223372036, 854775807 }
local AMOUNT_MIN = { -9223372037, 145224192 }

local function amount_cmp(a, b)
  if a[1] ~= b[1] then
    if a[1] < b[1] then return -1 end
    return 1
  end
  if a[2] ~= b[2] then
    if a[2] < b[2] then return -1 end
    return 1
  end
  return 0
end

local function amount_add(a, b)
  local high = a[1] + b[1]
  local low = a[2] + b[2]
  if low >= AMOUNT_BASE then
    low = low - AMOUNT_BASE
    high = high + 1
  end
  return { high, low }
end

local function amount_sub(a, b)
  local high = a[1] - b[1]
  local low = a[2] - b[2]
  if low < 0 then
    low = low + AMOUNT_BASE
    high = high - 1
  end
  return { high, low }
end

local function amount_neg(a)
  return amount_sub(AMOUNT_ZERO, a)
end

local function amount_min(a, b)
  if amount_cmp(a, b) <= 0 then return a end
  return b
end

local function amount_max(a, b)
  if amount_cmp(a, b) >= 0 then return a end
  return b
end

local function amount_is_zero(a)
  return a[1] == 0 and a[2] == 0
end

local function amount_is_negative(a)
  return a[1] < 0
end

local function amount_fits(a)
  return amount_cmp(a, AMOUNT_MAX) <= 0 and amount_cmp(a, AMOUNT_MIN) >= 0
end

local function amount_parse(s)
  if type(s) ~= "string" then return nil end
  local length = #s
  if length > 0 and length <= 15 and not string.find(s, "%D") then
    -- the common case: digits only, below 10^15 < 2^53, so tonumber is exact
    local value = tonumber(s)
    local high = math.floor(value / AMOUNT_BASE)
    local low = value - high * AMOUNT_BASE
    if low < 0 then
      high = high - 1
      low = low + AMOUNT_BASE
    elseif low >= AMOUNT_BASE then
      high = high + 1
      low = low - AMOUNT_BASE
    end
    return { high, low }
  end
  local negative = false
  if string.sub(s, 1, 1) == "-" then
    negative = true
    s = string.sub(s, 2)
  end
  if s == "" or string.find(s, "%D") then return nil end
  local first = string.find(s, "[1-9]")
  if first == nil then
    s = ""
  else
    s = string.sub(s, first)
  end
  if #s > 19 then return nil end
  local value
  if #s == 0 then
    value = { 0, 0 }
  elseif #s <= 9 then
    value = { 0, tonumber(s) }
  else
    value = { tonumber(string.sub(s, 1, #s - 9)), tonumber(string.sub(s, #s - 8)) }
  end
  if negative then value = amount_neg(value) end
  if not amount_fits(value) then return nil end
  return value
end

local function amount_string(a)
  if a[1] < 0 then return "-" .. amount_string(amount_neg(a)) end
  if a[1] == 0 then return string.format("%d", a[2]) end
  return string.format("%d%09d", a[1], a[2])
end

local AMT_SMALL = 1000000000000000

local function amt_pair(a)
  if type(a) == "number" then
    local high = math.floor(a / AMOUNT_BASE)
    return { high, a - high * AMOUNT_BASE }
  end
  return a
end

local function amt_norm(a)
  if a[1] >= -1000000 and a[1] < 1000000 then
    local value = a[1] * AMOUNT_BASE + a[2]
    if value > -AMT_SMALL and value < AMT_SMALL then return value end
  end
  return a
end

local function amt_parse(s)
  local n = #s
  if n <= 15 then return tonumber(s) end
  -- 16 to 19 digits, the first not 0: at least 10^15, so a pair, its two
  -- limbs cut from the text (anything else takes amount_parse's checks)
  local first = string.byte(s, 1)
  if n <= 19 and first >= 49 and first <= 57 then
    local high, low = tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
    if high and low then
      if high > 9223372036 or (high == 9223372036 and low > 854775807) then return nil end
      return { high, low }
    end
  end
  local a = amount_parse(s)
  if a == nil then return nil end
  return amt_norm(a)
end

local function amt_str(a)
  if type(a) == "number" then return string.format("%d", a) end
  return amount_string(a)
end

local function amt_add(a, b)
  if type(a) == "number" and type(b) == "number" then
    local r = a + b
    if r < AMT_SMALL and r > -AMT_SMALL then return r end
  end
  return amt_norm(amount_add(amt_pair(a), amt_pair(b)))
end

local function amt_sub(a, b)
  if type(a) == "number" and type(b) == "number" then
    local r = a - b
    if r < AMT_SMALL and r > -AMT_SMALL then return r end
  end
  return amt_norm(amount_sub(amt_pair(a), amt_pair(b)))
end

local function amt_neg(a)
  if type(a) == "number" then return -a end
  return amt_norm(amount_neg(a))
end

-- A pair is at least 10^15 in magnitude and a number below, so a pair and a
-- number compare by the pair's sign alone.
local function amt_cmp(a, b)
  local ta, tb = type(a), type(b)
  if ta == "number" then
    if tb == "number" then
      if a < b then return -1 end
      if a > b then return 1 end
      return 0
    end
    if b[1] < 0 then return 1 end
    return -1
  end
  if tb == "number" then
    if a[1] < 0 then return -1 end
    return 1
  end
  return amount_cmp(a, b)
end

local function amt_min(a, b)
  if amt_cmp(a, b) <= 0 then return a end
  return b
end

local function amt_max(a, b)
  if amt_cmp(a, b) >= 0 then return a end
  return b
end
`
