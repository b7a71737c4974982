"""Differential runs: the same command sequence against Cachemere and redis-server, replies compared as raw
bytes, or as sorted element lists for the commands where Redis gives no order."""
import hiredis

from tests.support.servers import RawConnection


def parse(raw, resp=2):
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


def normalise(value):
    if isinstance(value, list):
        return sorted((normalise(v) for v in value), key=repr)
    return value


def run_sequence(port, commands, resp=2):
    conn = RawConnection(port)
    if resp == 3:
        conn.command("HELLO", "3")
    try:
        return [conn.command(*cmd) for cmd in commands]
    finally:
        conn.close()


def assert_same(ours_port, theirs_port, commands, unordered=(), resp=2):
    """unordered: command names (upper case) whose replies are compared as sorted lists."""
    ours = run_sequence(ours_port, commands, resp)
    theirs = run_sequence(theirs_port, commands, resp)
    for cmd, a, b in zip(commands, ours, theirs):
        if a == b:
            continue
        if str(cmd[0]).upper() in unordered:
            assert normalise(parse(a)) == normalise(parse(b)), (cmd, a, b)
        else:
            assert a == b, (cmd, a, b)
