"""Function libraries (redis 7.0 functions.c): FUNCTION LOAD/DELETE/FLUSH/DUMP/RESTORE state, FCALL lookup.

A library is the code given to FUNCTION LOAD, starting with its ``#!<engine> name=<library>`` shebang line;
running that code with the load-time API (engine/scripting/runtime.pyx ``ScriptRuntime.load_library``) registers its
functions. ``Functions`` holds the libraries by name and every function by case-insensitive name (FCALL
looks names up without case, as redis's functions dict does, while one library may register both "f" and
"F"). It does not touch the server: the command handlers (engine/commands/scripting.pyx) reply, and
persistence stores ``codes()`` (the RDB FUNCTION2 records, FUNCTION LOAD commands in an AOF rewrite).

Error texts are redis 7.0.15's, checked live; a ``FunctionError`` carries one without its error code (the
reply adds "ERR ").
"""
import struct

from engine.persistence._rdbfast import Cursor, crc64, encode_string
from engine.persistence.rdb import OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA, RDB_VERSION, RdbError
from engine.scripting.runtime import ScriptError
from protocol.resp import split_args

ENGINE_NAME = b"LUA"
LOAD_TIMEOUT_MS = 500            # redis LOAD_TIMEOUT_MS (none for a master or the AOF)

FLAG_NO_WRITES = 1
FLAG_ALLOW_OOM = 2
FLAG_ALLOW_STALE = 4
FLAG_NO_CLUSTER = 8
FLAG_ALLOW_CROSS_SLOT = 16
FLAG_NAMES = ((FLAG_NO_WRITES, b"no-writes"), (FLAG_ALLOW_OOM, b"allow-oom"), (FLAG_ALLOW_STALE, b"allow-stale"),
              (FLAG_NO_CLUSTER, b"no-cluster"), (FLAG_ALLOW_CROSS_SLOT, b"allow-cross-slot-keys"))

NAME_ERROR = (b"Library names can only contain letters, numbers, or underscores(_) and must be at least one "
              b"character long")
PAYLOAD_ERROR = b"DUMP payload version or checksum are wrong"
_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class FunctionError(Exception):
    """A refused FUNCTION operation; ``message`` is redis's text (bytes) without the error code."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message if isinstance(message, bytes) else str(message).encode()


class FunctionInfo:
    __slots__ = ("name", "function", "flags", "description", "library")

    def __init__(self, name, function, flags, description, library):
        self.name = name
        self.function = function          # the Lua callback
        self.flags = flags                # FLAG_* bitmask
        self.description = description    # bytes or None
        self.library = library

    def flag_names(self):
        return [name for bit, name in FLAG_NAMES if self.flags & bit]


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name, code):
        self.name = name
        self.code = code
        self.functions = {}               # name -> FunctionInfo, in registration order


def valid_name(name):
    return bool(name) and all(ch in _NAME_CHARS for ch in name)


def parse_metadata(code):
    """functionExtractLibMetaData: (engine, library name, code after the shebang line) or FunctionError."""
    if not code.startswith(b"#!"):
        raise FunctionError(b"Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise FunctionError(b"Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise FunctionError(b"Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise FunctionError(b"Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise FunctionError(b"Invalid metadata value given: " + _c_string(part))
    if name is None:
        raise FunctionError(b"Library name was not given")
    return engine, name, code[end:]


def _c_string(data):
    end = data.find(b"\0")
    return data if end < 0 else data[:end]


def _read(reader, error):
    try:
        return reader()
    except (RdbError, OverflowError, MemoryError):
        raise FunctionError(error) from None


def _read_pre_ga(cur):
    """A 7.0 release-candidate record (name, engine, optional description, code) as GA library code."""
    name = _read(cur.read_string, b"Failed loading library name")
    engine = _read(cur.read_string, b"Failed loading engine name")
    if _read(cur.read_length, b"Failed loading library description indicator"):
        _read(cur.read_string, b"Failed loading library description")
    blob = _read(cur.read_string, b"Failed loading library blob")
    return b"#!" + _c_string(engine) + b" name=" + _c_string(name) + b"\n" + blob


class Functions:
    """The libraries of one server (redis functionsLibCtx) over one ScriptRuntime."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.libraries = {}               # name -> Library, in load order
        self.functions = {}               # lower-case name -> FunctionInfo

    # ------------------------------------------------------------------ queries
    def get(self, name):
        """The function FCALL names (case-insensitive), or None."""
        return self.functions.get(name) or self.functions.get(name.lower())

    def library_count(self):
        return len(self.libraries)

    def function_count(self):
        return sum(len(lib.functions) for lib in self.libraries.values())

    def codes(self):
        """Every library's code, in load order: what RDB files and AOF rewrites store."""
        return [lib.code for lib in self.libraries.values()]

    # ------------------------------------------------------------------ changes
    def create(self, code, replace=False, timeout_ms=LOAD_TIMEOUT_MS):
        """functionsCreateWithLibraryCtx: load a library; returns its name or raises FunctionError."""
        code = bytes(code)
        engine, name, body = parse_metadata(code)
        if not valid_name(name):
            raise FunctionError(NAME_ERROR)
        if engine.lower() != ENGINE_NAME.lower():
            raise FunctionError(b"Engine '" + _c_string(engine) + b"' not found")
        old = self.libraries.get(name)
        if old is not None and not replace:
            raise FunctionError(b"Library '" + name + b"' already exists")
        lib = self._compile(name, code, body, timeout_ms)
        if not lib.functions:
            raise FunctionError(b"No functions registered")
        for fname in lib.functions:
            existing = self.functions.get(fname.lower())
            if existing is not None and existing.library is not old:
                raise FunctionError(b"Function " + fname + b" already exists")
        if old is not None:
            self._unlink(old)
        self._link(lib)
        return name

    def delete(self, name):
        lib = self.libraries.get(name)
        if lib is None:
            raise FunctionError(b"Library not found")
        self._unlink(lib)

    def flush(self):
        self.libraries = {}
        self.functions = {}

    def _compile(self, name, code, body, timeout_ms):
        try:
            registered = self.runtime.load_library(body, timeout_ms)
        except ScriptError as exc:
            raise FunctionError(exc.message) from None
        lib = Library(name, code)
        for fname, function, flags, description in registered:
            lib.functions[fname] = FunctionInfo(fname, function, flags, description, lib)
        return lib

    def _link(self, lib):
        for fname, info in lib.functions.items():
            self.functions.setdefault(fname.lower(), info)
        self.libraries[lib.name] = lib

    def _unlink(self, lib):
        for fname in lib.functions:
            key = fname.lower()
            if self.functions.get(key) is not None and self.functions[key].library is lib:
                del self.functions[key]
        self.libraries.pop(lib.name, None)

    # ------------------------------------------------------------------ DUMP / RESTORE
    def dump(self, compress=True):
        """FUNCTION DUMP: a FUNCTION2 record per library, the RDB version (LE) and a CRC64 (LE) of it all."""
        out = bytearray()
        for lib in self.libraries.values():
            out.append(OPCODE_FUNCTION2)
            out += encode_string(lib.code, compress)
        out += struct.pack("<H", RDB_VERSION)
        out += struct.pack("<Q", crc64(bytes(out)))
        return bytes(out)

    def restore(self, payload, policy=b"append", timeout_ms=0):
        """FUNCTION RESTORE with policy b"append", b"replace" or b"flush"; raises FunctionError."""
        payload = bytes(payload)
        size = len(payload)
        if size < 10:
            raise FunctionError(PAYLOAD_ERROR)
        version = payload[-10] | (payload[-9] << 8)
        if version > RDB_VERSION or crc64(payload[:-8]) != struct.unpack("<Q", payload[-8:])[0]:
            raise FunctionError(PAYLOAD_ERROR)
        incoming = Functions(self.runtime)
        cur = Cursor(payload, 0, size)
        while size - cur.pos > 10:     # records may run into the footer, as redis's rio reads do
            opcode = cur.read_byte()
            if opcode == OPCODE_FUNCTION_PRE_GA:
                code = _read_pre_ga(cur)
            elif opcode == OPCODE_FUNCTION2:
                code = _read(cur.read_string, b"Failed loading library payload")
            else:
                raise FunctionError(b"given type is not a function")
            incoming.create(code, False, timeout_ms)
        if policy == b"flush":
            self.libraries, self.functions = incoming.libraries, incoming.functions
            return
        self.join(incoming, policy == b"replace")

    def join(self, incoming, replace):
        """libraryJoin: add another context's libraries; all or nothing."""
        displaced = []
        try:
            for name in incoming.libraries:
                old = self.libraries.get(name)
                if old is None:
                    continue
                if not replace:
                    raise FunctionError(b"Library " + name + b" already exists")
                self._unlink(old)
                displaced.append(old)
            for lib in incoming.libraries.values():
                for fname in lib.functions:
                    if fname.lower() in self.functions:
                        raise FunctionError(b"Function " + fname + b" already exists")
        except FunctionError:
            for old in displaced:
                self._link(old)
            raise
        for lib in incoming.libraries.values():
            self._link(lib)
