"""Print engine/registry.py declarations for Redis commands, read from a real redis-server 7.0.15.

    python tools/specgen.py get set config        # named commands (containers bring their subcommands)
    python tools/specgen.py --group string        # every command of a COMMAND DOCS group
    python tools/specgen.py --port 6379 get       # use a running server instead of starting one

COMMAND INFO and COMMAND DOCS are read over RESP3 with tools/resp3_client.py so maps, arrays and sets stay
distinct.  COMMAND INFO hides the flags may_replicate and protected; unless --no-probe is given they are found
by behaviour: under CLIENT PAUSE WRITE Redis postpones exactly the write and may_replicate commands before
running them, and a protected command is refused with "... command not allowed".
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from tools.resp3_client import Error, RespConnection, RespMap, RespSet  # noqa: E402

WIDTH = 110

# What `specgen.py --list-hidden` reports on redis-server 7.0.15 (write commands are not listed: their write
# flag already makes them replicate). specgen adds these flags to the declarations it prints by itself.
MAY_REPLICATE_COMMANDS = ["eval", "evalsha", "fcall", "pfcount", "publish", "spublish"]
PROTECTED_COMMANDS = ["debug", "module|load", "module|loadex", "module|unload"]

# never sent by the probe: they would stop, detach or reconfigure the scratch server
PROBE_SKIP = {
    "shutdown", "monitor", "sync", "psync", "replicaof", "slaveof", "failover", "client|pause", "client|unpause",
    "bgsave", "bgrewriteaof", "save", "quit", "reset", "pfselftest",
}


# -- scratch server ---------------------------------------------------------------------------------------------
def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScratchRedis:
    """A private redis-server on a free loopback port, stopped on exit."""

    def __init__(self, binary="redis-server"):
        self.binary = binary
        self.proc = None
        self.dir = None
        self.port = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="specgen-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                RespConnection(port=self.port, timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- reading the server -----------------------------------------------------------------------------------------
def to_plain(value):
    """RESP value -> plain literal: maps -> dict (order kept), arrays and sets -> list, strings -> str.

    The renderer (engine/commands/introspection.py) restores sets and simple strings by key name, as Redis's
    own reply code does; check_roundtrip() proves that on every generated command.
    """
    if isinstance(value, RespMap):
        return {to_plain(k): to_plain(v) for k, v in value}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return str(value)
    return value


class CommandInfo:
    """One command's COMMAND INFO entry and COMMAND DOCS map, as plain values."""

    def __init__(self, info, docs):
        self.name = info[0].decode()
        self.arity = info[1]
        self.flags = [str(f) for f in info[2]]
        self.keys = (info[3], info[4], info[5])
        self.acl = [str(a) for a in info[6]]
        self.tips = [t.decode() for t in info[7]]
        self.key_specs = to_plain(info[8])
        docs = to_plain(docs)
        docs.pop("subcommands", None)
        self.docs = docs
        self.hidden_flags = []
        self.subcommands = []
        self.is_container = isinstance(info[9], list) and not isinstance(info[9], RespSet)

    @property
    def all_flags(self):
        from engine.spec import FLAG_NAMES
        wanted = set(self.flags) | set(self.hidden_flags)
        return [name for name, _ in FLAG_NAMES if name in wanted]


def fetch(conn, name):
    """CommandInfo for a top-level command with its subcommands, or None when Redis does not know it."""
    info = conn.call("COMMAND", "INFO", name)[0]
    if info is None:
        return None
    docs_reply = conn.call("COMMAND", "DOCS", name)
    full_docs = docs_reply[0][1]
    result = CommandInfo(info, full_docs)
    if result.is_container:
        sub_docs = dict(full_docs.as_dict().get(b"subcommands", RespMap()))
        for sub_info in sorted(info[9], key=lambda i: i[0]):       # Redis's order is its hash order
            result.subcommands.append(CommandInfo(sub_info, sub_docs[sub_info[0]]))
    return result


def group_members(conn, group):
    docs = conn.call("COMMAND", "DOCS")
    return sorted(name.decode() for name, d in docs if d.as_dict().get(b"group") == group.encode())


def probe_hidden_flags(port, commands):
    """Fill hidden_flags (may_replicate, protected) on each CommandInfo and its subcommands."""
    targets = []
    for cmd in commands:
        targets.extend(cmd.subcommands if cmd.is_container else [cmd])
    control = RespConnection(port=port)
    control.call("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        for cmd in targets:
            if cmd.name in PROBE_SKIP or "write" in cmd.flags:
                continue
            argv = cmd.name.split("|")
            argv += ["x"] * (abs(cmd.arity) - len(argv))
            conn = RespConnection(port=port, timeout=0.3)
            try:
                reply = conn.call(*argv)
                if isinstance(reply, Error) and "command not allowed" in reply:
                    cmd.hidden_flags.append("protected")
            except TimeoutError:
                # slow, or postponed by the write pause? Once the server answers the control connection, a
                # command that still has no reply is postponed.
                control.call("PING")
                try:
                    conn.sock.settimeout(0.3)
                    conn.read()
                except TimeoutError:
                    cmd.hidden_flags.append("may_replicate")
            except OSError:
                pass
            finally:
                conn.close()
    finally:
        control.call("CLIENT", "UNPAUSE")
        control.close()


# -- formatting -------------------------------------------------------------------------------------------------
def literal(value):
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def split_string(text, indent, room):
    """A long string as parenthesised implicit concatenation, broken after spaces."""
    chunks, current = [], ""
    for word in text.split(" "):
        candidate = current + word + " "
        if current and len(json.dumps(candidate, ensure_ascii=False)) > room:
            chunks.append(current)
            current = word + " "
        else:
            current = candidate
    chunks.append(current[:-1])
    pad = " " * (indent + 4)
    body = "\n".join(pad + json.dumps(c, ensure_ascii=False) for c in chunks)
    return "(\n" + body + "\n" + " " * indent + ")"


def pretty(value, indent, prefix_len=0):
    """Black-ish layout: one line when it fits, else one item per line with trailing commas."""
    one_line = literal(value)
    if indent + prefix_len + len(one_line) + 1 <= WIDTH:
        return one_line
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            key = literal(k) + ": "
            lines.append(pad + key + pretty(v, indent + 4, len(key)) + ",")
        return "{\n" + "\n".join(lines) + "\n" + " " * indent + "}"
    if isinstance(value, (list, tuple)):
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
        lines = [pad + pretty(v, indent + 4) + "," for v in value]
        return open_ + "\n" + "\n".join(lines) + "\n" + " " * indent + close
    if isinstance(value, str):
        return split_string(value, indent, WIDTH - indent - 4)
    return one_line


def explicit_acl(cmd):
    """COMMAND INFO's categories minus those registry.acl_bits derives from the flags."""
    from engine.registry import ACL_BITS, acl_bits, parse_flags
    flagbits = parse_flags(cmd.all_flags)
    shown = 0
    for cat in cmd.acl:
        shown |= ACL_BITS[cat.lstrip("@")]
    implicit = acl_bits("", flagbits)
    explicit = [cat.lstrip("@") for cat in cmd.acl if not ACL_BITS[cat.lstrip("@")] & implicit]
    if acl_bits(explicit, flagbits) != shown:
        # e.g. @fast declared without the fast flag: keep every shown category explicit
        explicit = [cat.lstrip("@") for cat in cmd.acl]
        if acl_bits(explicit, flagbits) != shown:
            raise ValueError(f"{cmd.name}: cannot reproduce ACL categories {cmd.acl}")
    return " ".join(explicit)


def handler_name(name):
    return name.replace("|", "_").replace("-", "_").replace(".", "_") + "_command"


def format_command(cmd):
    head = [literal(cmd.name), str(cmd.arity), literal(" ".join(cmd.all_flags))]
    acl = explicit_acl(cmd)
    if acl:
        head.append(f"acl={literal(acl)}")
    if cmd.keys != (0, 0, 0):
        head.append(f"keys={literal(cmd.keys)}")
    parts = [", ".join(head)]
    if cmd.key_specs:
        parts.append("key_specs=" + pretty(cmd.key_specs, 4, len("key_specs=")))
    if cmd.tips:
        parts.append("tips=" + pretty(tuple(cmd.tips), 4, len("tips=")))
    parts.append("docs=" + pretty(cmd.docs, 4, len("docs=")))
    one_line = "@command(" + ", ".join(parts) + ")"
    if len(one_line) <= WIDTH and "\n" not in one_line:
        text = one_line
    else:
        text = "@command(\n" + "".join(f"    {p},\n" for p in parts) + ")"
    return text + f"\n# def {handler_name(cmd.name)}(c, argv):\n"


def format_container(cmd):
    args = [literal(cmd.name)]
    if cmd.all_flags:
        args.append(f"flags={literal(' '.join(cmd.all_flags))}")
    acl = explicit_acl(cmd)
    if acl:
        args.append(f"acl={literal(acl)}")
    if cmd.keys != (0, 0, 0) or cmd.key_specs:
        raise ValueError(f"container {cmd.name} has keys; registry.container() cannot say so")
    stub = ""
    if cmd.arity != -2:
        # runs without a subcommand too (COMMAND): its handler is declared first and passed in
        args.append(f"arity={cmd.arity}")
        args.append(f"handler={handler_name(cmd.name)}")
        stub = f"# def {handler_name(cmd.name)}(c, argv):   (define before the container)\n"
    if cmd.tips:
        args.append("tips=" + pretty(tuple(cmd.tips), 4, len("tips=")))
    args.append("docs=" + pretty(cmd.docs, 4, len("docs=")))
    text = "container(" + ", ".join(args) + ")\n"
    if len(text) > WIDTH or "\n" in text[:-1]:
        text = "container(\n" + "".join(f"    {a},\n" for a in args) + ")\n"
    return stub + text + "\n\n" + "\n\n".join(format_command(sub) for sub in cmd.subcommands)


def format_declarations(commands):
    out = []
    for cmd in commands:
        out.append(format_container(cmd) if cmd.is_container else format_command(cmd))
    return "\n\n".join(out)


def gather(port, names=(), group=None, probe=True):
    conn = RespConnection(port=port)
    conn.call("HELLO", "3")
    if group:
        names = list(names) + group_members(conn, group)
    commands, missing = [], []
    for name in names:
        cmd = fetch(conn, name.lower())
        (commands.append(cmd) if cmd else missing.append(name))
    conn.close()
    if probe:
        probe_hidden_flags(port, commands)
    return commands, missing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="command names (a container brings all its subcommands)")
    parser.add_argument("--group", help="every top-level command of this COMMAND DOCS group")
    parser.add_argument("--port", type=int, help="use this running redis-server instead of starting one")
    parser.add_argument("--no-probe", action="store_true", help="skip the may_replicate/protected probe")
    parser.add_argument("--list-hidden", action="store_true",
                        help="probe every command and print those needing may_replicate or protected")
    args = parser.parse_args(argv)
    if not (args.names or args.group or args.list_hidden):
        parser.error("give command names, --group or --list-hidden")

    def run(port):
        names = args.names
        if args.list_hidden:
            conn = RespConnection(port=port)
            names = sorted(n.decode() for n in conn.call("COMMAND", "LIST") if b"|" not in n)
            conn.close()
        commands, missing = gather(port, names, args.group, probe=not args.no_probe)
        if args.list_hidden:
            for flag in ("may_replicate", "protected"):
                found = [c.name for top in commands for c in (top.subcommands or [top]) if flag in c.hidden_flags]
                print(f"{flag}: {' '.join(found)}")
            return 0
        print(format_declarations(commands))
        for name in missing:
            print(f"# unknown to redis-server: {name}", file=sys.stderr)
        return 1 if missing else 0

    if args.port:
        return run(args.port)
    with ScratchRedis() as server:
        return run(server.port)


if __name__ == "__main__":
    sys.exit(main())
