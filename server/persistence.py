"""Persistence on the server side: RDB snapshots (SAVE, BGSAVE by fork, save rules, the final save),
the append-only file (effect-stream subscriber, fsync policies, BGREWRITEAOF by fork, auto rewrite)
and loading at startup.  Registered as ``server.extensions["persistence"]`` by ``install(server)``.

Ordering promise (redis beforeSleep): the AOF buffer is written with write(2) before any reply of the
same batch leaves, under every fsync policy, so kill -9 loses no acknowledged write; with
``appendfsync always`` it is also fsynced first.  The hook is ``server.connection.set_before_reply``.
"""
import errno
import gc
import os
import queue
import signal
import sys
import threading
import time

from engine import registry
from engine.persistence import aof as aoflib
from server import progress as _progress
from engine.persistence.rdb import RdbError
from engine.persistence.snapshot import load_keyspace, write_keyspace

BGSAVE_RETRY_DELAY = 5          # redis CONFIG_BGSAVE_RETRY_DELAY (seconds)
EVERYSEC_INTERVAL = 1.0

MISCONF_RDB = (b"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to "
               b"disk. Commands that may modify the data set are disabled, because this instance is configured "
               b"to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error "
               b"option). Please check the Redis logs for details about the RDB error.")

AOF_OFF, AOF_ON, AOF_WAIT_REWRITE = 0, 1, 2

WRITE_FLAG = registry.FLAGS["write"]


class FatalLoadError(Exception):
    """The data on disk cannot be loaded: the server must not start."""


class Persistence:
    def __init__(self, server):
        self.server = server
        self.config = server.config
        self.ks = server.ks
        self.log = server.log
        # children (one at a time, like redis)
        self.child_pid = -1
        self.child_type = None          # "rdb" or "aof"
        self.child_start = 0.0
        self.dirty_before_bgsave = 0
        self.bgsave_scheduled = False
        self.latest_fork_usec = 0
        self.total_forks = 0
        # rdb
        self.lastbgsave_status_ok = True
        self.lastbgsave_try = 0.0
        self.rdb_saves = 0
        self.rdb_last_bgsave_time_sec = -1
        self.rdb_last_load_keys_loaded = 0
        self.rdb_last_load_keys_expired = 0
        # aof
        self.aof_state = AOF_OFF
        self.manifest = None
        self.aof_fd = -1
        self.pending = bytearray()      # encoded effects not written yet (EffectLog buffer subscriber)
        self.aof_current_size = 0
        self.aof_base_size = 0
        self.aof_last_incr_size = 0
        self.aof_last_write_ok = True
        self.aof_last_write_errno = 0
        self.aof_rewrite_scheduled = False
        self.aof_rewrites = 0
        self.aof_last_rewrite_time_sec = -1
        self.aof_lastbgrewrite_ok = True
        self.aof_rewrites_consecutive_failures = 0
        self.aof_delayed_fsync = 0
        self.unsynced_since = 0.0       # monotonic time of the first write not yet fsynced (0 = all synced)
        self.last_fsync = time.monotonic()
        self.fsync_in_flight = False
        self.max_fsync_lag = 0.0        # seconds: the longest a written command waited for its fsync (everysec)
        self.fsync_always = False
        self.fsync_everysec = False
        self.group = None               # server.connection.GroupCommit: connections whose replies wait for the write
        self._bio = None
        self._gate_prev = None
        self._gate_installed = False
        self.deny_message = None
        self.loading_allows_dup = False
        self.loaded_repl_info = {}     # repl-stream-db / repl-id / repl-offset of the RDB loaded at startup
        self.loaded_expired = []       # (dbid, key) found expired in it: DELs for the replicas that continue
        self._read_fsync_policy()

    # ------------------------------------------------------------------ paths
    def dir(self):
        return self.config["dir"] or os.getcwd()

    def rdb_path(self):
        return os.path.join(self.dir(), self.config["dbfilename"])

    def aof_dir(self):
        return os.path.join(self.dir(), self.config["appenddirname"])

    def aof_prefix(self):
        return self.config["appendfilename"]

    def save_rules(self):
        return self.config["save"] or []

    # ------------------------------------------------------------------ install
    def register(self):
        server = self.server
        server.extensions["persistence"] = self
        previous_debug = server.extensions.get("debug")
        server.extensions["debug"] = DebugCommands(self, previous_debug)
        server.info_sections["persistence"] = self.info_persistence
        from server import info
        stats_provider = server.info_section_provider("stats")

        def stats_with_forks(srv):
            fields = []
            for name, value in stats_provider(srv):
                if name == "latest_fork_usec":
                    value = self.latest_fork_usec
                elif name == "total_forks":
                    value = self.total_forks
                fields.append((name, value))
            return fields
        server.info_sections["stats"] = stats_with_forks
        server.hooks_on_shutdown.append(self.on_shutdown)
        cfg = self.config
        cfg.on_change("appendfsync", lambda v: self._read_fsync_policy())
        cfg.on_change("save", lambda v: self.update_write_gate())
        cfg.on_change("stop-writes-on-bgsave-error", lambda v: self.update_write_gate())
        cfg.on_change("appendonly", self._appendonly_changed)

    def _read_fsync_policy(self):
        policy = self.config["appendfsync"]
        self.fsync_always = policy == "always"
        self.fsync_everysec = policy == "everysec"

    # ------------------------------------------------------------------ startup
    def load_at_startup(self):
        """redis loadDataFromDisk + aofOpenIfNeededOnServerStart; raises FatalLoadError."""
        start = time.monotonic()
        if self.config["appendonly"]:
            self.manifest = self._load_manifest()
            if self.manifest is not None:
                self.load_aof_files(self.manifest)
                self.log.notice("DB loaded from append only file: %.3f seconds" % (time.monotonic() - start))
            self.ks.dirty = 0
            self._open_aof_on_start()
            return
        path = self.rdb_path()
        if not os.path.exists(path):
            return
        try:
            stats = self.load_rdb_file(path, progress=True)
        except FatalLoadError:
            raise
        except OSError as exc:
            raise FatalLoadError("Fatal error loading the DB: %s. Exiting." % exc.strerror) from None
        self.rdb_last_load_keys_loaded = stats.keys_loaded
        self.rdb_last_load_keys_expired = stats.keys_expired
        self.log.notice("DB loaded from disk: %.3f seconds" % (time.monotonic() - start))
        self.ks.dirty = 0

    def load_progress(self, pos):
        """Loader progress (bytes into the current file): INFO loading_* and, while the listeners are open,
        a hand-back to the event loop (server/loading.py)."""
        loading = getattr(self.server, "loading", None)
        if loading is not None:
            loading.progress(pos)

    def startup_load_paths(self):
        """The files load_at_startup will read (INFO loading_total_bytes)."""
        if self.config["appendonly"]:
            manifest = self._load_manifest_quiet()
            if manifest is None:
                return []
            files = ([manifest.base] if manifest.base is not None else []) + list(manifest.incr)
            return [os.path.join(self.aof_dir(), info.name) for info in files]
        return [self.rdb_path()] if os.path.exists(self.rdb_path()) else []

    def load_at_startup_reporting(self):
        """load_at_startup for the deferred load: logs a fatal error and returns False instead of raising."""
        try:
            self.load_at_startup()
        except (FatalLoadError, aoflib.AofError) as exc:
            self.server.log.warning(str(exc))
            return False
        self.update_write_gate()
        return True

    def load_rdb_file(self, source, aof_base=False, progress=False):
        """Load one RDB with redis's log lines; returns LoadStats; raises FatalLoadError when corrupt.
        ``progress``: draw a bar on a terminal (server/progress.py; the startup load)."""
        log = self.log
        bar = _progress.bar(0, "Loading RDB", "keys", delay=0.5, unit_scale=True) if progress else None

        def on_aux(key, value):
            if key == b"redis-ver":
                log.notice("Loading RDB produced by version %s" % value.decode("latin-1"))
            elif key == b"ctime":
                try:
                    age = int(time.time()) - int(value)
                    log.notice("RDB age %d seconds" % max(age, 0))
                except ValueError:
                    pass
            elif key == b"used-mem":
                try:
                    log.notice("RDB memory usage when created %.2f Mb" % (int(value) / (1024 * 1024)))
                    loading = getattr(self.server, "loading", None)
                    if loading is not None:
                        loading.rdb_used_mem = int(value)      # INFO loading_rdb_used_mem
                except ValueError:
                    pass
            elif key == b"aof-base" and value == b"1":
                log.notice("RDB is base AOF")
            elif key in (b"repl-stream-db", b"repl-id", b"repl-offset"):
                repl_info[key.decode()] = value      # redis rdbSaveInfo: replication/manager.py restores it
        repl_info = {}
        expired = []
        try:
            stats = load_keyspace(self.ks, source, self.config, on_aux=on_aux, on_function=self.load_function,
                                  on_expired=None if aof_base else (lambda dbid, key: expired.append((dbid, key))),
                                  on_progress=self.load_progress, progress=bar)
        except RdbError as exc:
            if bar is not None:
                bar.close()
            message = str(exc)
            if message.startswith("Wrong RDB checksum"):
                log.warning(message.rstrip(".") + ". Aborting now.")
            elif "FATAL" in message:
                log.warning(message)
            else:
                log.warning("Short read or OOM loading DB. Unrecoverable error, aborting now." if _is_short(message)
                            else "Internal error in RDB reading: %s" % message)
            raise FatalLoadError("Fatal error loading the DB: %s. Exiting." % message) from None
        if bar is not None:
            bar.update(max(0, (bar.total or 0) - bar.n))
            bar.close()
        log.notice("Done loading RDB, keys loaded: %d, keys expired: %d." % (stats.keys_loaded, stats.keys_expired))
        if not aof_base:
            self.loaded_repl_info = repl_info
            self.loaded_expired = expired
        return stats

    # ------------------------------------------------------------------ function libraries
    def function_codes(self):
        """The code of every function library (saved in RDB files and AOF rewrites)."""
        runner = self.server.extensions.get("scripting")
        return runner.functions.codes() if runner is not None else []

    def load_function(self, code, replace=False):
        """A FUNCTION2 record read from an RDB: load the library (redis rdbFunctionLoad), no time limit."""
        from engine.scripting.functions import FunctionError
        from engine.scripting.runner import script_runner
        try:
            script_runner(self.server).functions.create(code, replace or self.loading_allows_dup, 0)
        except FunctionError as exc:
            message = "Failed loading library, %s" % exc.message.decode("utf-8", "replace")
            self.log.warning(message)
            raise RdbError(message) from None

    def flush_functions(self):
        runner = self.server.extensions.get("scripting")
        if runner is not None:
            runner.functions.flush()

    # ------------------------------------------------------------------ AOF loading
    def _load_manifest(self):
        path = os.path.join(self.aof_dir(), aoflib.manifest_file_name(self.aof_prefix()))
        if not os.path.exists(path):
            return None
        try:
            return aoflib.AofManifest.load(path)
        except (OSError, aoflib.AofError) as exc:
            raise FatalLoadError(str(exc)) from None

    def load_aof_files(self, manifest):
        """Load base then incr files (redis loadAppendOnlyFiles); raises FatalLoadError."""
        files = ([manifest.base] if manifest.base is not None else []) + list(manifest.incr)
        for info in files:
            if not os.path.exists(os.path.join(self.aof_dir(), info.name)):
                raise FatalLoadError("The AOF file %s doesn't exist" % info.name)
        client = self._replay_client()
        for index, info in enumerate(files):
            last = index == len(files) - 1
            start = time.monotonic()
            self._load_one_aof(info, client, last)
            loading = getattr(self.server, "loading", None)
            if loading is not None:
                loading.file_done(os.path.getsize(os.path.join(self.aof_dir(), info.name)))
            kind = "base" if info.type == aoflib.TYPE_BASE else "incr"
            self.log.notice("DB loaded from %s file %s: %.3f seconds" % (kind, info.name, time.monotonic() - start))

    def _replay_client(self):
        c = self.server.new_client(None)
        c.is_master = True
        c.authenticated = True
        c.acl_user = None                      # redis: the AOF client runs without a user (no ACL checks)
        return c

    def _load_one_aof(self, info, client, last):
        path = os.path.join(self.aof_dir(), info.name)
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            return
        pos = 0
        if data.startswith(b"REDIS"):
            self.log.notice("Reading RDB base file on AOF loading...")
            stats = self.load_rdb_file(data, aof_base=True, progress=True)
            pos = stats.end_offset or len(data)
            if pos >= len(data):
                return
            self.log.notice("Reading the remaining AOF tail...")
        dispatcher = self.server.dispatcher
        ks = self.ks
        counter = [0]

        def execute(argv):
            if registry.lookup(argv[0]) is None:
                raise FatalLoadError("Unknown command '%s' reading the append only file %s"
                                     % (argv[0].decode("latin-1"), info.name))
            counter[0] += 1
            if not counter[0] & 1023:
                ks.update_clock()
            dispatcher.execute(client, argv)
            client.reply.take()
        bar = _progress.bar(len(data) - pos, "Loading AOF", "B", delay=0.5, unit_scale=True)
        try:
            aoflib.replay_commands(data, execute, pos, on_progress=self.load_progress, progress=bar)
            bar.update(bar.total - bar.n)
        except aoflib.AofFormatError:
            raise FatalLoadError("Bad file format reading the append only file %s: make a backup of your AOF "
                                 "file, then use ./redis-check-aof --fix <filename.manifest>" % info.name) from None
        except aoflib.AofTruncated as exc:
            if str(exc) == "incomplete MULTI":
                self.log.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s" % info.name)
            if not last:
                raise FatalLoadError("Fatal error: the truncated file is not the last file") from None
            if not self.config["aof-load-truncated"]:
                raise FatalLoadError(
                    "Unexpected end of file reading the append only file %s. You can: 1) Make a backup of your "
                    "AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can "
                    "set the 'aof-load-truncated' configuration option to yes and restart the server." % info.name
                ) from None
            self.log.warning("!!! Warning: short read while loading the AOF file %s!!!" % info.name)
            self.log.warning("!!! Truncating the AOF %s at offset %d !!!" % (info.name, exc.valid_up_to))
            try:
                os.truncate(path, exc.valid_up_to)
            except OSError as err:
                raise FatalLoadError("Error truncating the AOF file %s: %s" % (info.name, err.strerror)) from None
            if client.multi_queue is not None:
                dispatcher.execute(client, [b"DISCARD"])
                client.reply.take()
            self.log.warning("AOF %s loaded anyway because aof-load-truncated is enabled" % info.name)
        finally:
            bar.close()

    def _open_aof_on_start(self):
        """Create a base when there is nothing, open (or create) the last incr file, persist the manifest."""
        os.makedirs(self.aof_dir(), exist_ok=True)
        prefix = self.aof_prefix()
        am = self.manifest or aoflib.AofManifest()
        if am.base is None and not am.incr:
            name = am.new_base(prefix, self.config["aof-use-rdb-preamble"])
            self._write_base_file(os.path.join(self.aof_dir(), name))
            self.log.notice("Creating AOF base file %s on server start" % name)
        created = not am.incr
        incr = am.last_incr(prefix)
        self.log.notice("%s AOF incr file %s on server start" % ("Creating" if created else "Opening", incr))
        self.manifest = am
        self._open_incr(incr)
        am.persist(self.aof_dir(), prefix)
        self._delete_history_files()
        self.aof_base_size = self._files_size([am.base] if am.base else [])
        self.aof_current_size = self._files_size(([am.base] if am.base else []) + am.incr)
        self._aof_turn_on()

    def _files_size(self, infos):
        total = 0
        for info in infos:
            t0 = time.perf_counter()
            try:
                total += os.path.getsize(os.path.join(self.aof_dir(), info.name))
            except OSError:
                pass
            self._latency_sample(("aof-fstat",), t0)     # redis getAppendOnlyFileSize
        return total

    def _write_base_file(self, path):
        temp = path + ".tmp"
        with open(temp, "wb", buffering=1 << 20) as f:
            if self.config["aof-use-rdb-preamble"]:
                write_keyspace(self.ks, f, self.config, aof_base=True, functions=self.function_codes())
            else:
                aoflib.write_keyspace_as_commands(self.ks, f, functions=self.function_codes())
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, path)

    def _open_incr(self, name, temp=False):
        path = os.path.join(self.aof_dir(), name)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | (os.O_TRUNC if temp else 0), 0o644)
        old, self.aof_fd = self.aof_fd, fd
        self.aof_last_incr_size = os.fstat(fd).st_size
        if old >= 0:
            self._bio_submit(("close", old))
        self.ks.effects.last_dbid = -1     # the new file must start with a SELECT

    def _aof_turn_on(self):
        if self.aof_state == AOF_OFF:
            self.pending.clear()
            self.ks.effects.subscribe(self.pending)
            self._set_before_reply(self._reply_hook())
        self.aof_state = AOF_ON

    def _delete_history_files(self):
        am = self.manifest
        if am is None or not am.history or self.config["aof-disable-auto-gc"]:
            return
        for info in am.history:
            self.log.notice("Removing the history file %s in the background" % info.name)
            try:
                os.unlink(os.path.join(self.aof_dir(), info.name))
            except OSError:
                pass
        am.history = []
        try:
            am.persist(self.aof_dir(), self.aof_prefix())
        except OSError as exc:
            self.log.warning("Can't persist the AOF manifest: %s" % exc.strerror)

    @staticmethod
    def _set_before_reply(hook):
        try:
            from server import connection
        except ImportError:
            return
        setter = getattr(connection, "set_before_reply", None)
        if setter is not None:
            setter(hook)

    # ------------------------------------------------------------------ AOF writing
    def _reply_hook(self):
        """The before-reply hook: a compiled GroupCommit over our pending buffer (server/connection.pyx)."""
        if self.group is None:
            try:
                from server.connection import GroupCommit
            except ImportError:
                return self.before_reply
            self.group = GroupCommit(self.pending, self.write_pending, self.server)
        return self.group

    def before_reply(self, conn):
        """Runs before a connection writes its replies: the batch's effects reach the file first.

        The replies are held until one write (+fsync under appendfsync always) covers every connection
        served in this loop iteration (redis's flushAppendOnlyFile in beforeSleep, before the replies
        are written): one write syscall per iteration under every policy; returns True when held.
        The hold itself is GroupCommit's (server/connection.pyx); None commits now."""
        if self.group is not None:
            return self.group(conn)
        if conn is None and self.pending:
            self.write_pending()
        return False

    @property
    def held_replies(self):
        return self.group.held if self.group is not None else []

    def _group_commit(self):
        if self.group is not None:
            self.group.commit()
        else:
            self.write_pending()

    def write_pending(self):
        data = self.pending
        if not data or self.aof_fd < 0:
            return
        fd = self.aof_fd
        n = len(data)
        written = 0
        t0 = time.perf_counter()
        try:
            written = os.write(fd, data)          # the bytearray itself: no copy
            if written < n:
                with memoryview(data) as view:
                    while written < n:
                        written += os.write(fd, view[written:])
        except OSError as exc:
            failed = bytes(data)
            data.clear()
            self._aof_write_failed(failed, written, exc)
            return
        data.clear()
        self._latency_sample(("aof-write-pending-fsync" if self.fsync_in_flight else
                              "aof-write-active-child" if self.has_child() else "aof-write-alone",
                              "aof-write"), t0)
        self.aof_current_size += written
        self.aof_last_incr_size += written
        if not self.aof_last_write_ok:
            self.aof_last_write_ok = True
            self.log.warning("AOF write error looks solved, Redis can write again.")
            self.update_write_gate()
        if self.fsync_always:
            t0 = time.perf_counter()
            try:
                os.fdatasync(fd)
            except OSError as exc:
                self.log.warning("Can't persist AOF for fsync error when the AOF fsync policy is 'always': %s. "
                                 "Exiting..." % exc.strerror)
                os._exit(1)
            self._latency_sample(("aof-fsync-always",), t0)
            self.last_fsync = time.monotonic()
        elif not self.unsynced_since:
            self.unsynced_since = time.monotonic()

    def _latency_sample(self, events, t0):
        """redis latencyAddSampleIfNeeded for the AOF events, in ms since perf_counter() t0."""
        latency = getattr(self.server, "latency", None)
        if latency is not None and latency.threshold:
            ms = int((time.perf_counter() - t0) * 1000)
            for event in events:
                latency.add_if_needed(event, ms)

    def _aof_write_failed(self, data, written, exc):
        if self.fsync_always:
            self.log.warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. "
                             "Exiting...")
            os._exit(1)
        self.log.warning("Error writing to the AOF file: %s" % exc.strerror)
        if written:
            try:   # drop the partial command so the file stays loadable; retry everything later
                os.ftruncate(self.aof_fd, self.aof_last_incr_size)
            except OSError:
                pass
        self.pending[0:0] = data
        self.aof_last_write_errno = exc.errno or errno.EIO
        if self.aof_last_write_ok:
            self.aof_last_write_ok = False
            self.update_write_gate()

    def _everysec_tick(self):
        if not self.unsynced_since or self.fsync_in_flight or self.aof_fd < 0:
            return
        if time.monotonic() - self.last_fsync < EVERYSEC_INTERVAL:
            return
        self.fsync_in_flight = True
        since, self.unsynced_since = self.unsynced_since, 0.0
        self._bio_submit(("fsync", self.aof_fd, since))

    def _bio_submit(self, job):
        if self._bio is None:
            self._bio = queue.SimpleQueue()
            threading.Thread(target=self._bio_loop, name="cachemere-bio-aof", daemon=True).start()
        self._bio.put(job)

    def _bio_loop(self):
        """redis bio: fsync and close off the event loop thread."""
        while True:
            job = self._bio.get()
            try:
                if job[0] == "fsync":
                    try:
                        os.fdatasync(job[1])
                    except OSError:
                        pass
                    now = time.monotonic()
                    self.max_fsync_lag = max(self.max_fsync_lag, now - job[2])
                    self.last_fsync = now
                    self.fsync_in_flight = False
                elif job[0] == "close":
                    os.close(job[1])
            except Exception:   # the thread must survive anything
                self.fsync_in_flight = False

    def fsync_now(self):
        self.write_pending()
        if self.aof_fd >= 0:
            try:
                os.fsync(self.aof_fd)
            except OSError:
                pass
            self.unsynced_since = 0.0
            self.last_fsync = time.monotonic()

    # ------------------------------------------------------------------ AOF on/off at runtime
    def _appendonly_changed(self, value):
        if value and self.aof_state == AOF_OFF:
            self.start_append_only()
        elif not value and self.aof_state != AOF_OFF:
            self.stop_append_only()

    def start_append_only(self):
        """CONFIG SET appendonly yes: log into a temp incr file until a rewrite gives us a base."""
        os.makedirs(self.aof_dir(), exist_ok=True)
        if self.manifest is None:
            self.manifest = self._load_manifest_quiet() or aoflib.AofManifest()
        self._open_incr(self._temp_incr_name(), temp=True)
        self.pending.clear()
        self.ks.effects.subscribe(self.pending)
        self._set_before_reply(self._reply_hook())
        self.aof_state = AOF_WAIT_REWRITE
        self.aof_current_size = 0
        if self.child_pid > 0:
            if self.child_type == "aof":
                self._kill_child()
            else:
                self.aof_rewrite_scheduled = True
                self.log.warning("AOF was enabled but there is already another background operation. An AOF "
                                 "background was scheduled to start when possible.")
                return
        if not self.rewrite_background():
            self.log.warning("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. "
                             "Check the above logs for more info about the error.")
            self.aof_rewrite_scheduled = True

    def _load_manifest_quiet(self):
        try:
            return self._load_manifest()
        except FatalLoadError:
            return None

    def _temp_incr_name(self):
        return aoflib.TEMP_PREFIX + self.aof_prefix() + aoflib.INCR_SUFFIX

    def stop_append_only(self):
        if self.held_replies:
            self._group_commit()
        self.fsync_now()
        self.ks.effects.unsubscribe(self.pending)
        self._set_before_reply(None)
        self.pending.clear()
        if self.aof_fd >= 0:
            self._bio_submit(("close", self.aof_fd))
            self.aof_fd = -1
        if self.aof_state == AOF_WAIT_REWRITE and not failed:
            try:
                os.unlink(os.path.join(self.aof_dir(), self._temp_incr_name()))
            except OSError:
                pass
        return not failed
        if self.child_type == "aof":
            self._kill_child()
        self.aof_state = AOF_OFF
        self.aof_rewrite_scheduled = False
        self.update_write_gate()

    # ------------------------------------------------------------------ forking
    def has_child(self):
        return self.child_pid > 0

    def _fork(self, child_body, kind):
        """Fork a child running child_body() -> bool; returns the pid, or -1 (errno logged)."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        start = time.perf_counter_ns()
        try:
            pid = os.fork()
        except OSError as exc:
            self.log.warning("Can't fork: %s" % exc.strerror)
            return -1
        if pid == 0:
            code = 1
            try:
                self._child_setup()
                code = 0 if child_body() else 1
            except BaseException as exc:   # the child must never return into the event loop
                try:
                    self.log.warning("Child error: %r" % (exc,))
                except BaseException:
                    pass
            finally:
                os._exit(code)
        self.latest_fork_usec = (time.perf_counter_ns() - start) // 1000
        latency = getattr(self.server, "latency", None)
        if latency is not None:
            latency.add_if_needed("fork", self.latest_fork_usec // 1000)
        self.total_forks += 1
        self.child_pid = pid
        self.child_type = kind
        self.child_start = time.time()
        return pid

    def _child_setup(self):
        gc.disable()                  # a collection would touch (and copy) every page of the parent
        self.log.role = "C"
        try:
            signal.set_wakeup_fd(-1)  # never wake the parent's loop from here
        except (ValueError, OSError):
            pass
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (ValueError, OSError):
                pass
        for srv in list(self.server.listeners) + list(getattr(self.server, "mc_listeners", [])) + \
                list(getattr(self.server, "tls_listeners", [])):
            for sock in getattr(srv, "sockets", None) or ():
                try:
                    os.close(sock.fileno())   # a restarted server must be able to bind while we run
                except OSError:
                    pass

    def _kill_child(self):
        pid = self.child_pid
        if pid <= 0:
            return
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        self._remove_child_temp(pid)
        self.child_pid = -1
        self.child_type = None

    def _remove_child_temp(self, pid):
        name = ("temp-%d.rdb" if self.child_type == "rdb" else "temp-rewriteaof-bg-%d.aof") % pid
        try:
            os.unlink(os.path.join(self.dir(), name))
        except OSError:
            pass

    def _reap_child(self):
        try:
            pid, status = os.waitpid(self.child_pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.child_pid, 1 << 8
        if pid == 0:
            return
        kind, pid = self.child_type, self.child_pid
        self.child_pid = -1
        self.child_type = None
        by_signal = os.WIFSIGNALED(status)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        sig = os.WTERMSIG(status) if by_signal else 0
        elapsed = time.time() - self.child_start
        if kind == "rdb":
            self._bgsave_done(pid, code, sig, elapsed)
        else:
            self._rewrite_done(pid, code, sig, elapsed)

    # ------------------------------------------------------------------ RDB
    def rdb_save(self):
        """Foreground save (SAVE, SHUTDOWN, FLUSHALL with save rules); True on success."""
        ok = self._write_rdb()
        if ok:
            self.log.notice("DB saved on disk")
            self.ks.dirty = 0
            self.server.last_save_time = time.time()
            self.lastbgsave_status_ok = True
            self.rdb_saves += 1
            self.update_write_gate()
        return ok

    def _write_rdb(self):
        final = self.rdb_path()
        temp = os.path.join(self.dir(), "temp-%d.rdb" % os.getpid())
        try:
            with open(temp, "wb", buffering=1 << 20) as f:
                repl = self.server.extensions.get("replication")
                write_keyspace(self.ks, f, self.config, per_key_delay_us=self._key_save_delay(),
                               functions=self.function_codes(),
                               extra_aux=repl.save_info() if repl is not None else None)
                f.flush()
                os.fsync(f.fileno())
            os.rename(temp, final)
            aoflib.fsync_dir(self.dir())
            return True
        except OSError as exc:
            self.log.warning("Failed opening the temp RDB file %s (in server root dir %s) for saving: %s"
                             % (os.path.basename(temp), self.dir(), exc.strerror)
                             if not os.path.exists(temp) else
                             "Write error saving DB on disk: %s" % exc.strerror)
            try:
                os.unlink(temp)
            except OSError:
                pass
            return False

    def _key_save_delay(self):
        try:
            return self.config["rdb-key-save-delay"]
        except KeyError:
            return 0

    def bgsave(self):
        """rdbSaveBackground: True when the child started."""
        self.dirty_before_bgsave = self.ks.dirty
        self.lastbgsave_try = time.time()

        def body():
            ok = self._write_rdb()
            if ok:
                self.log.notice("DB saved on disk")
            return ok
        pid = self._fork(body, "rdb")
        if pid < 0:
            self.lastbgsave_status_ok = False
            self.update_write_gate()
            return False
        self.log.notice("Background saving started by pid %d" % pid)
        return True

    def _bgsave_done(self, pid, code, sig, elapsed):
        self.rdb_last_bgsave_time_sec = int(elapsed)
        if not sig and code == 0:
            self.log.notice("Background saving terminated with success")
            self.ks.dirty -= self.dirty_before_bgsave
            self.server.last_save_time = time.time()
            self.lastbgsave_status_ok = True
            self.rdb_saves += 1
        elif not sig:
            self.log.warning("Background saving error")
            self.lastbgsave_status_ok = False
        else:
            self.log.warning("Background saving terminated by signal %d" % sig)
            self._remove_child_temp_typed(pid, "rdb")
            if sig != signal.SIGUSR1:      # SIGUSR1 is how we cancel a save on purpose
                self.lastbgsave_status_ok = False
        self.update_write_gate()

    def _remove_child_temp_typed(self, pid, kind):
        name = ("temp-%d.rdb" if kind == "rdb" else "temp-rewriteaof-bg-%d.aof") % pid
        try:
            os.unlink(os.path.join(self.dir(), name))
        except OSError:
            pass

    def after_flushall(self, c):
        """FLUSHALL: cancel a running BGSAVE and save the empty dataset when save rules exist."""
        if self.child_type == "rdb":
            self._kill_child()
        if self.save_rules():
            self.rdb_save()
            c.dirty = 1       # redis: the save resets dirty, then FLUSHALL counts as one change

    # ------------------------------------------------------------------ AOF rewrite
    def rewrite_background(self):
        """rewriteAppendOnlyFileBackground: True when the child started."""
        if self.has_child():
            return False
        os.makedirs(self.aof_dir(), exist_ok=True)
        if self.aof_state == AOF_ON:
            self.write_pending()
            if self.manifest is None:
                self.manifest = aoflib.AofManifest()
            name = self.manifest.new_incr(self.aof_prefix())
            try:
                self._open_incr(name)
                self.manifest.persist(self.aof_dir(), self.aof_prefix())
            except OSError as exc:
                self.log.warning("Can't open the append-only file %s: %s" % (name, exc.strerror))
                return False
            self.log.notice("Creating AOF incr file %s on background rewrite" % name)
        elif self.aof_state == AOF_WAIT_REWRITE:
            self.write_pending()
        preamble = self.config["aof-use-rdb-preamble"]
        delay = self._key_save_delay()

        def body():
            temp = os.path.join(self.dir(), "temp-rewriteaof-bg-%d.aof" % os.getpid())
            with open(temp, "wb", buffering=1 << 20) as f:
                if preamble:
                    write_keyspace(self.ks, f, self.config, aof_base=True, per_key_delay_us=delay,
                                   functions=self.function_codes())
                else:
                    aoflib.write_keyspace_as_commands(self.ks, f, per_key_delay_us=delay,
                                                      functions=self.function_codes())
                f.flush()
                os.fsync(f.fileno())
            self.log.notice("Successfully created the temporary AOF base file %s" % os.path.basename(temp))
            return True
        pid = self._fork(body, "aof")
        if pid < 0:
            self.aof_lastbgrewrite_ok = False
            return False
        self.aof_rewrite_scheduled = False
        self.log.notice("Background append only file rewriting started by pid %d" % pid)
        return True

    def _rewrite_done(self, pid, code, sig, elapsed):
        temp = os.path.join(self.dir(), "temp-rewriteaof-bg-%d.aof" % pid)
        self.aof_last_rewrite_time_sec = int(elapsed)
        if sig or code != 0:
            if sig:
                self.log.warning("Background AOF rewrite terminated by signal %d" % sig)
            else:
                self.log.warning("Background AOF rewrite terminated with error")
            self._rewrite_failed(temp, sig)
            return
        self.log.notice("Background AOF rewrite terminated with success")
        prefix = self.aof_prefix()
        am = (self.manifest or aoflib.AofManifest()).copy()
        new_base = am.new_base(prefix, self.config["aof-use-rdb-preamble"])
        base_path = os.path.join(self.aof_dir(), new_base)
        t0 = time.perf_counter()
        try:
            os.rename(temp, base_path)
            self._latency_sample(("aof-rename",), t0)
        except OSError as exc:
            self.log.warning("Error trying to rename the temporary AOF base file %s into %s: %s"
                             % (os.path.basename(temp), new_base, exc.strerror))
            self._rewrite_failed(temp, 0)
            return
        temp_incr_path = None
        if self.aof_state == AOF_WAIT_REWRITE:
            # the temp incr file collected everything since the fork: it becomes the first incr file
            self.write_pending()
            incr_name = am.new_incr(prefix)
            temp_incr_path = os.path.join(self.aof_dir(), self._temp_incr_name())
            t0 = time.perf_counter()
            try:
                os.rename(temp_incr_path, os.path.join(self.aof_dir(), incr_name))
                self._latency_sample(("aof-rename",), t0)
            except OSError as exc:
                self.log.warning("Error trying to rename the temporary AOF incr file: %s" % exc.strerror)
                os.unlink(base_path)
                self._rewrite_failed(temp, 0)
                return
        if self.aof_state != AOF_OFF:
            am.mark_rewritten_incr_as_history()
        try:
            am.persist(self.aof_dir(), prefix)
        except OSError as exc:
            self.log.warning("Can't persist the AOF manifest: %s" % exc.strerror)
            try:
                os.unlink(base_path)
            except OSError:
                pass
            self._rewrite_failed(temp, 0)
            return
        self.manifest = am
        self.log.notice("Successfully renamed the temporary AOF base file %s into %s"
                        % (os.path.basename(temp), new_base))
        if self.aof_state == AOF_WAIT_REWRITE:
            self.aof_state = AOF_ON
        base_size = self._files_size([am.base])
        self.aof_base_size = base_size
        self.aof_current_size = base_size + self.aof_last_incr_size
        self._delete_history_files()
        self.aof_lastbgrewrite_ok = True
        self.aof_rewrites += 1
        self.aof_rewrites_consecutive_failures = 0
        if self.aof_state == AOF_ON:
            self.log.notice("Background AOF rewrite finished successfully")

    def _rewrite_failed(self, temp, sig):
        try:
            os.unlink(temp)
        except OSError:
            pass
        if sig != signal.SIGUSR1:
            self.aof_lastbgrewrite_ok = False
            self.aof_rewrites_consecutive_failures += 1
        if self.aof_state == AOF_WAIT_REWRITE:
            self.aof_rewrite_scheduled = True

    # ------------------------------------------------------------------ cron
    def cron(self):
        if self.child_pid > 0:
            self._reap_child()
        if self.aof_state != AOF_OFF:
            if self.pending:
                self.write_pending()
            if self.fsync_everysec:
                self._everysec_tick()
        if self.child_pid > 0:
            return
        now = time.time()
        if self.aof_rewrite_scheduled:
            self.rewrite_background()
            return
        retry_ok = self.lastbgsave_status_ok or now - self.lastbgsave_try > BGSAVE_RETRY_DELAY
        if self.bgsave_scheduled and retry_ok:
            self.bgsave_scheduled = False
            self.bgsave()
            return
        dirty = self.ks.dirty
        if dirty and retry_ok:
            for seconds, changes in self.save_rules():
                if dirty >= changes and now - self.server.last_save_time > seconds:
                    self.log.notice("%d changes in %d seconds. Saving..." % (changes, seconds))
                    self.bgsave()
                    return
        if self.aof_state == AOF_ON:
            perc = self.config["auto-aof-rewrite-percentage"]
            if perc and self.aof_current_size > self.config["auto-aof-rewrite-min-size"]:
                base = self.aof_base_size or 1
                growth = (self.aof_current_size * 100 // base) - 100
                if growth >= perc:
                    self.log.notice("Starting automatic rewriting of AOF on %d%% growth" % growth)
                    self.rewrite_background()

    # ------------------------------------------------------------------ shutdown
    def on_shutdown(self, save):
        """redis prepareForShutdown: stop children, flush the AOF, take the final snapshot."""
        if self.child_pid > 0:
            kind = self.child_type
            self.log.warning("There is a child %s, killing it!" % ("saving an .rdb" if kind == "rdb"
                                                                  else "rewriting the AOF"))
            self._kill_child()
        if self.aof_state != AOF_OFF:
            self.log.notice("Calling fsync() on the AOF file.")
            if self.held_replies:
                self._group_commit()
            self.fsync_now()
        failed = False
        if save is True or (save is None and self.save_rules()):
            self.log.notice("Saving the final RDB snapshot before exiting.")
            if not self.rdb_save():
                self.log.warning("Error trying to save the DB, can't exit.")
                failed = True
        if self.aof_state != AOF_OFF and not failed:
            self._set_before_reply(None)      # the last replies go out without waiting for a commit
        if self.aof_state == AOF_WAIT_REWRITE and not failed:
            try:
                os.unlink(os.path.join(self.aof_dir(), self._temp_incr_name()))
            except OSError:
                pass
        return not failed

    # ------------------------------------------------------------------ MISCONF
    def update_write_gate(self):
        """Install the dispatcher hook refusing writes only while a disk error holds."""
        message = None
        if self.config["stop-writes-on-bgsave-error"] and self.save_rules() and not self.lastbgsave_status_ok:
            message = MISCONF_RDB
        elif self.aof_state != AOF_OFF and not self.aof_last_write_ok:
            message = b"MISCONF Errors writing to the AOF file: " + os.strerror(self.aof_last_write_errno).encode()
        self.deny_message = message
        dispatcher = self.server.dispatcher
        if message is not None and not self._gate_installed:
            self._gate_prev = dispatcher.before_call
            dispatcher.before_call = self._gate
            self._gate_installed = True
        elif message is None and self._gate_installed and dispatcher.before_call is self._gate:
            dispatcher.before_call = self._gate_prev
            self._gate_prev = None
            self._gate_installed = False

    def _gate(self, c, spec, argv):
        prev = self._gate_prev
        if prev is not None and not prev(c, spec, argv):
            return False
        message = self.deny_message
        if message is None or c.is_master:
            return True
        if spec.flags & WRITE_FLAG or spec.name == "ping" or (
                spec.name == "exec" and c.multi_queue and any(s.flags & WRITE_FLAG for s, _ in c.multi_queue)):
            spec.rejected_calls += 1
            if c.multi_queue is not None:
                c.multi_error = True
            c.error(message)
            return False
        return True

    # ------------------------------------------------------------------ INFO
    def info_persistence(self, server):
        now = time.time()
        rdb_child = self.child_type == "rdb"
        aof_child = self.child_type == "aof"
        loading = getattr(server, "loading", None)
        fields = [
            ("loading", 0 if loading is None else 1), ("async_loading", 0), ("current_cow_peak", 0),
            ("current_cow_size", 0),
            ("current_cow_size_age", 0), ("current_fork_perc", "0.00"), ("current_save_keys_processed", 0),
            ("current_save_keys_total", 0),
            ("rdb_changes_since_last_save", self.ks.dirty),
            ("rdb_bgsave_in_progress", 1 if rdb_child else 0),
            ("rdb_last_save_time", int(server.last_save_time)),
            ("rdb_last_bgsave_status", "ok" if self.lastbgsave_status_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.rdb_last_bgsave_time_sec),
            ("rdb_current_bgsave_time_sec", int(now - self.child_start) if rdb_child else -1),
            ("rdb_saves", self.rdb_saves), ("rdb_last_cow_size", 0),
            ("rdb_last_load_keys_expired", self.rdb_last_load_keys_expired),
            ("rdb_last_load_keys_loaded", self.rdb_last_load_keys_loaded),
            ("aof_enabled", 0 if self.aof_state == AOF_OFF else 1),
            ("aof_rewrite_in_progress", 1 if aof_child else 0),
            ("aof_rewrite_scheduled", 1 if self.aof_rewrite_scheduled else 0),
            ("aof_last_rewrite_time_sec", self.aof_last_rewrite_time_sec),
            ("aof_current_rewrite_time_sec", int(now - self.child_start) if aof_child else -1),
            ("aof_last_bgrewrite_status", "ok" if self.aof_lastbgrewrite_ok else "err"),
            ("aof_rewrites", self.aof_rewrites),
            ("aof_rewrites_consecutive_failures", self.aof_rewrites_consecutive_failures),
            ("aof_last_write_status", "ok" if self.aof_last_write_ok else "err"),
            ("aof_last_cow_size", 0), ("module_fork_in_progress", 0), ("module_fork_last_cow_size", 0),
        ]
        if self.aof_state == AOF_ON:
            fields += [
                ("aof_current_size", self.aof_current_size), ("aof_base_size", self.aof_base_size),
                ("aof_pending_rewrite", 1 if self.aof_rewrite_scheduled else 0),
                ("aof_buffer_length", len(self.pending)),
                ("aof_pending_bio_fsync", 1 if self.fsync_in_flight else 0),
                ("aof_delayed_fsync", self.aof_delayed_fsync),
            ]
        if loading is not None:
            fields += loading.info_fields()
        return fields

    # ------------------------------------------------------------------ DEBUG RELOAD / LOADAOF
    def debug_reload(self, save=True, flush=True, merge=False):
        """DEBUG RELOAD: save the RDB, empty the keyspace, load it back; returns an error text or None."""
        if save and not self.rdb_save():
            return b"ERR"
        if flush and not merge:
            for db in self.ks.dbs:
                db.clear()
            self.flush_functions()        # redis emptyData: the libraries go with the data
        self.loading_allows_dup = merge   # RDBFLAGS_ALLOW_DUP: a library read again replaces the loaded one
        try:
            load_keyspace(self.ks, self.rdb_path(), self.config, on_function=self.load_function)
        except (RdbError, OSError):
            return b"ERR Error trying to load the RDB dump, check server logs."
        finally:
            self.loading_allows_dup = False
        self.log.notice("DB reloaded by DEBUG RELOAD")
        return None

    def debug_loadaof(self):
        if self.aof_state == AOF_ON:
            self.fsync_now()
        for db in self.ks.dbs:
            db.clear()
        self.flush_functions()
        manifest = self._load_manifest_quiet()
        if manifest is not None:
            try:
                self.load_aof_files(manifest)
            except FatalLoadError as exc:
                self.log.warning(str(exc))
                return b"ERR Error loading the AOF"
        self.log.notice("Append Only File loaded by DEBUG LOADAOF")
        return None


class DebugCommands:
    """DEBUG RELOAD / LOADAOF / AOF-FSYNC-STATS, chained in front of any earlier DEBUG extension."""

    def __init__(self, persistence, previous):
        self.persistence = persistence
        self.previous = previous

    def debug(self, c, argv):
        sub = argv[1].lower()
        p = self.persistence
        if sub == b"reload":
            save, flush, merge = True, True, False
            for opt in argv[2:]:
                o = opt.lower()
                if o == b"merge":
                    merge = True
                elif o == b"nosave":
                    save = False
                elif o == b"noflush":
                    flush = False
                else:
                    c.error(b"ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
                    return True
            err = p.debug_reload(save, flush, merge)
            if err is None:
                c.reply.add_ok()
            else:
                c.error(err)
            return True
        if sub == b"loadaof" and len(argv) == 2:
            err = p.debug_loadaof()
            if err is None:
                c.reply.add_ok()
            else:
                c.error(err)
            return True
        if sub == b"aof-fsync-stats" and len(argv) == 2:
            # not in redis: how long written commands waited for their fsync (the everysec loss window)
            c.reply.add_array_len(2)
            c.reply.add_bulk(b"max_fsync_lag_ms")
            c.reply.add_int(int(p.max_fsync_lag * 1000))
            return True
        if self.previous is not None:
            return self.previous.debug(c, argv)
        return False


def _is_short(message):
    text = message.lower()
    return "short" in text or "truncat" in text or "eof" in text or "end of" in text


def install(server, defer_load=False):
    """Create the controller, load the data on disk; returns it, or None when the server must not start.

    defer_load: when there is data on disk, leave the load to Server.start(), which runs it with the RESP
    listeners open (server/loading.py); `server.pending_load` is then this controller."""
    p = Persistence(server)
    p.register()
    if defer_load and p.startup_load_paths():
        server.pending_load = p
        return p
    try:
        p.load_at_startup()
    except FatalLoadError as exc:
        server.log.warning(str(exc))
        return None
    except aoflib.AofError as exc:
        server.log.warning(str(exc))
        return None
    p.update_write_gate()
    return p
