"""EffectLog's buffer subscriber (the AOF's pending bytearray, encoded in place) next to callable subscribers
(replication): the same bytes on every stream, SELECT per stream, MULTI/EXEC units, PUBLISH repl-only."""
from engine.core import EffectLog, encode_command


def _resp(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def test_encode_command_sizes_and_converts():
    assert encode_command([b"SET", b"k", b""]) == _resp(b"SET", b"k", b"")
    big = b"x" * 12345
    assert encode_command([b"SET", big, b"1234567890"]) == _resp(b"SET", big, b"1234567890")
    assert encode_command([b"PEXPIREAT", b"k", 17, "s"]) == _resp(b"PEXPIREAT", b"k", b"17", b"s")
    argv = [b"a%d" % i for i in range(11)]
    assert encode_command(argv) == _resp(*argv)


def test_buffer_alone_then_with_a_replication_stream():
    log = EffectLog()
    buf = bytearray()
    log.subscribe(buf)
    log.emit(0, [b"SET", b"a", b"1"])
    log.emit(0, [b"INCR", b"a"])
    log.emit(3, [b"DEL", b"b"])
    log.emit_repl(3, [b"PUBLISH", b"c", b"m"])       # no replication stream: nothing
    sel = lambda n: _resp(b"SELECT", b"%d" % n)      # noqa: E731
    expect = sel(0) + _resp(b"SET", b"a", b"1") + _resp(b"INCR", b"a") + sel(3) + _resp(b"DEL", b"b")
    assert bytes(buf) == expect
    repl = []
    log.subscribe(repl.append, repl=True)
    buf.clear()
    log.emit(3, [b"SET", b"x", b"y"])
    log.emit_repl(3, [b"PUBLISH", b"c", b"m"])
    log.begin_unit()
    log.emit(3, [b"SET", b"u", b"1"])
    log.emit(4, [b"SET", b"v", b"2"])
    log.end_unit()
    multi, exec_ = _resp(b"MULTI"), _resp(b"EXEC")
    assert bytes(buf) == (_resp(b"SET", b"x", b"y") + multi + _resp(b"SET", b"u", b"1") + sel(4)
                          + _resp(b"SET", b"v", b"2") + exec_)
    assert b"".join(repl) == (sel(3) + _resp(b"SET", b"x", b"y") + _resp(b"PUBLISH", b"c", b"m") + multi
                              + _resp(b"SET", b"u", b"1") + sel(4) + _resp(b"SET", b"v", b"2") + exec_)
    assert log.selected_db(buf) == 4 and log.selected_db(repl.append) == 4
    log.unsubscribe(bytearray(buf))                  # an equal buffer is not the subscriber
    assert len(log.subscribers) == 2
    log.unsubscribe(buf)
    assert log.subscribers == [repl.append]
    log.emit(4, [b"SET", b"z", b"1"])
    assert repl[-1] == _resp(b"SET", b"z", b"1")
