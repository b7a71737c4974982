"""Lua source of the script sandbox (Redis 7.0 compatible), run once per ScriptRuntime.

The bootstrap chunk runs with the real Lua globals and receives the Python callbacks as its
varargs. It keeps every dangerous or internal object (real globals, `debug`, the Python
callbacks) in local upvalues: user code only ever sees the read-only proxy environment built
here, so nothing Python is reachable from a script (lupa's `python` object gives full Python
access, see GHSA-69v7-xpr6-6gjm / CVE-2022-0543 for what an escape costs).

Functions (FUNCTION LOAD / FCALL) share this VM with EVAL but get globals of their own (no KEYS/ARGV), and
library code runs with redis's load-time API only: see "functions" below and engine/scripting/functions.py.

Read-only emulation: Redis patches its Lua VM with per-table read-only flags; lupa's stock
Lua 5.1 has none, so scripts see empty proxy tables whose metatable forwards reads and raises
"Attempt to modify a readonly table" on writes; raw accessors are wrapped to see through
proxies and to refuse writes.
"""

INTERNAL_CHUNKNAME = "=cachemere_sandbox"

import re as _re

_LUA_KEYWORDS = frozenset("and break do else elseif end false for function if in local nil not or repeat return "
                          "then true until while".split())
_CAPTURES_PER_CLOSURE = 50          # Lua 5.1 allows 60 upvalues per function


def lazy_library_lua(global_name, source, last_line, result):
    """The sandbox code that makes `global_name` a library loaded on first use (see lazy_library in SANDBOX_LUA).

    `source` is the library's code as it would run spliced into the sandbox; its `last_line` (which stores the
    library) becomes `return <result>`. The code runs as a chunk of its own, so every name it uses that may be a
    sandbox local is passed to it: closures in the sandbox return those names' values when the library loads
    (names that are no local there read the bootstrap globals, harmlessly nil for table keys and the like)."""
    assert source.count(last_line) == 1, last_line
    body = source.replace(last_line, "return " + result)
    code = _re.sub(r"--\[(=*)\[.*?\]\1\]|--[^\n]*|\[(=*)\[.*?\]\2\]|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"",
                   " ", body, flags=_re.S)
    names = sorted({m.group(1) for m in _re.finditer(r"(?<![\w.:])([A-Za-z_]\w*)", code)} - _LUA_KEYWORDS)
    groups = [names[i:i + _CAPTURES_PER_CLOSURE] for i in range(0, len(names), _CAPTURES_PER_CLOSURE)]
    prologue = ["local " + ", ".join("__cap%d" % g for g in range(len(groups))) + " = ..."]
    for g, group in enumerate(groups):
        prologue.append("local %s = %s" % (", ".join(group),
                                           ", ".join("__cap%d[%d]" % (g, i + 1) for i in range(len(group)))))
    chunk = "\n".join(prologue) + "\n" + body
    level = 1
    while ("]" + "=" * level + "]") in chunk:
        level += 1
    eq = "=" * level
    finish = "cfunctions" if global_name == "cmsgpack" else "nil"
    captures = ", ".join("function() return {%s} end" % ", ".join(group) for group in groups)
    return "G.%s = lazy_library([%s[\n%s]%s], %s, %s)\n" % (global_name, eq, chunk, eq, finish, captures)

SANDBOX_LUA = r"""
local py_call, py_tick, py_log, py_sha1hex, py_acl_check, py_lib, lib_spec,
      HOOK_COUNT, REDIS_VERSION, REDIS_VERSION_NUM, py_load_tick = ...
-- redis.call / redis.pcall / setresp's C halves (engine/scripting/runtime.pyx, the C path), when the runtime bound them
local c_call, c_pcall, c_setresp = __cm_call, __cm_pcall, __cm_setresp

local rawget, rawset, rawequal, next, type, tostring, tonumber, select, error, pcall, xpcall =
      rawget, rawset, rawequal, next, type, tostring, tonumber, select, error, pcall, xpcall
local setmetatable, getmetatable, unpack, setfenv, loadstring, real_pairs, real_ipairs =
      setmetatable, getmetatable, unpack, setfenv, loadstring, pairs, ipairs
local string, table, math, coroutine = string, table, math, coroutine
local s_format, s_sub, s_byte, s_find, s_gsub = string.format, string.sub, string.byte, string.find, string.gsub
local s_lower = string.lower
local t_concat, t_insert, t_remove = table.concat, table.insert, table.remove
local m_floor, m_ceil = math.floor, math.ceil
local dbg_sethook, dbg_getinfo = debug.sethook, debug.getinfo
local co_create, co_resume = coroutine.create, coroutine.resume
local newproxy = newproxy       -- cjson.null (the bootstrap drops the global)

local INTERNAL_SOURCE = '__INTERNAL_SOURCE__'
local READONLY = 'Attempt to modify a readonly table'
local KILL_MSG = 'ERR Script killed by user with SCRIPT KILL...'

-- ---------------------------------------------------------------- read-only proxies
local proxy_view = setmetatable({}, {__mode = 'k'})   -- proxy -> backing table
local function readonly_newindex() error(READONLY, 2) end
local META_STUB = {}
proxy_view[META_STUB] = {}
setmetatable(META_STUB, {__newindex = readonly_newindex, __metatable = META_STUB})

local function readonly(backing)
  local proxy = {}
  proxy_view[proxy] = backing
  setmetatable(proxy, {__index = backing, __newindex = readonly_newindex, __metatable = META_STUB})
  return proxy
end

local G = {}          -- what scripts see as globals
local ENV = {}        -- the proxy scripts run in
proxy_view[ENV] = G
-- a global read goes ENV -> G as a table lookup inside the VM (no Lua call per `redis`, `KEYS`...);
-- only a miss reaches the function, still called from the script's frame, hence level 2
setmetatable(G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
setmetatable(ENV, {
  __index = G,
  __newindex = readonly_newindex,
  __metatable = META_STUB,
})

local function pack(...) return {n = select('#', ...), ...} end
local co_yield, co_wrap = coroutine.yield, coroutine.wrap

-- Library functions that raise errors must look like C functions to the script: a script's
-- `return redis.call(...)` is a tail call, which would erase the script's frame (and so the
-- "user_script:1:" position Redis reports) if the callee were a Lua function. A callable
-- table whose __call is a coroutine.wrap() C function keeps the caller's frame, and for
-- string errors auxwrap prepends the caller's position exactly like luaL_error does.
-- Scripts must still see them as functions (type, tostring, getmetatable answer as for a C function):
-- the callable tables are remembered here, and the sandbox's type/tostring/getmetatable consult it.
local cfunction_objs = setmetatable({}, {__mode = 'k'})
local real_type, real_tostring, real_getmetatable = type, tostring, getmetatable
local function script_type(v)
  local t = real_type(v)
  if t == 'table' and cfunction_objs[v] then return 'function' end
  return t
end
local function script_tostring(v)
  if cfunction_objs[v] then return 'function: ' .. s_sub(real_tostring(v), 8) end   -- "table: 0x..."
  return real_tostring(v)
end
local function script_getmetatable(v)
  if cfunction_objs[v] then return nil end
  return real_getmetatable(v)
end

-- All of them share one metatable and so one coroutine (a coroutine is ~1.4 KB the GC marks in every cycle, and
-- there are ~30 such functions): the coroutine finds the function to run from the callable table it is called
-- with. None of these functions calls another one of them (which would resume the running coroutine).
local cfunction_mt = {__metatable = false, __newindex = readonly_newindex}
do
  local spawn, step, after
  -- proper tail calls instead of a loop over packed tables: no table per call
  step = function(obj, ...) return after(pcall(cfunction_objs[obj], ...)) end
  after = function(ok, ...)
    if not ok then
      cfunction_mt.__call = spawn() -- this coroutine dies with the error; the next call gets a new one
      error((...), 0)
    end
    return step(co_yield(...))
  end
  spawn = function() return co_wrap(step) end
  cfunction_mt.__call = spawn()
end

local function cfunction(f)
  local obj = {}
  proxy_view[obj] = {}              -- rawset/pairs treat it like any read-only table
  cfunction_objs[obj] = f
  setmetatable(obj, cfunction_mt)
  return obj
end

-- ---------------------------------------------------------------- state of the current run
local killed = false
local hook_active = false
local err_handler                 -- the script error handler (defined below; sb_load needs it too)
local resp = 2
local hook
-- the count hook stays on the main thread between runs (two debug.sethook calls per run cost
-- more than the script); false once a kill switched it to a line hook or reset removed it
local main_count_hook = false

hook = function()
  if not hook_active then return end
  if not killed and py_tick() then killed = true end
  -- never raise inside the sandbox's own code (error handler, wrappers, cleanup): the
  -- line hook fires again as soon as control is back in the script
  if killed and dbg_getinfo(2, 'S').source ~= INTERNAL_SOURCE then
    -- like Redis: from now on fire on every line so pcall cannot swallow the kill
    dbg_sethook(hook, 'l')
    main_count_hook = false
    error({err = KILL_MSG}, 0)
  end
end

local function install_hook(co)
  if not hook_active then return end
  if killed then
    if co then dbg_sethook(co, hook, 'l') else dbg_sethook(hook, 'l') end
  else
    if co then dbg_sethook(co, hook, '', HOOK_COUNT) else dbg_sethook(hook, '', HOOK_COUNT) end
  end
end

-- ---------------------------------------------------------------- sandboxed builtins
local function sb_rawset(t, k, v)
  if proxy_view[t] then error(READONLY, 0) end
  return rawset(t, k, v)
end
local lazy_of = {}       -- a lazily loaded library's placeholder backing -> its loader (see lazy_library)
local function sb_rawget(t, k)
  local b = proxy_view[t]
  if b then
    if lazy_of[b] then b = lazy_of[b]() end
    return rawget(b, k)
  end
  return rawget(t, k)
end
local function sb_next(t, k)
  local b = proxy_view[t]
  if b then
    if lazy_of[b] then b = lazy_of[b]() end
    return next(b, k)
  end
  return next(t, k)
end
local function sb_pairs(t)
  if proxy_view[t] then return sb_next, t, nil end
  return real_pairs(t)
end
local function proxy_inext(t, i)
  i = i + 1
  local b = proxy_view[t]
  if lazy_of[b] then b = lazy_of[b]() end
  local v = rawget(b, i)
  if v ~= nil then return i, v end
end
local function sb_ipairs(t)
  if proxy_view[t] then return proxy_inext, t, 0 end
  return real_ipairs(t)
end
local function sb_setmetatable(t, mt)
  if proxy_view[t] then error(READONLY, 0) end
  return setmetatable(t, mt)
end

local run_env = ENV     -- the globals of what runs now: EVAL's (ENV) or the functions' (FENV)
local function sb_loadstring(s, chunkname)
  -- precompiled bytecode can break the VM: refuse it like Redis does
  if type(s) == 'string' and s_byte(s, 1) == 27 then return nil, 'binary chunks are not allowed' end
  local f, err
  if chunkname == nil then f, err = loadstring(s) else f, err = loadstring(s, chunkname) end
  if f then setfenv(f, run_env) end
  return f, err
end
local function sb_load(reader, chunkname)
  if script_type(reader) ~= 'function' then
    error("bad argument #1 to 'load' (function expected, got " .. type(reader) .. ")", 2)
  end
  local parts = {}
  while true do
    -- lua_load runs the reader protected, with the running error handler (Lua 5.1 luaD_protectedparser
    -- passes L->errfunc): the error becomes load's second result as the handler shaped it
    local ok, piece = xpcall(reader, err_handler)
    if killed then error({err = KILL_MSG}, 0) end
    if not ok then return nil, piece end
    if piece == nil or piece == '' then break end
    if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  return sb_loadstring(t_concat(parts), chunkname or '=(load)')
end

-- Redis 7 pcall: an error table raised by redis.call is returned as its err string
local function sb_pcall(f, ...)
  local r = pack(pcall(f, ...))
  if killed then error({err = KILL_MSG}, 0) end
  if not r[1] then
    local e = r[2]
    if type(e) == 'table' then
      local m = e.err
      if type(m) == 'string' or type(m) == 'number' then e = m end
    end
    return false, e
  end
  return unpack(r, 1, r.n)
end
local function sb_xpcall(f, handler)
  local r = pack(xpcall(f, handler))
  if killed then error({err = KILL_MSG}, 0) end
  return unpack(r, 1, r.n)
end

local function sb_co_create(f)
  local co = co_create(f)
  install_hook(co)
  return co
end
local function sb_co_wrap(f)
  local co = sb_co_create(f)
  return function(...)
    local r = pack(co_resume(co, ...))
    if r[1] then return unpack(r, 2, r.n) end
    if type(r[2]) == 'string' then error(r[2], 2) end
    error(r[2], 0)
  end
end

local function copy(t)
  local c = {}
  for k, v in real_pairs(t) do c[k] = v end
  return c
end

local function check_not_proxy(fn)
  return function(t, ...)
    if proxy_view[t] then error(READONLY, 0) end
    return fn(t, ...)
  end
end

-- ---------------------------------------------------------------- math.random (redisLrand48)
-- 48-bit LCG of rand.c computed with 24-bit halves so doubles stay exact.
local TWO24 = 16777216
local A_HI, A_LO, C = 1502, 15525485, 11          -- 0x5DEECE66D split at bit 24
local x_hi, x_lo = 0x1234AB, 0xCD330E              -- initial state 0x1234ABCD330E
local function lrand48()
  local lo = A_LO * x_lo + C
  local carry = m_floor(lo / TWO24)
  lo = lo - carry * TWO24
  local hi = (A_HI * x_lo + A_LO * x_hi + carry) % TWO24
  x_hi, x_lo = hi, lo
  return m_floor((hi * TWO24 + lo) / 131072)      -- X >> 17
end
local LRAND48_MAX = 2147483647
local function checkint(v, n)
  local x = tonumber(v)
  if x == nil then
    local got = (v == nil) and 'no value' or type(v)
    error("bad argument #" .. n .. " to 'random' (number expected, got " .. got .. ")", 3)
  end
  if x >= 0 then return m_floor(x) end
  return m_ceil(x)
end
local function redis_random(...)
  local nargs = select('#', ...)
  local r = (lrand48() % LRAND48_MAX) / LRAND48_MAX
  if nargs == 0 then return r end
  local a, b = ...
  if nargs == 1 then
    local u = checkint(a, 1)
    if not (1 <= u) then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return m_floor(r * u) + 1
  elseif nargs == 2 then
    local l = checkint(a, 1)
    local u = checkint(b, 2)
    if not (l <= u) then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return m_floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 2)
end
local function redis_randomseed(seed)
  local s = tonumber(seed)
  if s == nil then
    error("bad argument #1 to 'randomseed' (number expected, got " .. ((seed == nil) and 'no value' or type(seed)) .. ")", 2)
  end
  s = (s >= 0) and m_floor(s) or m_ceil(s)
  s = s % 4294967296                              -- C int -> 32 bits
  x_hi = m_floor(s / 256)                         -- state = (seed << 16) | 0x330E
  x_lo = (s % 256) * 65536 + 0x330E
end

-- ---------------------------------------------------------------- redis.*
local function push_error_buff(s)     -- luaPushErrorBuff
  local code, msg
  if s_sub(s, 1, 1) == '-' then
    local sp = s_find(s, ' ', 1, true)
    if not sp then code, msg = 'ERR', s_sub(s, 2)
    else code, msg = s_sub(s, 2, sp - 1), s_sub(s, sp + 1) end
  else
    code, msg = 'ERR', s
  end
  msg = s_gsub(msg, '^[\r\n]+', '')
  msg = s_gsub(msg, '[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end
local function raise(msg) error(push_error_buff(msg), 0) end

local function command_error(raise_errors, text)
  local e = push_error_buff(text)
  if raise_errors then error(e, 0) end
  return e
end

-- the general case: numbers to convert, or too many arguments for the select() scan below
local function redis_command_table(raise_errors, n, ...)
  local argv = {...}
  for i = 1, n do
    local a = argv[i]
    local t = type(a)
    if t == 'number' then
      argv[i] = s_format('%.17g', a)
    elseif t ~= 'string' then
      return command_error(raise_errors, 'Lua redis lib command arguments must be strings or integers')
    end
  end
  local is_error, reply = py_call(resp, raise_errors, unpack(argv, 1, n))
  if is_error and raise_errors then error(reply, 0) end
  return reply
end

local function redis_command(raise_errors, ...)
  local n = select('#', ...)
  if n == 0 then
    return command_error(raise_errors, 'Please specify at least one argument for this redis lib call')
  end
  if n > 8 then return redis_command_table(raise_errors, n, ...) end
  -- a few string arguments (the usual call) go straight through, without an argv table
  for i = 1, n do
    if type((select(i, ...))) ~= 'string' then return redis_command_table(raise_errors, n, ...) end
  end
  local is_error, reply = py_call(resp, raise_errors, ...)
  if is_error and raise_errors then error(reply, 0) end
  return reply
end

local redis = {}
-- a C function keeps the script's frame for error positions by itself, as redis' own luaRedisCallCommand does
redis.call = c_call or cfunction(function(...) return redis_command(true, ...) end)
redis.pcall = c_pcall or function(...) return redis_command(false, ...) end
redis.sha1hex = cfunction(function(...)
  if select('#', ...) ~= 1 then raise('wrong number of arguments') end
  local s = ...
  if type(s) == 'number' then s = tostring(s) elseif type(s) ~= 'string' then s = '' end
  return py_sha1hex(s)
end)
redis.error_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return push_error_buff('wrong number or type of arguments')
  end
  if s_sub(s, 1, 1) ~= '-' then s = '-' .. s end
  return push_error_buff(s)
end
redis.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return push_error_buff('wrong number or type of arguments')
  end
  return {ok = s}
end
redis.log = cfunction(function(...)
  local argc = select('#', ...)
  if argc < 2 then raise('redis.log() requires two arguments or more.') end
  local level = tonumber((...))
  if level == nil then raise('First argument must be a number (log level).') end
  level = (level >= 0) and m_floor(level) or m_ceil(level)
  if level < 0 or level > 3 then raise('Invalid debug level.') end
  local parts, args = {}, {...}
  for j = 2, argc do
    local a = args[j]
    if type(a) == 'string' or type(a) == 'number' then parts[#parts + 1] = tostring(a) end
  end
  py_log(level, t_concat(parts, ' '))
end)
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION = REDIS_VERSION
redis.REDIS_VERSION_NUM = REDIS_VERSION_NUM
redis.setresp = cfunction(function(...)
  if select('#', ...) ~= 1 then raise('redis.setresp() requires one argument.') end
  local r = tonumber((...)) or 0
  if r ~= 2 and r ~= 3 then raise('RESP version must be 2 or 3.') end
  resp = r
  if c_setresp then c_setresp(r) end
end)
redis.set_repl = cfunction(function(...)
  if select('#', ...) ~= 1 then raise('redis.set_repl() requires two arguments.') end
  local f = tonumber((...)) or 0
  f = (f >= 0) and m_floor(f) or m_ceil(f)
  if f < 0 or f > 3 then
    raise('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
  end
end)
redis.replicate_commands = function() return true end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = cfunction(function(...)
  local n = select('#', ...)
  if n == 0 then raise('Please specify at least one argument for this redis lib call') end
  local argv = {...}
  for i = 1, n do
    local a = argv[i]
    if type(a) == 'number' then argv[i] = s_format('%.17g', a)
    elseif type(a) ~= 'string' then raise('Lua redis lib command arguments must be strings or integers') end
  end
  local allowed = py_acl_check(unpack(argv, 1, n))
  if allowed == nil then raise('Invalid command passed to redis.acl_check_cmd()') end
  return allowed
end)

-- ---------------------------------------------------------------- error handler
err_handler = function(err)
  -- report the user frame that raised: skip C functions and this sandbox's own wrappers
  local level = 2
  local i = dbg_getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == INTERNAL_SOURCE) do
    level = level + 1
    i = dbg_getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' or proxy_view[err] then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    rawset(err, 'source', i.source)
    rawset(err, 'line', i.currentline)
  end
  return err
end

local function error_text(e, sha)
  if type(e) ~= 'table' then
    local msg = (type(e) == 'string' or type(e) == 'number') and tostring(e) or 'execution failure'
    return 'ERR Error running script ' .. sha .. ', ' .. s_sub(msg, 1, 100)
  end
  local m = rawget(e, 'err')
  if type(m) ~= 'string' and type(m) ~= 'number' then m = 'ERR unknown error' end
  m = tostring(m)
  local src, line = rawget(e, 'source'), rawget(e, 'line')
  if (type(src) == 'string' or type(src) == 'number') and (type(line) == 'string' or type(line) == 'number') then
    m = m .. ' script: ' .. sha .. ', on ' .. tostring(src) .. ':' .. tostring(line) .. '.'
  end
  return m
end

-- ---------------------------------------------------------------- Lua -> RESP, as a flat token list
local MAX_REPLY_DEPTH = __MAX_REPLY_DEPTH__
local emit
emit = function(out, n, v, depth)
  local t = type(v)
  if t == 'string' then
    out[n + 1] = 's'; out[n + 2] = v; return n + 2
  elseif t == 'number' then
    out[n + 1] = 'i'; out[n + 2] = v; return n + 2
  elseif t == 'boolean' then
    if resp == 2 then
      if v then out[n + 1] = 'i'; out[n + 2] = 1; return n + 2 end
      out[n + 1] = 'n'; return n + 1
    end
    out[n + 1] = 'b'; out[n + 2] = v; return n + 2
  elseif t == 'table' then
    if depth >= MAX_REPLY_DEPTH then
      out[n + 1] = 'E'; out[n + 2] = 'ERR reached lua stack limit'; return n + 2
    end
    local f = rawget(v, 'err')
    if type(f) == 'string' then out[n + 1] = 'E'; out[n + 2] = f; return n + 2 end
    f = rawget(v, 'ok')
    if type(f) == 'string' then out[n + 1] = 'o'; out[n + 2] = f; return n + 2 end
    f = rawget(v, 'double')
    if type(f) == 'number' then out[n + 1] = 'd'; out[n + 2] = f; return n + 2 end
    f = rawget(v, 'big_number')
    if type(f) == 'string' then out[n + 1] = 'B'; out[n + 2] = f; return n + 2 end
    f = rawget(v, 'verbatim_string')
    if type(f) == 'table' then
      local fmt, str = rawget(f, 'format'), rawget(f, 'string')
      if type(fmt) == 'string' and type(str) == 'string' then
        out[n + 1] = 'v'; out[n + 2] = fmt; out[n + 3] = str; return n + 3
      end
    end
    f = rawget(v, 'map')
    if type(f) == 'table' then
      out[n + 1] = 'm'
      local at, count = n + 2, 0
      n = n + 2
      for k, val in next, f do
        n = emit(out, n, k, depth + 1)
        n = emit(out, n, val, depth + 1)
        count = count + 1
      end
      out[at] = count
      return n
    end
    f = rawget(v, 'set')
    if type(f) == 'table' then
      out[n + 1] = 'S'
      local at, count = n + 2, 0
      n = n + 2
      for k in next, f do
        n = emit(out, n, k, depth + 1)
        count = count + 1
      end
      out[at] = count
      return n
    end
    out[n + 1] = 'a'
    local at, j = n + 2, 1
    n = n + 2
    while true do
      local item = rawget(v, j)
      if item == nil then break end
      n = emit(out, n, item, depth + 1)
      j = j + 1
    end
    out[at] = j - 1
    return n
  end
  out[n + 1] = 'n'
  return n + 1
end

-- ---------------------------------------------------------------- script globals
G._G = ENV
G._VERSION = _VERSION
G.assert = assert
G.collectgarbage = collectgarbage
G.error = error
G.gcinfo = gcinfo
G.getmetatable = script_getmetatable
G.ipairs = sb_ipairs
G.load = sb_load
G.loadstring = sb_loadstring
G.next = sb_next
G.pairs = sb_pairs
G.pcall = sb_pcall
G.rawequal = rawequal
G.rawget = sb_rawget
G.rawset = sb_rawset
G.select = select
G.setmetatable = sb_setmetatable
G.tonumber = tonumber
G.tostring = script_tostring
G.type = script_type
G.unpack = unpack
G.xpcall = sb_xpcall
G.__redis__err__handler = err_handler

local sb_string = copy(string)
G.string = readonly(sb_string)
local sb_table = copy(table)
sb_table.insert = check_not_proxy(t_insert)
sb_table.remove = check_not_proxy(t_remove)
G.table = readonly(sb_table)
local sb_math = copy(math)
sb_math.random = cfunction(redis_random)
sb_math.randomseed = cfunction(redis_randomseed)
G.math = readonly(sb_math)
local sb_coroutine = copy(coroutine)
sb_coroutine.create = sb_co_create
sb_coroutine.wrap = sb_co_wrap
G.coroutine = readonly(sb_coroutine)
G.redis = readonly(redis)

-- bit, struct, cmsgpack: Python implementations behind Lua closures; only plain values
-- (strings, numbers, booleans, nil, flat Lua tables) cross the boundary.
local function py_function(libname, fname)
  return function(...)
    local r = pack(py_lib(libname, fname, ...))
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end
end
local pylibs = {}
for libname, fnames in next, lib_spec do
  local lib = {}
  for i = 1, #fnames do lib[fnames[i]] = py_function(libname, fnames[i]) end
  pylibs[libname] = lib
end
local function cfunctions(lib)
  local wrapped = {}
  for k, v in next, lib do
    if type(v) == 'function' then wrapped[k] = cfunction(v) else wrapped[k] = v end
  end
  return wrapped
end
G.bit = readonly(cfunctions(pylibs.bit))
G.struct = readonly(cfunctions(pylibs.struct))

-- cmsgpack and cjson load on first use. Their code is about a third of this VM, which every GC cycle marks
-- (functions, constants, closures); only the source strings stay here until then (a string costs the GC nothing to
-- mark). The global is the library's read-only proxy from the start, so `pairs(_G)`, `rawget(_G, 'cjson')` and
-- the functions' globals see the same value before and after. Until the library loads the proxy's backing table in
-- proxy_view is a placeholder: the proxy's __index, and everything that reads a proxy's backing (sb_rawget, sb_next,
-- ipairs, cjson.encode, cmsgpack.pack, register_function), loads it first through lazy_of[placeholder].
-- The library's chunk gets the sandbox locals it uses as arguments, read when it loads (see lazy_library_lua).
local function lazy_library(src, finish, ...)
  local captures = {...}
  local placeholder, proxy, lib = {}, {}, nil
  local mt = {__newindex = readonly_newindex, __metatable = META_STUB}
  local function force()
    if lib then return lib end
    local f, err = loadstring(src, INTERNAL_SOURCE)
    if not f then error(err, 0) end
    local args = {}
    for i = 1, #captures do args[i] = captures[i]() end
    local loaded = f(unpack(args, 1, #captures))
    if finish then loaded = finish(loaded) end
    lib = loaded
    proxy_view[proxy] = lib
    lazy_of[placeholder] = nil
    mt.__index = lib
    src, captures = nil, nil
    return lib
  end
  lazy_of[placeholder] = force
  proxy_view[proxy] = placeholder
  mt.__index = function(_, k) return force()[k] end
  setmetatable(proxy, mt)
  return proxy
end
__MSGPACK__
__CJSON__
G.KEYS = {}
G.ARGV = {}

-- s:method() goes through the real string metatable; getmetatable('') must not expose it
local string_mt = getmetatable('')
rawset(string_mt, '__metatable', readonly({__index = G.string}))

-- ---------------------------------------------------------------- functions (FUNCTION LOAD / FCALL)
-- Redis runs functions in a Lua state of their own; here they share the VM with EVAL but not its globals.
-- FENV is the environment of every library chunk, and so of the closures a library registers. Its reads
-- go to LOAD_G while a library loads (redis luaEngineCreate: only redis.register_function, redis.log, the
-- LOG_* and version constants exist then) and to FG otherwise: EVAL's globals without KEYS, ARGV and
-- __redis__err__handler (a function gets its keys and args as arguments).
local function missing_global(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

local FG = {}
for k, v in next, G do
  if k ~= 'KEYS' and k ~= 'ARGV' and k ~= '__redis__err__handler' then FG[k] = v end
end
setmetatable(FG, {__index = missing_global})
local FENV = {}
proxy_view[FENV] = FG
FG._G = FENV
local fenv_mt = {__index = FG, __newindex = readonly_newindex, __metatable = META_STUB}
setmetatable(FENV, fenv_mt)

local FLAG_BITS = {['no-writes'] = 1, ['allow-oom'] = 2, ['allow-stale'] = 4, ['no-cluster'] = 8,
                   ['allow-cross-slot-keys'] = 16}
local NAME_ERROR = 'Library names can only contain letters, numbers, or underscores(_) and must be at ' ..
                   'least one character long'
local registering = nil        -- while a library loads: {n = count, names = {}, flat list of 4 per function}

local function is_str(v) local t = type(v) return t == 'string' or t == 'number' end

local function read_flags(t)   -- luaRegisterFunctionReadFlags: a bitmask, nil on any unknown flag
  local mask, j = 0, 1
  while true do
    local f = t[j]
    if f == nil then return mask end
    if not is_str(f) then return nil end
    local b = FLAG_BITS[s_lower(tostring(f))]
    if not b then return nil end
    if mask % (2 * b) < b then mask = mask + b end
    j = j + 1
  end
end

-- luaRegisterFunction with its argument readers; errors are tables without a position, as redis raises them
local function register_function(...)
  if not registering then raise('redis.register_function can only be called on FUNCTION LOAD command') end
  local argc = select('#', ...)
  if argc < 1 or argc > 2 then raise('wrong number of arguments to redis.register_function') end
  local name, callback, flags, desc = nil, nil, 0, false
  if argc == 1 then
    local t = ...
    if type(t) ~= 'table' then
      raise('calling redis.register_function with a single argument is only applicable to Lua table ' ..
            '(representing named arguments).')
    end
    local b = proxy_view[t] or t
    if lazy_of[b] then b = lazy_of[b]() end
    for k, v in next, b do
      if not is_str(k) then raise('named argument key given to redis.register_function is not a string') end
      local key = s_lower(tostring(k))
      if key == 'function_name' then
        if not is_str(v) then raise('function_name argument given to redis.register_function must be a string') end
        name = tostring(v)
      elseif key == 'description' then
        if not is_str(v) then raise('description argument given to redis.register_function must be a string') end
        desc = tostring(v)
      elseif key == 'callback' then
        if script_type(v) ~= 'function' then
          raise('callback argument given to redis.register_function must be a function')
        end
        callback = v
      elseif key == 'flags' then
        if type(v) ~= 'table' then
          raise('flags argument to redis.register_function must be a table representing function flags')
        end
        flags = read_flags(v)
        if not flags then raise('unknown flag given') end
      else
        raise('unknown argument given to redis.register_function')
      end
    end
    if not name then raise('redis.register_function must get a function name argument') end
    if not callback then raise('redis.register_function must get a callback argument') end
  else
    local n, f = ...
    if not is_str(n) then raise('first argument to redis.register_function must be a string') end
    if script_type(f) ~= 'function' then raise('second argument to redis.register_function must be a function') end
    name, callback = tostring(n), f
  end
  if name == '' or s_find(name, '[^%w_]') then raise(NAME_ERROR) end
  local reg = registering
  if reg.names[name] then raise('Function already exists in the library') end
  reg.names[name] = true
  local n = reg.n
  reg[n + 1], reg[n + 2], reg[n + 3], reg[n + 4] = name, callback, flags, desc
  reg.n = n + 4
end

local load_redis = {
  register_function = cfunction(register_function),
  log = redis.log,
  LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
  LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
  REDIS_VERSION = REDIS_VERSION, REDIS_VERSION_NUM = REDIS_VERSION_NUM,
}
setmetatable(load_redis, {__index = missing_global})
local LOAD_G = setmetatable({redis = readonly(load_redis)}, {__index = missing_global})

-- FUNCTION LOAD's time limit (redis luaEngineLoadHook): py_load_tick says when it is over
local load_timed_out = false
local load_hook
load_hook = function()
  if not load_timed_out and py_load_tick() then load_timed_out = true end
  if load_timed_out and dbg_getinfo(2, 'S').source ~= INTERNAL_SOURCE then
    dbg_sethook(load_hook, 'l')
    error(push_error_buff('FUNCTION LOAD timeout'), 0)
  end
end

-- ---------------------------------------------------------------- entry points for Python
local api = {}

function api.install_library(name, lib)
  G[name] = readonly(lib)
  FG[name] = G[name]
end

-- Run a library's code (what follows its shebang line) with the load-time API. Returns true, a flat list
-- (name, callback, flags bitmask, description or false per function) and its length, or false and
-- redis's error text.
function api.load_library(body)
  local f, err = loadstring(body, '@user_function')
  if not f then return false, 'Error compiling function: ' .. tostring(err) end
  setfenv(f, FENV)
  registering = {n = 0, names = {}}
  fenv_mt.__index = LOAD_G
  load_timed_out = false
  dbg_sethook(load_hook, '', HOOK_COUNT)
  main_count_hook = false
  local ok, e = pcall(f)
  dbg_sethook()
  fenv_mt.__index = FG
  local reg = registering
  registering = nil
  if not ok then
    local msg
    if is_str(e) then
      msg = 'ERR ' .. tostring(e)
    elseif type(e) == 'table' and is_str(rawget(e, 'err')) then
      msg = tostring(rawget(e, 'err'))
    else
      msg = 'ERR unknown error'
    end
    return false, 'Error registering functions: ' .. msg
  end
  return true, reg, reg.n
end

function api.compile(body)
  local f, err = loadstring(body, '@user_script')
  if not f then return false, err end
  setfenv(f, ENV)
  return f, false
end

-- One call from Python per script run (each Python<->Lua crossing costs microseconds): KEYS and ARGV
-- arrive as varargs after their count, and a small reply comes back as its tokens directly.
function api.run(fn, sha, numkeys, ...)
  local n = select('#', ...)
  if numkeys == n then return api.run_tables(fn, sha, {...}, {}) end
  if numkeys == 0 then return api.run_tables(fn, sha, {}, {...}) end
  local args = {...}
  local keys, argv = {}, {}
  for i = 1, numkeys do keys[i] = args[i] end
  for i = numkeys + 1, n do argv[i - numkeys] = args[i] end
  return api.run_tables(fn, sha, keys, argv)
end

local function finish(ok, v, name)
  if not ok then return false, error_text(v, name) end
  local t = type(v)
  if t == 'number' then return true, false, 2, 'i', v end
  if t == 'string' then return true, false, 2, 's', v end
  if t == 'table' then          -- a status or error table (emit's first two cases, in its order)
    local f = rawget(v, 'err')
    if type(f) == 'string' then return true, false, 2, 'E', f end
    f = rawget(v, 'ok')
    if type(f) == 'string' then return true, false, 2, 'o', f end
  end
  local out = {}
  local n = emit(out, 0, v, 0)
  if n <= __INLINE_TOKENS__ then return true, false, n, unpack(out, 1, n) end
  return true, out, n
end

function api.run_tables(fn, sha, keys, argv)
  G.KEYS, G.ARGV = keys, argv
  killed, resp, hook_active = false, 2, true
  if not main_count_hook then
    dbg_sethook(hook, '', HOOK_COUNT)
    main_count_hook = true
  end
  -- a script's reply is its first return value (redis calls it with nresults 1)
  local ok, v = xpcall(fn, err_handler)
  hook_active = false
  return finish(ok, v, sha)
end

-- FCALL: the registered callback gets (keys, args); errors name the function ("script: <name>, on
-- @user_function:N.")
function api.fcall(fn, name, numkeys, ...)
  local n = select('#', ...)
  local keys, args = {}, {}
  if numkeys == n then
    keys = {...}
  elseif numkeys == 0 then
    args = {...}
  else
    local all = {...}
    for i = 1, numkeys do keys[i] = all[i] end
    for i = numkeys + 1, n do args[i - numkeys] = all[i] end
  end
  return api.fcall_tables(fn, name, keys, args)
end

function api.fcall_tables(fn, name, keys, args)
  killed, resp, hook_active = false, 2, true
  run_env = FENV
  if not main_count_hook then
    dbg_sethook(hook, '', HOOK_COUNT)
    main_count_hook = true
  end
  local ok, v = xpcall(function() return fn(keys, args) end, err_handler)
  hook_active = false
  run_env = ENV
  return finish(ok, v, name)
end

function api.slice(t, i, j) return unpack(t, i, j) end

-- The C path (runtime.pyx _run_c) calls an EVAL script's function itself, lua_pcall with err_handler as the
-- message handler (redis luaCallFunction), instead of run_tables. arm() puts the run state in place once; it stays
-- in place between runs (the hook is a no-op outside a run: py_tick answers false) until something changes it (a
-- kill, redis.setresp, run_tables/fcall_tables, a library load, reset), and the runtime arms again before its next run.
function api.arm()
  killed, resp, hook_active = false, 2, true
  run_env = ENV
  if not main_count_hook then
    dbg_sethook(hook, '', HOOK_COUNT)
    main_count_hook = true
  end
end
-- the same for FCALL's C path (runtime.pyx _run_fn_c): what fcall_tables sets around a call, in place until a change
function api.arm_fcall()
  killed, resp, hook_active = false, 2, true
  run_env = FENV
  if not main_count_hook then
    dbg_sethook(hook, '', HOOK_COUNT)
    main_count_hook = true
  end
end
api.finish = finish
api.globals = G
api.err_handler = err_handler

function api.reset()
  dbg_sethook()
  main_count_hook = false
  hook_active, killed = false, false
  run_env, registering = ENV, nil
  fenv_mt.__index = FG
end

function api.sandbox_env() return ENV end

return api
"""
