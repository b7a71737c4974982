"""`bit`, `struct` and `cmsgpack` for the script sandbox, as Redis 7.0 bundles them.

Each script-visible function is a Lua closure (built in engine/scripting/sandbox.py) that calls
``call_library`` with plain values only; results go back as plain values or flat token
tables, so no Python object is ever reachable from a script. A function answers
``(True, results...)`` or ``(False, error_text)``; the Lua side raises the text with the
caller's position, as luaL_error would.
"""

import math
import struct as pystruct

LIB_FUNCTIONS = {
    "bit": ["tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift",
            "rol", "ror", "bswap"],
    "struct": ["pack", "unpack", "size"],
    "cmsgpack": ["pack_tokens", "unpack_tokens"],
}

# cmsgpack's public functions in Lua: tables are flattened to tokens before crossing.
MSGPACK_LUA = r"""
local mp_pack_tokens = pylibs.cmsgpack.pack_tokens
local mp_unpack_tokens = pylibs.cmsgpack.unpack_tokens
local MP_MAX_NESTING = 16
local mp_flatten
mp_flatten = function(out, n, v, depth)
  local t = type(v)
  if t == 'string' or t == 'number' or t == 'boolean' then
    out[n + 1] = (t == 'string') and 's' or ((t == 'number') and 'd' or 'b')
    out[n + 2] = v
    return n + 2
  elseif t == 'table' and depth < MP_MAX_NESTING then
    local b = proxy_view[v] or v
    if lazy_of[b] then b = lazy_of[b]() end
    local count, max, is_array = 0, 0, true
    for k in next, b do
      count = count + 1
      if type(k) == 'number' and k >= 1 and k == m_floor(k) then
        if k > max then max = k end
      else
        is_array = false
      end
    end
    if is_array and max == count then
      out[n + 1] = 'a'; out[n + 2] = count; n = n + 2
      for i = 1, count do n = mp_flatten(out, n, rawget(b, i), depth + 1) end
    else
      out[n + 1] = 'm'; out[n + 2] = count; n = n + 2
      for k, val in next, b do
        n = mp_flatten(out, n, k, depth + 1)
        n = mp_flatten(out, n, val, depth + 1)
      end
    end
    return n
  end
  out[n + 1] = 'n'
  return n + 1
end
local mp_build
mp_build = function(tok, i)
  local tag = tok[i]
  if tag == 'v' then return tok[i + 1], i + 2 end
  if tag == 'n' then return nil, i + 1 end
  local count = tok[i + 1]
  local t = {}
  i = i + 2
  if tag == 'a' then
    for j = 1, count do
      local v
      v, i = mp_build(tok, i)
      t[j] = v
    end
  else
    for _ = 1, count do
      local k, v
      k, i = mp_build(tok, i)
      v, i = mp_build(tok, i)
      if k ~= nil then t[k] = v end
    end
  end
  return t, i
end
local function mp_unpack(limit, offset, with_offset, s)
  local next_offset, nvalues, tok = mp_unpack_tokens(s, limit, offset)
  local values, i = {}, 1
  for j = 1, nvalues do values[j], i = mp_build(tok, i) end
  if with_offset then return next_offset, unpack(values, 1, nvalues) end
  return unpack(values, 1, nvalues)
end
local cmsgpack = {_NAME = 'cmsgpack', _VERSION = 'lua-cmsgpack 0.4.0',
                  _COPYRIGHT = 'Copyright (C) 2012, Salvatore Sanfilippo',
                  _DESCRIPTION = 'MessagePack C implementation for Lua'}
function cmsgpack.pack(...)
  local nargs = select('#', ...)
  if nargs == 0 then error("bad argument #0 to 'pack' (MessagePack pack needs input.)", 2) end
  local out, n, args = {}, 0, {...}
  for j = 1, nargs do n = mp_flatten(out, n, args[j], 0) end
  return mp_pack_tokens(out, n)
end
function cmsgpack.unpack(s) return mp_unpack(0, 0, false, s) end
function cmsgpack.unpack_one(s, offset) return mp_unpack(1, offset or 0, true, s) end
function cmsgpack.unpack_limit(s, limit, offset) return mp_unpack(limit or 0, offset or 0, true, s) end
pylibs.cmsgpack = cmsgpack
"""


class LibError(Exception):
    pass


def _type_name(value):
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, bytes):
        return "string"
    import lupa.lua51 as lua51
    return lua51.lua_type(value) or "userdata"


def _check_number(args, index, fname):
    """luaL_checknumber: numbers, and strings that convert to numbers."""
    value = args[index] if index < len(args) else None
    if isinstance(value, bool) or value is None:
        got = "no value" if index >= len(args) else _type_name(value)
        raise LibError("bad argument #%d to '%s' (number expected, got %s)" % (index + 1, fname, got))
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, bytes):
        try:
            text = value.strip()
            return int(text, 16) if text.lower().startswith((b"0x", b"-0x")) else float(text)
        except ValueError:
            pass
    raise LibError("bad argument #%d to '%s' (number expected, got %s)"
                   % (index + 1, fname, _type_name(value)))


# ---------------------------------------------------------------- bit (LuaBitOp)
def _tobit(x):
    # LuaBitOp adds 2^52+2^51, i.e. rounds half to even before taking the low 32 bits
    if isinstance(x, float):
        if x != x or math.isinf(x):
            return 0
        x = round(x)
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def _bit(fname, args):
    nums = [_tobit(_check_number(args, i, fname)) for i in range(len(args))]
    if fname in ("band", "bor", "bxor", "bnot", "tobit", "bswap") and not nums:
        _check_number(args, 0, fname)
    if fname == "tobit":
        return nums[0]
    if fname == "bnot":
        return _tobit(~nums[0])
    if fname in ("band", "bor", "bxor"):
        result = nums[0]
        for n in nums[1:]:
            if fname == "band":
                result &= n
            elif fname == "bor":
                result |= n
            else:
                result ^= n
        return _tobit(result)
    if fname == "bswap":
        u = nums[0] & 0xFFFFFFFF
        return _tobit(int.from_bytes(u.to_bytes(4, "little"), "big"))
    if fname == "tohex":
        width = nums[1] if len(nums) > 1 else 8
        upper = width < 0
        width = min(abs(width), 8)
        digits = "%08X" % (nums[0] & 0xFFFFFFFF) if upper else "%08x" % (nums[0] & 0xFFFFFFFF)
        return digits[8 - width:].encode()
    if len(nums) < 2:
        _check_number(args, 1, fname)
    value, shift = nums[0] & 0xFFFFFFFF, nums[1] & 31
    if fname == "lshift":
        return _tobit(value << shift)
    if fname == "rshift":
        return _tobit(value >> shift)
    if fname == "arshift":
        return _tobit(_tobit(value) >> shift)
    if fname == "rol":
        return _tobit((value << shift) | (value >> (32 - shift)))
    if fname == "ror":
        return _tobit((value >> shift) | (value << (32 - shift)))
    raise LibError("unknown bit function")


# ---------------------------------------------------------------- struct (Roberto Ierusalimschy's)
_NATIVE_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "i": 4, "I": 4,
                 "f": 4, "d": 8, "x": 1}
_MAXINTSIZE = 32
_MAXALIGN = 8


def _struct_options(fmt, fname):
    """Yield (option, size, little_endian, align) for a struct format."""
    little, max_align = True, 1
    i = 0
    while i < len(fmt):
        opt = chr(fmt[i])
        i += 1
        digits = b""
        while i < len(fmt) and chr(fmt[i]).isdigit():
            digits += fmt[i:i + 1]
            i += 1
        if opt == " ":
            continue
        if opt in "<>=":
            little = opt != ">"
            continue
        if opt == "!":
            max_align = int(digits) if digits else _MAXALIGN
            continue
        if opt in "iI":
            size = int(digits) if digits else 4
            if size > _MAXINTSIZE:
                raise LibError("integral size %d is larger than limit of %d" % (size, _MAXINTSIZE))
        elif opt == "c":
            size = int(digits) if digits else 1
        elif opt == "s":
            size = 0
        elif opt in _NATIVE_SIZES:
            size = _NATIVE_SIZES[opt]
        else:
            raise LibError("bad argument #1 to '%s' (invalid format option '%s')" % (fname, opt))
        align = size if opt not in "csx" else 1
        align = min(align, max_align) if align > 1 else 1
        yield opt, size, little, align


def _pad(offset, align):
    return (-offset) % align if align > 1 and (align & (align - 1)) == 0 else 0


def _struct_pack(args):
    if not args or not isinstance(args[0], bytes):
        raise LibError("bad argument #1 to 'pack' (string expected, got %s)"
                       % ("no value" if not args else _type_name(args[0])))
    out = bytearray()
    argi = 1
    for opt, size, little, align in _struct_options(args[0], "pack"):
        out += b"\0" * _pad(len(out), align)
        if opt == "x":
            out += b"\0"
            continue
        if opt in "fd":
            number = float(_check_number(args, argi, "pack"))
            argi += 1
            out += pystruct.pack(("<" if little else ">") + opt, number)
        elif opt in "cs":
            value = args[argi] if argi < len(args) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = ("%.14g" % value).encode()
            if not isinstance(value, bytes):
                raise LibError("bad argument #%d to 'pack' (string expected, got %s)"
                               % (argi + 1, "no value" if argi >= len(args) else _type_name(value)))
            argi += 1
            if opt == "s":
                out += value + b"\0"
            else:
                if size == 0:
                    size = len(value)
                if len(value) < size:
                    raise LibError("bad argument #%d to 'pack' (string too short)" % argi)
                out += value[:size]
        else:
            number = _check_number(args, argi, "pack")
            argi += 1
            if isinstance(number, float):
                number = int(number) if number == number and not math.isinf(number) else 0
            raw = (number & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            out += raw if little else raw[::-1]
    return bytes(out)


def _struct_unpack(args):
    if len(args) < 2 or not isinstance(args[0], bytes) or not isinstance(args[1], bytes):
        bad = 1 if not args or not isinstance(args[0], bytes) else 2
        got = "no value" if len(args) < bad else _type_name(args[bad - 1])
        raise LibError("bad argument #%d to 'unpack' (string expected, got %s)" % (bad, got))
    data = args[1]
    pos = int(_check_number(args, 2, "unpack")) - 1 if len(args) > 2 and args[2] is not None else 0
    if pos < 0 or pos > len(data):
        raise LibError("bad argument #3 to 'unpack' (offset out of range)")
    results = []
    for opt, size, little, align in _struct_options(args[0], "unpack"):
        pos += _pad(pos, align)
        if opt == "s":
            end = data.find(b"\0", pos)
            if end < 0:
                raise LibError("bad argument #2 to 'unpack' (unfinished string in data)")
            results.append(data[pos:end])
            pos = end + 1
            continue
        if opt == "c" and size == 0:
            if not results or not isinstance(results[-1], (int, float)):
                raise LibError("format 'c0' needs a previous size")
            size = int(results.pop())
        if pos + size > len(data):
            raise LibError("bad argument #2 to 'unpack' (data string too short)")
        chunk = data[pos:pos + size]
        pos += size
        if opt == "x":
            continue
        if opt == "c":
            results.append(chunk)
        elif opt in "fd":
            results.append(pystruct.unpack(("<" if little else ">") + opt, chunk)[0])
        else:
            value = int.from_bytes(chunk, "little" if little else "big")
            if opt in "bhli":
                if size and value >= 1 << (8 * size - 1):
                    value -= 1 << (8 * size)
            results.append(float(value) if abs(value) > (1 << 53) else value)
    results.append(pos + 1)
    return results


def _struct_size(args):
    if not args or not isinstance(args[0], bytes):
        raise LibError("bad argument #1 to 'size' (string expected, got %s)"
                       % ("no value" if not args else _type_name(args[0])))
    total = 0
    for opt, size, _little, align in _struct_options(args[0], "size"):
        if opt == "s" or (opt == "c" and size == 0):
            raise LibError("options 'c0' - 's' have undefined sizes")
        total += _pad(total, align) + size
    return total


# ---------------------------------------------------------------- cmsgpack (lua-cmsgpack encoding rules)
def _mp_int(n, out):
    if n >= 0:
        if n <= 127:
            out.append(n)
        elif n <= 0xFF:
            out += b"\xcc" + n.to_bytes(1, "big")
        elif n <= 0xFFFF:
            out += b"\xcd" + n.to_bytes(2, "big")
        elif n <= 0xFFFFFFFF:
            out += b"\xce" + n.to_bytes(4, "big")
        else:
            out += b"\xcf" + (n & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
    else:
        if n >= -32:
            out.append(n & 0xFF)
        elif n >= -128:
            out += b"\xd0" + n.to_bytes(1, "big", signed=True)
        elif n >= -32768:
            out += b"\xd1" + n.to_bytes(2, "big", signed=True)
        elif n >= -2147483648:
            out += b"\xd2" + n.to_bytes(4, "big", signed=True)
        else:
            out += b"\xd3" + max(n, -(1 << 63)).to_bytes(8, "big", signed=True)


def _mp_number(n, out):
    """lua-cmsgpack: integral values as ints, else float32 when exact, else float64."""
    if isinstance(n, int) or (math.isfinite(n) and n == int(n) and -(1 << 63) <= n < (1 << 64)):
        _mp_int(int(n), out)
        return
    try:
        as_float32 = pystruct.pack(">f", n)
    except OverflowError:
        as_float32 = None
    if as_float32 is not None and pystruct.unpack(">f", as_float32)[0] == n:
        out += b"\xca" + as_float32
    else:
        out += b"\xcb" + pystruct.pack(">d", n)


def _mp_header(n, out, fix, fix_max, codes):
    if n <= fix_max:
        out.append(fix | n)
    elif n <= 0xFFFF:
        out += codes[0] + n.to_bytes(2, "big")
    else:
        out += codes[1] + n.to_bytes(4, "big")


def _mp_pack(tokens):
    out = bytearray()
    i = 0
    while i < len(tokens):
        tag = tokens[i]
        if tag == b"n":
            out.append(0xC0)
            i += 1
            continue
        value = tokens[i + 1]
        i += 2
        if tag == b"s":
            n = len(value)
            if n < 32:
                out.append(0xA0 | n)
            elif n <= 0xFF:
                out += b"\xd9" + n.to_bytes(1, "big")
            elif n <= 0xFFFF:
                out += b"\xda" + n.to_bytes(2, "big")
            else:
                out += b"\xdb" + n.to_bytes(4, "big")
            out += value
        elif tag == b"d":
            _mp_number(value, out)
        elif tag == b"b":
            out.append(0xC3 if value else 0xC2)
        elif tag == b"a":
            _mp_header(int(value), out, 0x90, 15, (b"\xdc", b"\xdd"))
        elif tag == b"m":
            _mp_header(int(value), out, 0x80, 15, (b"\xde", b"\xdf"))
    return bytes(out)


class _MsgpackEOF(Exception):
    pass


class _MsgpackBadFormat(Exception):
    pass


def _mp_decode_one(data, pos, tokens):
    """Append tokens for one object at data[pos:]; returns the new position."""
    # iterative over containers: (remaining items) stack
    pending = [1]
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        pending[-1] -= 1
        if pos >= len(data):
            raise _MsgpackEOF()
        b = data[pos]
        pos += 1

        def take(n):
            nonlocal pos
            if pos + n > len(data):
                raise _MsgpackEOF()
            chunk = data[pos:pos + n]
            pos += n
            return chunk

        if b <= 0x7F:
            tokens += [b"v", b]
        elif b >= 0xE0:
            tokens += [b"v", b - 256]
        elif 0xA0 <= b <= 0xBF:
            tokens += [b"v", take(b & 0x1F)]
        elif 0x90 <= b <= 0x9F or b in (0xDC, 0xDD):
            n = b & 0x0F if b <= 0x9F else int.from_bytes(take(2 if b == 0xDC else 4), "big")
            tokens += [b"a", n]
            pending.append(n)
        elif 0x80 <= b <= 0x8F or b in (0xDE, 0xDF):
            n = b & 0x0F if b <= 0x8F else int.from_bytes(take(2 if b == 0xDE else 4), "big")
            tokens += [b"m", n]
            pending.append(2 * n)
        elif b == 0xC0:
            tokens.append(b"n")
        elif b in (0xC2, 0xC3):
            tokens += [b"v", b == 0xC3]
        elif b in (0xCA, 0xCB):
            tokens += [b"v", pystruct.unpack(">f" if b == 0xCA else ">d", take(4 if b == 0xCA else 8))[0]]
        elif 0xCC <= b <= 0xCF:
            tokens += [b"v", _lua_int(int.from_bytes(take(1 << (b - 0xCC)), "big"))]
        elif 0xD0 <= b <= 0xD3:
            tokens += [b"v", _lua_int(int.from_bytes(take(1 << (b - 0xD0)), "big", signed=True))]
        elif b in (0xD9, 0xDA, 0xDB):     # Redis' lua-cmsgpack predates the bin types
            width = {0xD9: 1, 0xDA: 2, 0xDB: 4}[b]
            tokens += [b"v", take(int.from_bytes(take(width), "big"))]
        else:
            raise _MsgpackBadFormat()
    return pos


def _lua_int(n):
    return n if -(1 << 53) <= n <= (1 << 53) else float(n)


def _mp_unpack(lua, args):
    data = args[0] if args else None
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        data = ("%.14g" % data).encode()
    if not isinstance(data, bytes):
        raise LibError("bad argument #1 to 'unpack' (string expected, got %s)"
                       % ("no value" if data is None else _type_name(data)))
    limit = int(args[1]) if len(args) > 1 and isinstance(args[1], (int, float)) else 0
    offset = int(args[2]) if len(args) > 2 and isinstance(args[2], (int, float)) else 0
    if offset < 0 or (offset > len(data) and len(data) > 0) or (offset > 0 and offset >= len(data)):
        raise LibError("Start offset %d greater than input length %d." % (offset, len(data)))
    tokens, count, pos = [], 0, offset
    try:
        while pos < len(data) and (limit <= 0 or count < limit):
            pos = _mp_decode_one(data, pos, tokens)
            count += 1
    except _MsgpackEOF:
        raise LibError("Missing bytes in input.")
    except _MsgpackBadFormat:
        raise LibError("Bad data format in input.")
    next_offset = pos if pos < len(data) else -1
    return next_offset, count, lua.table_from(tokens)


# ---------------------------------------------------------------- dispatch
def call_library(lua, api, libname, fname, args):
    """Entry point for the sandbox's library closures (names and values arrive as bytes)."""
    lib, name = libname.decode(), fname.decode()
    try:
        if lib == "bit":
            return True, _bit(name, list(args))
        if lib == "struct":
            if name == "pack":
                return True, _struct_pack(list(args))
            if name == "unpack":
                return (True, *_struct_unpack(list(args)))
            return True, _struct_size(list(args))
        if lib == "cmsgpack":
            if name == "pack_tokens":
                table, count = args[0], int(args[1])
                tokens = []
                for start in range(1, count + 1, 4000):
                    part = api["slice"](table, start, min(count, start + 3999))
                    tokens.extend(part if isinstance(part, tuple) else (part,))
                return True, _mp_pack(tokens)
            return (True, *_mp_unpack(lua, list(args)))
    except LibError as exc:
        return False, str(exc).encode()
    return False, b"unknown library function"
