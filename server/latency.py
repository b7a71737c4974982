"""The latency monitor (redis latency.c + sparkline.c): per-event time series of the spikes at or above
`latency-monitor-threshold` ms, fed by the dispatcher ("command" / "fast-command" per call), the cron
("expire-cycle"), the keyspace ("eviction-cycle", "eviction-del", "expire-del") and persistence ("fork",
"aof-write" and its -alone / -active-child / -pending-fsync split, "aof-fsync-always", "aof-fstat", "aof-rename"); read by LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR
(engine/commands/latency.py).  ``server.latency`` holds the LatencyMonitor."""
import math
import time

TS_LEN = 160                    # redis LATENCY_TS_LEN samples per event
GRAPH_COLS = 80


class TimeSeries:
    __slots__ = ("idx", "max", "samples")

    def __init__(self):
        self.idx = 0
        self.max = 0
        self.samples = [[0, 0] for _ in range(TS_LEN)]     # [unix time, latency ms]; time 0 = unused

    def ordered(self):
        """Samples oldest first (redis walks from idx round the ring, skipping unused slots)."""
        out = []
        for j in range(TS_LEN):
            t, ms = self.samples[(self.idx + j) % TS_LEN]
            if t:
                out.append((t, ms))
        return out


class LatencyMonitor:
    def __init__(self, server):
        self.server = server
        self.events = {}
        self.threshold = server.config["latency-monitor-threshold"]
        server.config.on_change("latency-monitor-threshold", self._set_threshold)
        self._set_threshold(self.threshold)

    def _set_threshold(self, ms):
        self.threshold = ms
        d = self.server.dispatcher
        d.latency_threshold_us = ms * 1000 if ms > 0 else 0
        d.latency_hook = self.command_sample if ms > 0 else None
        # eviction-cycle / eviction-del (Keyspace.perform_evictions), expire-del (engine/expire.py)
        self.server.ks.latency_hook = self.add_if_needed if ms > 0 else None

    def command_sample(self, spec, usec):
        """Called by Dispatcher.call for a call that took >= the threshold."""
        self.add_sample("fast-command" if spec.flags & FAST_FLAG else "command", usec // 1000)

    def add_if_needed(self, event, ms):
        if self.threshold and ms >= self.threshold:
            self.add_sample(event, int(ms))

    def add_sample(self, event, ms):
        """redis latencyAddSample: one sample per second per event (the worst of that second)."""
        ts = self.events.get(event)
        if ts is None:
            ts = self.events[event] = TimeSeries()
        now = int(time.time())
        if ms > ts.max:
            ts.max = ms
        prev = ts.samples[(ts.idx + TS_LEN - 1) % TS_LEN]
        if prev[0] == now:
            if ms > prev[1]:
                prev[1] = ms
            return
        ts.samples[ts.idx] = [now, ms]
        ts.idx = (ts.idx + 1) % TS_LEN

    def reset(self, names=None):
        if not names:
            n = len(self.events)
            self.events.clear()
            return n
        n = 0
        for name in names:
            if self.events.pop(name, None) is not None:
                n += 1
        return n

    # ------------------------------------------------------------------ GRAPH
    def graph(self, event, ts):
        """redis latencyCommandGenSparkeline."""
        seq = []
        lo = hi = 0
        now = int(time.time())
        for t, ms in ts.ordered():
            if not seq:
                lo = hi = ms
            else:
                hi = max(hi, ms)
                lo = min(lo, ms)
            elapsed = now - t
            if elapsed < 60:
                label = "%ds" % elapsed
            elif elapsed < 3600:
                label = "%dm" % (elapsed // 60)
            elif elapsed < 86400:
                label = "%dh" % (elapsed // 3600)
            else:
                label = "%dd" % (elapsed // 86400)
            seq.append((ms, label))
        out = "%s - high %d ms, low %d ms (all time high %d ms)\n" % (event, hi, lo, ts.max)
        out += "-" * GRAPH_COLS + "\n"
        return out + sparkline_render(seq, GRAPH_COLS, 4)

    # ------------------------------------------------------------------ DOCTOR
    def analyze(self, ts):
        """redis analyzeLatencyForEvent: (samples, avg, mad, period seconds)."""
        used = [(t, ms) for t, ms in ts.samples if t]
        if not used:
            return 0, 0, 0, 0
        n = len(used)
        avg = sum(ms for _, ms in used) // n
        period = int(time.time()) - min(t for t, _ in used)
        if period == 0:
            period = 1
        mad = sum(abs(avg - ms) for _, ms in used) // n
        return n, avg, mad, period

    def report(self):
        """redis createLatencyReport."""
        cfg = self.server.config
        if not self.events and not self.threshold:
            return ("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You "
                    "may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we "
                    "weren't in a deep space mission I'd suggest to take a look at "
                    "https://redis.io/topics/latency-monitor.\n")
        adv = set()
        advices = 0
        out = ""
        eventnum = 0
        for event, ts in self.events.items():
            eventnum += 1
            if eventnum == 1:
                out += ("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about "
                        "it, do you Dave?\n\n")
            n, avg, mad, period = self.analyze(ts)
            out += ("%d. %s: %d latency spikes (average %dms, mean deviation %dms, period %.2f sec). Worst all time "
                    "event %dms." % (eventnum, event, n, avg, mad, period / n if n else 0.0, ts.max))
            ev = event.lower()
            if ev == "fork":
                rate = self.fork_rate()
                if rate < 10:
                    quality = "terrible"
                    adv.add("better_vm")
                    advices += 1
                elif rate < 25:
                    quality = "poor"
                    adv.add("better_vm")
                    advices += 1
                elif rate < 100:
                    quality = "good"
                else:
                    quality = "excellent"
                out += " Fork rate is %.2f GB/sec (%s)." % (rate, quality)
            if ev == "command":
                slower = cfg["slowlog-log-slower-than"]
                if slower < 0:
                    adv.add("slowlog_enabled")
                    advices += 1
                elif slower // 1000 > self.threshold:
                    adv.add("slowlog_tuning")
                    advices += 1
                adv.update(("slowlog_inspect", "large_objects"))
                advices += 2
            if ev == "fast-command":
                adv.add("scheduler")
                advices += 1
            if ev == "aof-write-pending-fsync":
                adv.update(("local_disk", "disk_contention", "ssd", "data_writeback"))
                advices += 4
            if ev == "aof-write-active-child":
                adv.update(("no_appendfsync", "data_writeback", "ssd"))
                advices += 3
            if ev == "aof-write-alone":
                adv.update(("local_disk", "data_writeback", "ssd"))
                advices += 3
            if ev == "aof-fsync-always":
                adv.add("relax_fsync_policy")
                advices += 1
            if ev in ("aof-fstat", "rdb-unlink-temp-file"):
                adv.update(("disk_contention", "local_disk"))
                advices += 2
            if ev in ("aof-rewrite-diff-write", "aof-rename"):
                adv.update(("write_load_info", "data_writeback", "ssd", "local_disk"))
                advices += 4
            if ev == "expire-cycle":
                adv.update(("hz", "large_objects"))
                advices += 2
            if ev == "eviction-del":
                adv.add("large_objects")
                advices += 1
            if ev == "eviction-cycle":
                adv.add("mass_eviction")
                advices += 1
            out += "\n"
        if anon_huge_pages() > 0:
            adv.add("disable_thp")
            advices += 1
        if eventnum == 0 and advices == 0:
            out += ("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the "
                    "slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think "
                    "things over.\n")
        elif eventnum > 0 and advices == 0:
            out += ("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the "
                    "Redis community to get some help, providing this report in your help request.\n")
        else:
            out += "\nI have a few advices for you:\n\n"
            thr_us = self.threshold * 1000
            for key, text in ADVICE_TEXTS:
                if key not in adv:
                    continue
                if key == "relax_fsync_policy" and cfg["appendfsync"] != "always":
                    continue
                if key == "hz" and cfg["hz"] >= 100:
                    continue
                out += text.replace("%llu", str(thr_us))
        return out

    def fork_rate(self):
        """redis stat_fork_rate: GB/sec of the last fork (used memory / fork time)."""
        pers = self.server.extensions.get("persistence")
        usec = getattr(pers, "latest_fork_usec", 0) if pers is not None else 0
        if not usec:
            return 0.0
        return self.server.ks.used_memory / (1024 * 1024 * 1024) / (usec / 1e6)


FAST_FLAG = 0


def _fast_flag():
    from engine import registry
    return registry.FLAGS["fast"]


ADVICE_TEXTS = [
    ("better_vm", "- If you are using a virtual machine, consider upgrading it with a faster one using a hypervisior "
                  "that provides less latency during fork() calls. Xen is known to have poor fork() performance. Even "
                  "in the context of the same VM provider, certain kinds of instances can execute fork faster than "
                  "others.\n"),
    ("slowlog_enabled", "- There are latency issues with potentially slow commands you are using. Try to enable the "
                        "Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than %llu'. If the "
                        "Slow log is disabled Redis is not able to log slow commands execution for you.\n"),
    ("slowlog_tuning", "- Your current Slow Log configuration only logs events that are slower than your configured "
                       "latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than %llu'.\n"),
    ("slowlog_inspect", "- Check your Slow Log to understand what are the commands you are running which are too "
                        "slow to execute. Please check https://redis.io/commands/slowlog for more information.\n"),
    ("scheduler", "- The system is slow to execute Redis code paths not containing system calls. This usually means "
                  "the system does not provide Redis CPU time to run for long periods. You should try to:\n"
                  "  1) Lower the system load.\n"
                  "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n"
                  "  3) Check if you have a \"noisy neighbour\" problem.\n"
                  "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your "
                  "system.\n"
                  "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are "
                  "using Jemalloc. However this may create fragmentation problems.\n"),
    ("local_disk", "- It is strongly advised to use local disks for persistence, especially if you are using AOF. "
                   "Remote disks provided by platform-as-a-service providers are known to be slow.\n"),
    ("ssd", "- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log "
            "rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good "
            "option. However Redis should perform reasonably with high load using normal disks. Use this advice as "
            "a last resort.\n"),
    ("data_writeback", "- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared "
                       "to data=ordered, however this mode of operation provides less guarantees, and sometimes it "
                       "can happen that after a hard crash the AOF file will have a half-written command at the end "
                       "and will require to be repaired before Redis restarts.\n"),
    ("disk_contention", "- Try to lower the disk contention. This is often caused by other disk intensive processes "
                        "running in the same computer (including other Redis instances).\n"),
    ("no_appendfsync", "- Assuming from the point of view of data safety this is viable in your environment, you "
                       "could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be "
                       "performed while there is a child rewriting the AOF file or producing an RDB file (the moment "
                       "where there is high disk contention).\n"),
    ("relax_fsync_policy", "- Your fsync policy is set to 'always'. It is very hard to get good performances with "
                           "such a setup, if possible try to relax the fsync policy to 'onesec'.\n"),
    ("write_load_info", "- Latency during the AOF atomic rename operation or when the final difference is flushed to "
                        "the AOF file at the end of the rewrite, sometimes is caused by very high write load, "
                        "causing the AOF buffer to get very large. If possible try to send less commands to "
                        "accomplish the same work, or use Lua scripts to group multiple operations into a single "
                        "EVALSHA call.\n"),
    ("hz", "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration "
           "parameter to 100 using 'CONFIG SET hz 100'.\n"),
    ("large_objects", "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking "
                      "operation. If you have very large objects that are often deleted, expired, or evicted, try "
                      "to fragment those objects into multiple smaller objects.\n"),
    ("mass_eviction", "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects "
                      "via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys "
                      "migrations (RESTORE command), may create sudden memory pressure forcing the server to block "
                      "trying to evict keys. \n"),
    ("disable_thp", "- I detected a non zero amount of anonymous huge pages used by your process. This creates very "
                    "serious latency events in different conditions, especially when Redis is persisting on disk. To "
                    "disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', "
                    "make sure to also add it into /etc/rc.local so that the command will be executed again after a "
                    "reboot. Note that even if you have already disabled THP, you still need to restart the Redis "
                    "process to get rid of the huge pages already created.\n"),
]


def anon_huge_pages():
    """redis THPGetAnonHugePagesSize: AnonHugePages of /proc/self/smaps, in bytes."""
    total = 0
    try:
        with open("/proc/self/smaps") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    return total


# ---------------------------------------------------------------------- sparkline.c
CHARSET_FILL = "_o#"


def sparkline_render(seq, columns, rows):
    """redis sparklineRender with SPARKLINE_FILL: seq is [(value, label)]."""
    if not seq:
        return ""
    lo = hi = seq[0][0]
    for v, _ in seq[1:]:
        if v < lo:
            lo = v
        elif v > hi:            # sparklineSequenceAddSample's else-if, kept
            hi = v
    labels = sum(1 for _, label in seq if label)
    out = ""
    for j in range(0, len(seq), columns):
        if j:
            out += "\n"
        out += _render_range(seq[j:j + columns], lo, hi, labels, rows)
    return out


def _render_range(part, lo, hi, labels, rows):
    relmax = hi - lo
    if relmax == 0:
        relmax = 1
    steps = len(CHARSET_FILL) * rows
    out = []
    row = 0
    n = len(part)
    while True:
        loop = False
        chars = [" "] * n
        for i, (value, label) in enumerate(part):
            relval = value - lo
            step = int(int(relval * steps) / relmax)
            step = max(0, min(steps - 1, step))
            if row < rows:
                charidx = step - (rows - row - 1) * len(CHARSET_FILL)
                loop = True
                if 0 <= charidx < len(CHARSET_FILL):
                    chars[i] = CHARSET_FILL[charidx]
                elif charidx >= len(CHARSET_FILL):
                    chars[i] = "|"
            else:
                if labels and row - rows < 1:       # label_margin_top
                    loop = True
                    break
                if label:
                    label_char = row - rows - 1
                    if len(label) > label_char:
                        loop = True
                        chars[i] = label[label_char]
        if not loop:
            break
        row += 1
        out.append("".join(chars) + "\n")
    return "".join(out)


def install(server):
    global FAST_FLAG
    FAST_FLAG = _fast_flag()
    mon = server.latency = LatencyMonitor(server)
    server.latency_events = mon.events
    return mon
