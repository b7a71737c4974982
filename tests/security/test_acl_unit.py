"""The compiled key-pattern check (engine/aclcore.pyx: prefix buckets, literal and "prefix*" shortcuts)
against a plain reading of redis ACLSelectorCheckKey: any pattern whose permissions cover the access and
whose glob (stringmatchlen, engine/glob.pyx) matches the key."""
import random

import engine.commands  # noqa: F401  (registers the command table)
from engine import registry
from engine.acl import Acl, PERM_ALL, PERM_READ, PERM_WRITE
from engine.glob import glob_match

ALPHABET = b"ab*?[]^-\\k:"


def reference(patterns, key, rw):
    return any((flags & rw) == rw and glob_match(p, key, False) for p, flags in patterns)


def test_key_patterns_match_reference():
    rng = random.Random(16)
    get = registry.COMMANDS[b"get"]          # RO access: needs read
    dele = registry.COMMANDS[b"del"]         # RM delete: needs write
    copy = registry.COMMANDS[b"copy"]        # source read, destination write
    acl = Acl()
    for case in range(400):
        patterns = []
        for _ in range(rng.randint(0, 6)):
            p = bytes(rng.choice(ALPHABET) for _ in range(rng.randint(0, 5)))
            if b" " in p or p == b"*":
                continue
            patterns.append((p, rng.choice([PERM_ALL, PERM_READ, PERM_WRITE])))
        ops = [b"on", b"nopass", b"+@all"]
        prefix = {PERM_ALL: b"~", PERM_READ: b"%R~", PERM_WRITE: b"%W~"}
        for p, flags in patterns:
            ops.append(prefix[flags] + p)
        assert acl.setuser(b"u%d" % case, ops) is None
        u = acl.users[b"u%d" % case]
        merged = {}
        for p, flags in patterns:
            merged[p] = merged.get(p, 0) | flags
        merged = list(merged.items())
        for _ in range(30):
            key = bytes(rng.choice(b"abk:[]*?-^\\") for _ in range(rng.randint(0, 6)))
            other = bytes(rng.choice(b"abk:") for _ in range(rng.randint(0, 4)))
            assert (u.check(get, [b"get", key]) is None) == reference(merged, key, PERM_READ), (patterns, key)
            assert (u.check(dele, [b"del", key]) is None) == reference(merged, key, PERM_WRITE), (patterns, key)
            expect = reference(merged, key, PERM_READ) and reference(merged, other, PERM_WRITE)
            assert (u.check(copy, [b"copy", key, other]) is None) == expect, (patterns, key, other)
