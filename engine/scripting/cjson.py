"""Lua source of the `cjson` library as Redis 7.0 ships it (lua-cjson 2.1.0 semantics).

Pure Lua so no Python object ever crosses into script space. Spliced into the sandbox
bootstrap (see engine/scripting/sandbox.py), where `G`, `readonly` and the saved builtins exist.
Error texts, number format (%.14g), escaping ('/' -> '\\/'), sparse-array and nesting rules
were checked against redis-server 7.0.15.
"""

CJSON_LUA = r"""
local cjson = {}
local CJSON_NULL = newproxy(false)          -- a userdata, like Redis' lightuserdata NULL
local ENCODE_MAX_DEPTH, DECODE_MAX_DEPTH = 1000, 1000
local SPARSE_RATIO, SPARSE_SAFE = 2, 10

local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['/'] = '\\/', ['\b'] = '\\b', ['\f'] = '\\f',
                 ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t', ['\127'] = '\\u007f'}
for c = 0, 31 do
  local ch = string.char(c)
  if not escapes[ch] then escapes[ch] = s_format('\\u%04x', c) end
end

local function json_number(n)
  if n ~= n or n == math.huge or n == -math.huge then
    error('Cannot serialise number: must not be NaN or Inf', 0)
  end
  return s_format('%.14g', n)
end

local encode_value
local function encode_table(t, depth, buf)
  depth = depth + 1
  if depth > ENCODE_MAX_DEPTH then
    error('Cannot serialise, excessive nesting (' .. depth .. ')', 0)
  end
  -- array detection as lua_array_length(): only positive integer keys
  local max, items, is_array = 0, 0, true
  for k in next, t do
    if type(k) == 'number' and k > 0 and k == m_floor(k) then
      if k > max then max = k end
      items = items + 1
    else
      is_array = false
      break
    end
  end
  if is_array and max > items * SPARSE_RATIO and max > SPARSE_SAFE then
    error('Cannot serialise table: excessively sparse array', 0)
  end
  if is_array and max > 0 then
    buf[#buf + 1] = '['
    for i = 1, max do
      if i > 1 then buf[#buf + 1] = ',' end
      encode_value(rawget(t, i), depth, buf)
    end
    buf[#buf + 1] = ']'
    return
  end
  buf[#buf + 1] = '{'
  local first = true
  for k, v in next, t do
    if not first then buf[#buf + 1] = ',' end
    first = false
    local kt = type(k)
    if kt == 'string' then
      buf[#buf + 1] = '"' .. s_gsub(k, '[%z\1-\31"\\/\127]', escapes) .. '":'
    elseif kt == 'number' then
      buf[#buf + 1] = '"' .. json_number(k) .. '":'
    else
      error('Cannot serialise ' .. kt .. ': table key must be a number or string', 0)
    end
    encode_value(v, depth, buf)
  end
  buf[#buf + 1] = '}'
end

encode_value = function(v, depth, buf)
  local t = type(v)
  if t == 'string' then
    buf[#buf + 1] = '"' .. s_gsub(v, '[%z\1-\31"\\/\127]', escapes) .. '"'
  elseif t == 'number' then
    buf[#buf + 1] = json_number(v)
  elseif t == 'boolean' then
    buf[#buf + 1] = v and 'true' or 'false'
  elseif t == 'nil' or v == CJSON_NULL then
    buf[#buf + 1] = 'null'
  elseif t == 'table' and not proxy_view[v] then
    encode_table(v, depth, buf)
  elseif t == 'table' then
    local b = proxy_view[v]
    if lazy_of[b] then b = lazy_of[b]() end
    encode_table(b, depth, buf)
  else
    error('Cannot serialise ' .. t .. ': type not supported', 0)
  end
end

local function cjson_encode(...)
  if select('#', ...) ~= 1 then error("bad argument #1 to 'encode' (expected 1 argument)", 2) end
  local buf = {}
  local ok, err = pcall(encode_value, (...), 0, buf)
  if not ok then
    if type(err) == 'table' then error(err, 0) end     -- a SCRIPT KILL passing through
    error(err, 2)
  end
  return t_concat(buf)
end

-- ---- decoding: a tokenizer reproducing lua-cjson's error messages and positions
local TOKEN_NAMES = {['{'] = 'T_OBJ_BEGIN', ['}'] = 'T_OBJ_END', ['['] = 'T_ARR_BEGIN',
                     [']'] = 'T_ARR_END', [':'] = 'T_COLON', [','] = 'T_COMMA'}

local function utf8_char(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then
    return string.char(0xC0 + m_floor(cp / 64), 0x80 + cp % 64)
  end
  if cp < 0x10000 then
    return string.char(0xE0 + m_floor(cp / 4096), 0x80 + m_floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + m_floor(cp / 262144), 0x80 + m_floor(cp / 4096) % 64,
                     0x80 + m_floor(cp / 64) % 64, 0x80 + cp % 64)
end

local SIMPLE_ESCAPES = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f',
                        n = '\n', r = '\r', t = '\t'}

-- returns kind, value, index(1-based) ; kind is a T_* name or 'error' with value = message
local function next_token(s, pos)
  pos = s_find(s, '[^ \t\n\r]', pos) or (#s + 1)
  local ch = s_sub(s, pos, pos)
  if ch == '' then return 'T_END', nil, pos, pos end
  local simple = TOKEN_NAMES[ch]
  if simple then return simple, ch, pos, pos + 1 end
  if ch == '"' then
    local parts, i = {}, pos + 1
    while true do
      local j = s_find(s, '["\\]', i)
      if not j then return 'error', 'unexpected end of string', #s + 1 end
      parts[#parts + 1] = s_sub(s, i, j - 1)
      if s_sub(s, j, j) == '"' then return 'T_STRING', t_concat(parts), pos, j + 1 end
      local e = s_sub(s, j + 1, j + 1)
      if e == 'u' then
        local hex = s_sub(s, j + 2, j + 5)
        local cp = (#hex == 4 and not s_find(hex, '[^%x]')) and tonumber(hex, 16)
        if not cp then return 'error', 'invalid unicode escape code', j end
        local consumed = 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local low = s_sub(s, j + 6, j + 7) == '\\u' and s_sub(s, j + 8, j + 11)
          local lcp = low and #low == 4 and not s_find(low, '[^%x]') and tonumber(low, 16)
          if not lcp or lcp < 0xDC00 or lcp > 0xDFFF then
            return 'error', 'invalid unicode escape code', j
          end
          cp = 0x10000 + (cp - 0xD800) * 1024 + (lcp - 0xDC00)
          consumed = 12
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          return 'error', 'invalid unicode escape code', j
        end
        parts[#parts + 1] = utf8_char(cp)
        i = j + consumed
      else
        local r = SIMPLE_ESCAPES[e]
        if not r then return 'error', 'invalid escape code', j end
        parts[#parts + 1] = r
        i = j + 2
      end
    end
  end
  if s_find(ch, '^[-+%d]') then
    local num = s_find(s, '^[-+]?0[xX]%x+', pos) and s_sub(s, s_find(s, '^[-+]?0[xX]%x+', pos))
    if not num then
      local a, b = s_find(s, '^[-+]?%d*%.?%d*[eE][-+]?%d+', pos)
      if not a then a, b = s_find(s, '^[-+]?%d*%.?%d*', pos) end
      num = s_sub(s, a, b)
    end
    local v = tonumber(num)
    if v == nil then return 'error', 'invalid number', pos end
    return 'T_NUMBER', v, pos, pos + #num
  end
  if s_sub(s, pos, pos + 3) == 'true' then return 'T_BOOLEAN', true, pos, pos + 4 end
  if s_sub(s, pos, pos + 4) == 'false' then return 'T_BOOLEAN', false, pos, pos + 5 end
  if s_sub(s, pos, pos + 3) == 'null' then return 'T_NULL', CJSON_NULL, pos, pos + 4 end
  return 'error', 'invalid token', pos
end

local function decode_fail(expected, kind, value, index)
  local found = (kind == 'error') and value or kind
  error('Expected ' .. expected .. ' but found ' .. found .. ' at character ' .. index, 0)
end

local parse_value
local function parse_object(s, pos, depth, start)
  if depth > DECODE_MAX_DEPTH then
    error('Found too many nested data structures (' .. depth .. ') at character ' .. start, 0)
  end
  local obj = {}
  local kind, value, index, nextpos = next_token(s, pos)
  if kind == 'T_OBJ_END' then return obj, nextpos end
  while true do
    if kind ~= 'T_STRING' then decode_fail('object key string', kind, value, index) end
    local key = value
    kind, value, index, nextpos = next_token(s, nextpos)
    if kind ~= 'T_COLON' then decode_fail('colon', kind, value, index) end
    local v
    v, nextpos = parse_value(s, nextpos, depth)
    rawset(obj, key, v)
    kind, value, index, nextpos = next_token(s, nextpos)
    if kind == 'T_OBJ_END' then return obj, nextpos end
    if kind ~= 'T_COMMA' then decode_fail('comma or object end', kind, value, index) end
    kind, value, index, nextpos = next_token(s, nextpos)
  end
end

local function parse_array(s, pos, depth, start)
  if depth > DECODE_MAX_DEPTH then
    error('Found too many nested data structures (' .. depth .. ') at character ' .. start, 0)
  end
  local arr, n = {}, 0
  local kind, value, index, nextpos = next_token(s, pos)
  if kind == 'T_ARR_END' then return arr, nextpos end
  while true do
    local v
    v, nextpos = parse_value(s, index, depth)
    n = n + 1
    rawset(arr, n, v)
    kind, value, index, nextpos = next_token(s, nextpos)
    if kind == 'T_ARR_END' then return arr, nextpos end
    if kind ~= 'T_COMMA' then decode_fail('comma or array end', kind, value, index) end
    kind, value, index, nextpos = next_token(s, nextpos)
    index = index or nextpos
  end
end

parse_value = function(s, pos, depth)
  local kind, value, index, nextpos = next_token(s, pos)
  if kind == 'T_STRING' or kind == 'T_NUMBER' or kind == 'T_BOOLEAN' or kind == 'T_NULL' then
    return value, nextpos
  elseif kind == 'T_OBJ_BEGIN' then
    return parse_object(s, nextpos, depth + 1, index)
  elseif kind == 'T_ARR_BEGIN' then
    return parse_array(s, nextpos, depth + 1, index)
  end
  decode_fail('value', kind, value, index)
end

local function cjson_decode(...)
  if select('#', ...) ~= 1 then error("bad argument #1 to 'decode' (expected 1 argument)", 2) end
  local s = ...
  if type(s) == 'number' then s = tostring(s)
  elseif type(s) ~= 'string' then
    error("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")", 2)
  end
  local ok, v, pos = pcall(parse_value, s, 1, 0)
  if not ok then
    if type(v) == 'table' then error(v, 0) end
    error(v, 2)
  end
  local kind, value, index = next_token(s, pos)
  if kind ~= 'T_END' then
    local found = (kind == 'error') and value or kind
    error('Expected the end but found ' .. found .. ' at character ' .. index, 2)
  end
  return v
end

cjson.encode = cfunction(cjson_encode)
cjson.decode = cfunction(cjson_decode)
cjson.null = CJSON_NULL
cjson._NAME = 'cjson'
cjson._VERSION = '2.1.0'
-- configuration setters are global state in C; here they only report the defaults
function cjson.encode_sparse_array() return false, SPARSE_RATIO, SPARSE_SAFE end
function cjson.encode_max_depth() return ENCODE_MAX_DEPTH end
function cjson.decode_max_depth() return DECODE_MAX_DEPTH end
function cjson.encode_number_precision() return 14 end
function cjson.encode_keep_buffer() return true end
function cjson.encode_invalid_numbers() return false end
function cjson.decode_invalid_numbers() return true end
function cjson.new() return readonly(copy(cjson)) end
G.cjson = readonly(cjson)
"""
