"""Redis 7.0 ACLs: users, selectors, key and channel patterns, passwords as SHA-256, the ACL LOG.

The model follows redis acl.c function by function (ACLSetSelector, ACLSetUser, ACLDescribeUser, the
"minimal rules" description of a command bitmap, ACLLoadFromFile/ACLSaveToFile, addACLLogEntry), so that
ACL LIST/GETUSER print what redis prints and every error has redis's text. Commands and categories come
from the one command table (engine.registry: CommandSpec.id indexes the bitmaps, CommandSpec.acl_categories
gives the categories, the key specs give read/write key access); ACL rules always resolve against the
original names even when the conf renames commands (registry.orig_commands()).

The per-command check is compiled (engine/aclcore.pyx); ``Acl`` (one per server, ``server.extensions["acl"]``)
owns the users table and plugs into the dispatcher: ``dispatcher.acl_denied`` is called only when a
restricted user's command is refused, to log it and build the -NOPERM text.
"""
import hashlib
import os
import time

from engine import registry
from engine.aclcore import (User, Selector, ACL_OK, ACL_DENIED_CMD, ACL_DENIED_KEY, ACL_DENIED_AUTH,
                            ACL_DENIED_CHANNEL, PERM_READ, PERM_WRITE, PERM_ALL, set_generic_keys)
from engine.spec import FLAGS
from protocol.resp import split_args

CMD_INTERNAL = FLAGS["internal"]
CMD_MODULE = FLAGS["module"]

ERRORS = {
    "ENOENT": "Unknown command or category name in ACL",
    "EINVAL": "Syntax error",
    "EEXIST": ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
               "any effect. Try 'resetkeys' to start with an empty list of patterns"),
    "EISDIR": ("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
               "have any effect. Try 'resetchannels' to start with an empty list of channels"),
    "ENODEV": "The password you are trying to remove from the user does not exist",
    "EBADMSG": "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
    "EALREADY": "Duplicate user found. A user can only be defined once in config files",
    "ECHILD": "Allowing first-arg of a subcommand is not supported",
}

REASONS = {ACL_DENIED_CMD: "command", ACL_DENIED_KEY: "key", ACL_DENIED_CHANNEL: "channel", ACL_DENIED_AUTH: "auth"}
CONTEXTS = ("toplevel", "multi", "lua", "module")
CTX_TOPLEVEL, CTX_MULTI, CTX_LUA = 0, 1, 2

# processCommand's -NOPERM texts (redis 7.0 server.c)
NOPERM_TEXT = {
    ACL_DENIED_CMD: None,   # formatted with the command name
    ACL_DENIED_KEY: b"NOPERM this user has no permissions to access one of the keys used as arguments",
    ACL_DENIED_CHANNEL: b"NOPERM this user has no permissions to access one of the channels used as arguments",
}
# getAclErrorMessage (scripts and EXEC)
ACL_ERROR_MESSAGE = {
    ACL_DENIED_CMD: "can't run this command or subcommand",
    ACL_DENIED_KEY: "can't access at least one of the keys mentioned in the command arguments",
    ACL_DENIED_CHANNEL: "can't publish to the channel mentioned in the command",
}
WRONGPASS = b"WRONGPASS invalid username-password pair or user is disabled."
LOG_GROUPING_MAX_TIME_DELTA = 60000
HEX = set(b"0123456789abcdef")


class AclError(Exception):
    def __init__(self, errno):
        super().__init__(errno)
        self.errno = errno

    @property
    def text(self):
        return ERRORS.get(self.errno, "Wrong format")


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def cstr(s: bytes) -> str:
    """What redis prints for a %s of an sds: up to the first NUL."""
    return s.split(b"\x00", 1)[0].decode("latin-1")


def has_spaces(s: bytes) -> bool:
    """ACLStringHasSpaces: isspace() or NUL."""
    return any(ch in b" \t\n\v\f\r\x00" for ch in s)


# ---------------------------------------------------------------------------------------------- commands
def _top_commands():
    return [s for s in registry.orig_commands().values() if not s.flags & (CMD_INTERNAL | CMD_MODULE)]


def _walk(specs):
    """Every command and subcommand, containers before their subcommands (the order categories apply in)."""
    for spec in specs:
        yield spec
        if spec.subcommands:
            for sub in spec.subcommands.values():
                if not sub.flags & CMD_INTERNAL:
                    yield sub


def bitmap_size():
    return registry.next_id() + 2


def lookup_command(name: bytes):
    """ACLLookupCommand: 'get' or 'config|get' against the original (not renamed) table."""
    parts = name.lower().split(b"|")
    if len(parts) > 2 or not parts[0]:
        return None
    base = registry.orig_commands().get(parts[0])
    if base is None or base.flags & CMD_INTERNAL:
        return None
    if len(parts) == 1:
        return base
    if not base.subcommands:
        return None
    sub = base.subcommands.get(parts[1])
    if sub is None or sub.flags & CMD_INTERNAL:
        return None
    return sub


def category_flag(name: bytes) -> int:
    return registry.ACL_BITS.get(name.decode("latin-1").lower(), 0) if name else 0


def _set_bit(sel, cid, value):
    if cid >= len(sel.bits):
        return
    if value:
        sel.bits[cid] = 1
    else:
        sel.bits[cid] = 0
        sel.allcommands = False


def change_perm(sel, spec, allow):
    """ACLChangeSelectorPerm: the command and, for a container, every subcommand."""
    _set_bit(sel, spec.id, allow)
    sel.firstargs.pop(spec.id, None)
    if spec.subcommands:
        for sub in spec.subcommands.values():
            _set_bit(sel, sub.id, allow)


def set_category(sel, cflag, value):
    for spec in _walk(_top_commands()):
        if spec.acl_categories & cflag:
            change_perm(sel, spec, value)


def _bit(sel, cid):
    return cid < len(sel.bits) and sel.bits[cid] != 0


# ---------------------------------------------------------------------------------------------- rules
def new_selector(root=False, pubsub_all=False):
    sel = Selector(bitmap_size(), root)
    sel.allchannels = pubsub_all
    return sel


def set_selector(sel, op: bytes):
    """ACLSetSelector; raises AclError(errno name)."""
    low = op.lower()
    if low == b"allkeys" or op == b"~*":
        sel.allkeys = True
        sel.patterns = []
    elif low == b"resetkeys":
        sel.allkeys = False
        sel.patterns = []
    elif low == b"allchannels" or op == b"&*":
        sel.allchannels = True
        sel.channels = []
    elif low == b"resetchannels":
        sel.allchannels = False
        sel.channels = []
    elif low == b"allcommands" or low == b"+@all":
        sel.bits[:] = b"\x01" * len(sel.bits)
        sel.allcommands = True
        sel.future = True
        sel.firstargs = {}
    elif low == b"nocommands" or low == b"-@all":
        sel.bits[:] = bytes(len(sel.bits))
        sel.allcommands = False
        sel.future = False
        sel.firstargs = {}
    elif op[:1] in (b"~", b"%"):
        if sel.allkeys:
            raise AclError("EEXIST")
        flags = 0
        offset = 1
        if op[:1] == b"%":
            while offset < len(op):
                ch = op[offset:offset + 1].upper()
                if ch == b"R" and not flags & PERM_READ:
                    flags |= PERM_READ
                elif ch == b"W" and not flags & PERM_WRITE:
                    flags |= PERM_WRITE
                elif ch == b"~":
                    offset += 1
                    break
                else:
                    raise AclError("EINVAL")
                offset += 1
            if not flags:
                raise AclError("EINVAL")
        else:
            flags = PERM_ALL
        pattern = op[offset:]
        if has_spaces(pattern):
            raise AclError("EINVAL")
        for existing in sel.patterns:
            if existing[0] == pattern:
                existing[1] |= flags
                break
        else:
            sel.patterns.append([pattern, flags])
        sel.allkeys = False
    elif op[:1] == b"&":
        if sel.allchannels:
            raise AclError("EISDIR")
        pattern = op[1:]
        if has_spaces(pattern):
            raise AclError("EINVAL")
        if pattern not in sel.channels:
            sel.channels.append(pattern)
        sel.allchannels = False
    elif op[:1] == b"+" and op[1:2] != b"@":
        name = op[1:]
        if b"|" not in name:
            spec = lookup_command(name)
            if spec is None:
                raise AclError("ENOENT")
            change_perm(sel, spec, True)
        else:
            base_name, _, sub = name.rpartition(b"|")
            spec = lookup_command(base_name)
            if spec is None:
                raise AclError("ENOENT")
            if spec.parent is not None:
                raise AclError("ECHILD")
            if not sub:
                raise AclError("EINVAL")
            if spec.subcommands:
                spec = lookup_command(name)
                if spec is None:
                    raise AclError("ENOENT")
                change_perm(sel, spec, True)
            else:
                args = sel.firstargs.setdefault(spec.id, [])
                if sub.lower() not in args:
                    args.append(sub.lower())
    elif op[:1] == b"-" and op[1:2] != b"@":
        spec = lookup_command(op[1:])
        if spec is None:
            raise AclError("ENOENT")
        change_perm(sel, spec, False)
    elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
        cflag = category_flag(op[2:])
        if not cflag:
            raise AclError("ENOENT")
        set_category(sel, cflag, op[:1] == b"+")
    else:
        raise AclError("EINVAL")


def set_user(acl, user, op: bytes):
    """ACLSetUser; raises AclError."""
    if not op:
        return
    low = op.lower()
    if low == b"on":
        user.enabled = True
    elif low == b"off":
        user.enabled = False
    elif low == b"skip-sanitize-payload":
        user.sanitize = 1
    elif low == b"sanitize-payload":
        user.sanitize = 2
    elif low == b"nopass":
        user.nopass = True
        user.passwords = []
    elif low == b"resetpass":
        user.nopass = False
        user.passwords = []
    elif op[:1] in (b">", b"#"):
        if op[:1] == b">":
            digest = hash_password(op[1:])
        else:
            digest = _check_hash(op[1:])
        if digest not in user.passwords:
            user.passwords.append(digest)
        user.nopass = False
    elif op[:1] in (b"<", b"!"):
        digest = hash_password(op[1:]) if op[:1] == b"<" else _check_hash(op[1:])
        if digest not in user.passwords:
            raise AclError("ENODEV")
        user.passwords.remove(digest)
    elif op[:1] == b"(" and op[-1:] == b")":
        sel = new_selector(False, acl.pubsub_all)
        argv = split_args(op[1:-1])
        if argv is None:
            raise AclError("EINVAL")
        for arg in argv:
            set_selector(sel, arg)
        user.selectors.append(sel)
    elif low == b"clearselectors":
        del user.selectors[1:]
    elif low == b"reset":
        set_user(acl, user, b"resetpass")
        set_user(acl, user, b"resetkeys")
        set_user(acl, user, b"resetchannels")
        if acl.pubsub_all:
            set_user(acl, user, b"allchannels")
        set_user(acl, user, b"off")
        set_user(acl, user, b"sanitize-payload")
        set_user(acl, user, b"clearselectors")
        set_user(acl, user, b"-@all")
    else:
        set_selector(user.selectors[0], op)


def _check_hash(h: bytes) -> str:
    if len(h) != 64 or any(ch not in HEX for ch in h):
        raise AclError("EBADMSG")
    return h.decode()


def merge_selector_args(args):
    """ACLMergeSelectorArguments: (merged list, None) or (None, index of the unmatched '(' argument)."""
    out = []
    current = None
    start = -1
    for j, op in enumerate(args):
        if op[:1] == b"(" and op[-1:] != b")":
            current = op
            start = j
            continue
        if start != -1:
            current += b" " + op
            if op[-1:] == b")":
                start = -1
                out.append(current)
            continue
        out.append(op)
    if start != -1:
        return None, start
    return out, None


def copy_user_into(dst, src):
    """ACLCopyUser: rules of src into dst (names stay)."""
    dst.enabled = src.enabled
    dst.nopass = src.nopass
    dst.sanitize = src.sanitize
    dst.passwords = list(src.passwords)
    dst.selectors = [s.copy() for s in src.selectors]
    dst.refresh()


# ---------------------------------------------------------------------------------------------- descriptions
def describe_command_rules(sel) -> bytes:
    """ACLDescribeSelectorCommandRules: the +@all/-@all start, best-fit categories, then single commands."""
    tops = _top_commands()
    every = list(_walk(tops))
    size = len(sel.bits)
    fake = Selector(size, False)
    if sel.future:
        additive = False
        rules = [b"+@all"]
        set_selector(fake, b"+@all")
    else:
        additive = True
        rules = [b"-@all"]
        set_selector(fake, b"-@all")
    temp = Selector(size, False)
    temp.bits[:] = sel.bits
    applied = set()
    cats = registry.ACL_CATEGORIES
    while True:
        best = -1
        mindiff, maxsame = 1 << 62, 0
        for j, name in enumerate(cats):
            if j in applied:
                continue
            cflag = registry.ACL_BITS[name]
            on = off = 0
            for spec in every:
                if spec.acl_categories & cflag:
                    if _bit(temp, spec.id):
                        on += 1
                    else:
                        off += 1
            diff, same = (off, on) if additive else (on, off)
            if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                best, mindiff, maxsame = j, diff, same
        if best == -1:
            break
        name = cats[best].encode()
        op = (b"+@" if additive else b"-@") + name
        set_selector(fake, op)
        set_selector(temp, (b"-@" if additive else b"+@") + name)
        rules.append(op)
        applied.add(best)
    _single_commands(sel, fake, rules, tops)
    return b" ".join(rules)


def _single_commands(sel, fake, rules, specs):
    for spec in specs:
        userbit = _bit(sel, spec.id)
        if userbit != _bit(fake, spec.id):
            rules.append((b"+" if userbit else b"-") + spec.name_bytes)
            change_perm(fake, spec, userbit)
        if spec.subcommands:
            _single_commands(sel, fake, rules, [s for s in spec.subcommands.values() if not s.flags & CMD_INTERNAL])
        if not userbit and sel.firstargs.get(spec.id):
            for arg in sel.firstargs[spec.id]:
                rules.append(b"+" + spec.name_bytes + b"|" + arg)


def pattern_string(p) -> bytes:
    prefix = {PERM_ALL: b"~", PERM_READ: b"%R~", PERM_WRITE: b"%W~"}[p[1]]
    return prefix + p[0]


def describe_selector(sel) -> bytes:
    parts = []
    if sel.allkeys:
        parts.append(b"~*")
    else:
        parts.extend(pattern_string(p) for p in sel.patterns)
    if sel.allchannels:
        parts.append(b"&*")
    else:
        parts.append(b"resetchannels")
        parts.extend(b"&" + ch for ch in sel.channels)
    parts.append(describe_command_rules(sel))
    return b" ".join(parts)


def user_flag_names(user):
    flags = [b"on" if user.enabled else b"off"]
    if user.nopass:
        flags.append(b"nopass")
    if user.sanitize == 1:
        flags.append(b"skip-sanitize-payload")
    elif user.sanitize == 2:
        flags.append(b"sanitize-payload")
    return flags


def describe_user(user) -> bytes:
    parts = user_flag_names(user)
    parts.extend(b"#" + p.encode() for p in user.passwords)
    out = b" ".join(parts) + b" " + describe_selector(user.selectors[0])
    for sel in user.selectors[1:]:
        out += b" (" + describe_selector(sel) + b")"
    return out


def user_has_unrestricted_key_access(user, spec, argv, rw):
    """ACLUserCheckCmdWithUnrestrictedKeyAccess: one selector runs the command and reaches every key."""
    for sel in user.selectors:
        probe = User(b"__probe__", 1)
        probe.selectors = [sel]
        if probe.check(spec, argv) is not None:
            continue
        if sel.allkeys or any(p[0] == b"*" and (p[1] & rw) == rw for p in sel.patterns):
            return True
    return False


# ---------------------------------------------------------------------------------------------- key positions
def _generic_keys(spec, argv):
    from engine.commands.introspection import get_keys
    out = []
    for pos, flags in get_keys(spec, argv):
        rw = 0
        for f in flags:
            if f == "access":
                rw |= PERM_READ
            elif f in ("insert", "delete", "update"):
                rw |= PERM_WRITE
        out.append((pos, rw))
    return out


set_generic_keys(_generic_keys)


# ---------------------------------------------------------------------------------------------- the server side
class Acl:
    """The users table, the default user, the ACL LOG and the hooks into the dispatcher and AUTH."""

    def __init__(self, server=None, pubsub_default="resetchannels", log_max_len=128):
        self.server = server
        self.pubsub_all = pubsub_default == "allchannels"
        self.log_max_len = log_max_len
        self.users = {}
        self.log = []                  # newest first: dicts (count, reason, context, object, username, ctime, cinfo)
        self.default = self.create_default_user()
        self.users[b"default"] = self.default

    # -- users
    def new_user(self, name: bytes):
        u = User(name, bitmap_size())
        u.selectors[0].allchannels = self.pubsub_all
        return u

    def create_default_user(self):
        u = self.new_user(b"default")
        for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            set_user(self, u, op)
        u.refresh()
        return u

    def get(self, name: bytes):
        return self.users.get(name)

    def set_default_password(self, password):
        """ACLUpdateDefaultUserPassword (requirepass)."""
        set_user(self, self.default, b"resetpass")
        if password:
            set_user(self, self.default, b">" + (password.encode() if isinstance(password, str) else password))
        else:
            set_user(self, self.default, b"nopass")
        self.default_changed()

    def default_changed(self):
        self.default.refresh()
        if self.server is not None:
            d = self.default
            self.server.dispatcher.auth_required = (not d.nopass) or (not d.enabled)

    def setuser(self, name: bytes, ops):
        """ACL SETUSER after the name: None on success, else the error text (nothing applied)."""
        merged, bad = merge_selector_args(ops)
        if merged is None:
            return "Unmatched parenthesis in acl selector starting at '%s'." % cstr(ops[bad])
        temp = self.new_user(b"__fakeuser__")
        existing = self.users.get(name)
        if existing is not None:
            copy_user_into(temp, existing)
        for op in merged:
            try:
                set_user(self, temp, op)
            except AclError as e:
                return "Error in ACL SETUSER modifier '%s': %s" % (cstr(op), e.text)
        if existing is not None:
            self.kill_pubsub_clients_if_needed(temp, existing)
        else:
            existing = self.new_user(name)
            self.users[name] = existing
        copy_user_into(existing, temp)
        if existing is self.default:
            self.default_changed()
        return None

    def deluser(self, c, names):
        for name in names:
            if name == b"default":
                return None
        deleted = 0
        for name in names:
            u = self.users.pop(name, None)
            if u is not None:
                self.kill_clients_of(c, u)
                deleted += 1
        return deleted

    def _clients(self):
        if self.server is None:
            return []
        return [conn.client for conn in list(self.server.clients.values()) if conn.client is not None]

    def kill_clients_of(self, current, u):
        """ACLFreeUserAndKillClients."""
        for cl in self._clients():
            if cl.acl_user is u:
                cl.acl_user = self.default
                cl.user = "default"
                cl.authenticated = False
                if cl is current:
                    cl.close_after_reply = True
                else:
                    cl.conn.close()

    def kill_pubsub_clients_if_needed(self, new, original):
        """ACLKillPubsubClientsIfNeeded."""
        if any(s.allchannels for s in new.selectors):
            return
        upcoming = [ch for s in new.selectors for ch in s.channels]
        if all(ch in upcoming for s in original.selectors for ch in s.channels):
            return
        probe = self.new_user(b"__probe__")
        probe.selectors[0].allchannels = False
        probe.selectors[0].channels = upcoming
        for cl in self._clients():
            if cl.acl_user is not original or cl.pubsub is None or not cl.pubsub.active():
                continue
            channels, patterns = self._subscriptions(cl)
            if any(not probe.check_channel(p, True) for p in patterns) or \
                    any(not probe.check_channel(ch, False) for ch in channels):
                cl.conn.close()

    @staticmethod
    def _subscriptions(cl):
        ps = cl.pubsub
        channels = list(getattr(ps, "channels", ()) or ()) + list(getattr(ps, "shard_channels", ()) or ())
        patterns = list(getattr(ps, "patterns", ()) or ())
        return channels, patterns

    # -- authentication
    def check_credentials(self, username: bytes, password: bytes):
        u = self.users.get(username)
        if u is None or not u.enabled:
            return None
        if u.nopass:
            return u
        digest = hash_password(password)
        for p in u.passwords:
            if _ct_equal(p, digest):
                return u
        return None

    def authenticate(self, c, username: bytes, password: bytes, argv0=b"AUTH") -> bool:
        """ACLAuthenticateUser: on success the client runs as that user; a failure is logged."""
        u = self.check_credentials(username, password)
        if u is not None:
            c.authenticated = True
            c.acl_user = u
            c.user = u.name.decode("latin-1")
            return True
        self.add_log(c, ACL_DENIED_AUTH, CTX_MULTI if c.multi_queue is not None else CTX_TOPLEVEL,
                     username=username, obj=argv0)
        return False

    # -- checks
    def denied(self, c, spec, argv, result):
        """Dispatcher hook: log a refused command and return its -NOPERM text (redis processCommand)."""
        reason, pos = result
        c.last_cmd = spec
        self.add_log(c, reason, CTX_MULTI if c.multi_queue is not None else CTX_TOPLEVEL, spec=spec, argv=argv,
                     pos=pos)
        if reason == ACL_DENIED_CMD:
            return b"NOPERM this user has no permissions to run the '" + spec.name_bytes + b"' command"
        return NOPERM_TEXT.get(reason, b"NOPERM")

    def check_exec(self, c, spec, argv):
        """EXEC re-checks every queued command (rules may have changed): None or the error text."""
        u = c.acl_user
        if u is None or u.unrestricted:
            return None
        result = u.check(spec, argv)
        if result is None:
            return None
        reason = {ACL_DENIED_CMD: "no permission to execute the command or subcommand",
                  ACL_DENIED_KEY: "no permission to touch the specified keys",
                  ACL_DENIED_CHANNEL: "no permission to access one of the channels used as arguments"}.get(
            result[0], "no permission")
        self.add_log(c, result[0], CTX_MULTI, spec=spec, argv=argv, pos=result[1])
        return ("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
                "call. This command is no longer allowed for the following reason: %s" % reason).encode()

    def check_script(self, caller, spec, argv):
        """scriptVerifyACL: None or the error text for a redis.call of the script's caller."""
        u = caller.acl_user
        if u is None or u.unrestricted:
            return None
        result = u.check(spec, argv)
        if result is None:
            return None
        self.add_log(caller, result[0], CTX_LUA, spec=spec, argv=argv, pos=result[1])
        return ("ERR The user executing the script %s" % ACL_ERROR_MESSAGE.get(
            result[0], "lacking the permissions for the command")).encode()

    def command_allowed(self, caller, spec, argv):
        """redis.acl_check_cmd."""
        u = caller.acl_user
        return u is None or u.check(spec, argv) is None

    # -- ACL LOG
    def add_log(self, c, reason, context, spec=None, argv=None, pos=0, username=None, obj=None):
        if reason == ACL_DENIED_CMD:
            obj = spec.name_bytes
        elif reason in (ACL_DENIED_KEY, ACL_DENIED_CHANNEL):
            obj = argv[pos]
        elif reason == ACL_DENIED_AUTH:
            obj = obj if obj is not None else b"AUTH"
        if username is None:
            username = c.acl_user.name if c.acl_user is not None else c.user.encode()
        now = int(time.time() * 1000)
        cinfo = self._client_info(c)
        entry = None
        for current in self.log[:10]:
            if current["reason"] == reason and current["context"] == context and \
                    abs(current["ctime"] - now) <= LOG_GROUPING_MAX_TIME_DELTA and \
                    current["object"] == obj and current["username"] == username:
                entry = current
                break
        if entry is not None:
            self.log.remove(entry)
            self.log.insert(0, entry)
            entry["cinfo"] = cinfo
            entry["ctime"] = now
            entry["count"] += 1
            return
        self.log.insert(0, {"count": 1, "reason": reason, "context": context, "object": obj,
                            "username": username, "ctime": now, "cinfo": cinfo})
        max_len = self.server.config["acllog-max-len"] if self.server is not None else self.log_max_len
        del self.log[max_len:]

    def _client_info(self, c):
        try:
            from engine.commands.connection import client_info_line
            return client_info_line(c, c.ks.now_ms).encode()
        except Exception:
            return b""

    # -- files
    def load_file(self, filename):
        """ACLLoadFromFile: None, or the error text (nothing changed then)."""
        try:
            with open(filename, "rb") as fh:
                data = fh.read()
        except OSError as e:
            return "Error loading ACLs, opening file '%s': %s" % (filename, e.strerror)
        errors = []
        users = {}
        for i, line in enumerate(data.split(b"\n")):
            linenum = i + 1
            line = line.strip(b" \t\r\n")
            if not line:
                continue
            argv = line.split(b" ")         # sdssplitlen: empty arguments are no-op rules
            if not argv:
                continue
            if argv[0] != b"user" or len(argv) < 2:
                errors.append("%s:%d should start with user keyword followed by the username. " % (filename, linenum))
                continue
            name = argv[1]
            if has_spaces(name):
                errors.append("'%s:%d: username '%s' contains invalid characters. " % (
                    filename, linenum, name.decode("latin-1")))
                continue
            if name in users:
                errors.append("WARNING: Duplicate user '%s' found on line %d. " % (name.decode("latin-1"), linenum))
                continue
            u = self.new_user(name)
            users[name] = u
            merged, _ = merge_selector_args(argv[2:])
            if merged is None:
                errors.append("%s:%d: Unmatched parenthesis in selector definition." % (filename, linenum))
                merged = []
            syntax_error = False
            for op in merged:
                op = op.strip(b"\t\r\n")
                try:
                    set_user(self, u, op)
                except AclError as e:
                    if e.errno == "ENOENT":
                        errors.append("%s:%d: Error in applying operation '%s': %s. " % (
                            filename, linenum, op.decode("latin-1"), e.text))
                    elif not syntax_error:
                        errors.append("%s:%d: %s. " % (filename, linenum, e.text))
                        syntax_error = True
            u.refresh()
        if errors:
            return "".join(errors) + ("WARNING: ACL errors detected, no change to the previously active ACL rules "
                                      "was performed")
        new_default = users.get(b"default") or self.create_default_user()
        copy_user_into(self.default, new_default)
        users[b"default"] = self.default
        old = self.users
        self.users = users
        for name, u in old.items():
            if u is not self.default:
                self.kill_clients_of(None, u)
        self.default_changed()
        return None

    def save_file(self, filename) -> bool:
        lines = b"".join(b"user " + name + b" " + describe_user(self.users[name]) + b"\n"
                         for name in sorted(self.users))
        tmp = "%s.tmp-%d-%d" % (filename, os.getpid(), int(time.time() * 1000))
        try:
            with open(tmp, "wb") as fh:
                fh.write(lines)
            os.rename(tmp, filename)
            return True
        except OSError as e:
            if self.server is not None:
                self.server.log.warning("Writing ACL file for ACL SAVE: %s" % e.strerror)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False

    def conf_lines(self):
        """CONFIG REWRITE: one 'user' line per user (redis rewriteConfigUserOption; none with an aclfile)."""
        if self.server is not None and self.server.config["aclfile"]:
            return []
        return ["user %s %s" % (name.decode("latin-1"), describe_user(self.users[name]).decode("latin-1"))
                for name in sorted(self.users)]

    def load_conf_users(self, entries):
        """The 'user' lines of the conf file (ACLAppendUserForLoading + ACLLoadConfiguredUsers):
        raises ValueError(log text) on a bad line."""
        seen = set()
        for argv in entries:
            name = argv[0]
            if name in seen:
                raise ValueError("Error in user declaration '%s': %s" % (name.decode("latin-1"), ERRORS["EALREADY"]))
            seen.add(name)
            if has_spaces(name):
                raise ValueError("Spaces not allowed in ACL usernames")
            merged, _ = merge_selector_args(argv[1:])
            if merged is None:
                raise ValueError("Unmatched parenthesis in selector definition of user '%s'" % name.decode("latin-1"))
            u = self.users.get(name)
            if u is None:
                u = self.new_user(name)
                self.users[name] = u
            else:
                set_user(self, u, b"reset")
            for op in merged:
                try:
                    set_user(self, u, op)
                except AclError as e:
                    raise ValueError("Error loading ACL rule '%s' for the user named '%s': %s" % (
                        op.decode("latin-1"), name.decode("latin-1"), e.text)) from None
            u.refresh()
        self.default_changed()


def _ct_equal(a: str, b: str) -> bool:
    import hmac
    return hmac.compare_digest(a, b)
