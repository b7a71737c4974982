"""The primary side of a replication link: one ``ReplicaLink`` per replica connection that sent PSYNC/SYNC.

A replica is an ordinary RESP connection until its PSYNC: then the link answers +FULLRESYNC with an RDB
(``$<len>`` payload, or the diskless ``$EOF:<40 chars>`` form when the replica announced ``capa eof`` and
``repl-diskless-sync`` is on) or +CONTINUE with the backlog bytes it lacks, and from then on receives the
replication stream (the engine's effect stream, as the AOF gets it) and sends REPLCONF ACK <offset>.
The RDB is written by engine/persistence/snapshot.write_keyspace, the same writer SAVE uses.
"""
import io
import os
import time

from engine.persistence.snapshot import write_keyspace

STATE_WAIT_START = "wait_bgsave_start"   # waiting for the next fork (repl-diskless-sync-delay, a transfer running)
STATE_WAIT_BGSAVE = "wait_bgsave"
STATE_SEND_BULK = "send_bulk"
STATE_ONLINE = "online"


class ReplicaLink:
    def __init__(self, repl, conn):
        self.repl = repl
        self.conn = conn
        self.client = conn.client
        self.state = STATE_WAIT_BGSAVE
        self.ack_offset = 0
        self.ack_time = time.time()
        self.pending = []
        self.pending_bytes = 0
        self.soft_limit_since = 0
        self.psync = True
        self.eof_capa = False
        peer = conn.peer or "?:0"
        self.addr_ip = peer.rsplit(":", 1)[0]
        opts = repl.replconf_opts.get(self.client.id, {})
        self.ip = opts.get("ip-address") or self.addr_ip
        self.listening_port = opts.get("listening-port", 0)
        self.capa = opts.get("capa", set())
        self.created = time.time()

    @property
    def name(self):
        return "%s:%d" % (self.ip, self.listening_port)

    def write(self, data):
        if not self.conn.closing:
            self.conn.net_out += len(data)
            self.conn.tw_dirty = True
            self.conn.transport.write(data)

    @property
    def info_state(self):
        """redis replstateToString: both WAIT_BGSAVE_START and WAIT_BGSAVE_END read wait_bgsave."""
        return STATE_WAIT_BGSAVE if self.state == STATE_WAIT_START else self.state

    def lag(self):
        return int(time.time() - self.ack_time)

    def close(self):
        self.conn.close()

    def abort(self):
        """Close without waiting for the output to drain (a replica over its output limit is not reading)."""
        self.conn.closing = True
        self.conn.transport.abort()


def rdb_payload(server, aux=None):
    """The dataset as an RDB, written by the one RDB writer (engine/persistence/snapshot.py)."""
    buf = io.BytesIO()
    persistence = server.extensions.get("persistence")
    functions = persistence.function_codes() if persistence is not None else []
    write_keyspace(server.ks, buf, server.config, functions=functions, extra_aux=aux)
    return buf.getvalue()


def frame_payload(payload, eof_form):
    """The bulk framing of a full sync: `$<len>\\r\\n<rdb>` or `$EOF:<mark>\\r\\n<rdb><mark>`."""
    if eof_form:
        mark = os.urandom(20).hex().encode()
        return b"$EOF:" + mark + b"\r\n" + payload + mark
    return b"$%d\r\n" % len(payload) + payload


def _key_save_delay(config):
    """redis's hidden rdb-key-save-delay slows every RDB child, the replication one too (tests use it)."""
    try:
        return config["rdb-key-save-delay"]
    except KeyError:
        return 0


class RdbChild:
    """A forked child writing the RDB of a full sync into a pipe (redis rdbSaveToSlavesSockets): the snapshot is
    the dataset at fork time, i.e. at the offset in +FULLRESYNC; the parent keeps serving and relays the bytes
    ($EOF: form) or collects them for the `$<len>` form, while the replica's stream waits in its pending list."""

    READ = 1 << 20

    def __init__(self, repl, pid, rfd):
        self.repl = repl
        self.pid = pid
        self.rfd = rfd
        self.links = []           # the replicas this one fork serves (all those waiting when it started)
        self.offset = 0           # the stream offset of the snapshot (+FULLRESYNC <replid> <offset>)
        self.eof = False
        self.mark = None
        self.chunks = []
        self.total = 0
        self.started = time.monotonic()

    @classmethod
    def start(cls, repl, aux):
        server = repl.server
        persistence = server.extensions.get("persistence")
        rfd, wfd = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(rfd)
            os.close(wfd)
            repl.log.warning("Can't fork for the replication RDB: %s" % exc.strerror)
            return None
        if pid == 0:
            code = 1
            try:
                os.close(rfd)
                if persistence is not None:
                    persistence._child_setup()
                with os.fdopen(wfd, "wb", buffering=1 << 20) as out:
                    functions = persistence.function_codes() if persistence is not None else []
                    write_keyspace(server.ks, out, server.config, functions=functions, extra_aux=aux,
                                   per_key_delay_us=_key_save_delay(server.config))
                code = 0
            except BaseException:
                pass
            finally:
                os._exit(code)
        os.close(wfd)
        os.set_blocking(rfd, False)
        child = cls(repl, pid, rfd)
        server.loop.add_reader(rfd, child._readable)
        return child

    def _readable(self):
        while True:
            try:
                data = os.read(self.rfd, self.READ)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._finish()
                return
            self.total += len(data)
            self.repl.rdb_child_data(self, data)

    def _finish(self):
        loop = self.repl.server.loop
        loop.remove_reader(self.rfd)
        os.close(self.rfd)
        try:
            _, status = os.waitpid(self.pid, 0)     # the child closed its pipe: it is exiting
            ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        except ChildProcessError:
            ok = False
        self.repl.rdb_child_done(self, ok, self.total)
