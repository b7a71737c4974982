"""Active expiry (redis 7.0 expire.c activeExpireCycle, slow cycle): reclaim keys nobody reads.

Each cron tick samples volatile keys per database and deletes the stale ones (propagating DEL through
Db.expire_if_needed); it repeats on a database while more than the acceptable share of a sample was stale,
within a CPU budget of a quarter of the tick. `active-expire-effort` (1..10) scales the sample size, the
acceptable stale share and the budget as in redis.
"""
import time

KEYS_PER_LOOP = 20          # ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP
ACCEPTABLE_STALE = 10       # ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE (percent)
SLOW_TIME_PERC = 25         # ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC
TIME_CHECK_EVERY = 16       # loops between clock reads (redis checks every 16 iterations)


def effort_of(ks):
    server = ks.server
    if server is None:
        return 1
    try:
        return int(server.config["active-expire-effort"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return 1


class ActiveExpire:
    def __init__(self, ks):
        self.ks = ks
        self.next_db = 0
        self.stat_cycles = 0
        self.stale_perc = 0.0       # INFO expired_stale_perc: running estimate of stale volatile keys
        self.timed_out = 0          # INFO expired_time_cap_reached_count

    def cycle(self, hz):
        """One slow cycle over every database; returns the number of keys expired."""
        ks = self.ks
        if ks.is_replica or ks.paused:
            return 0                 # a replica waits for its primary's DELs; CLIENT PAUSE freezes the dataset
        effort = effort_of(ks) - 1   # 0..9 as in redis
        keys_per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP // 4 * effort
        acceptable_stale = ACCEPTABLE_STALE - effort
        time_perc = SLOW_TIME_PERC + 2 * effort
        deadline = time.monotonic() + time_perc / 100.0 / max(hz, 1)
        ks.update_clock()
        now = ks.now_ms
        expired_total = 0
        sampled_total = 0
        loops = 0
        dbs = ks.dbs
        for _ in range(len(dbs)):
            db = dbs[self.next_db % len(dbs)]
            self.next_db += 1
            while db.expires_count():
                sampled = expired = 0
                for _ in range(min(keys_per_loop, db.expires_count())):
                    key = db.random_volatile_key()
                    if key is None:
                        break
                    e = db.find(key)
                    sampled += 1
                    if e is not None and 0 <= e.expire_at <= now:
                        db.expire_if_needed(key, e)
                        expired += 1
                expired_total += expired
                sampled_total += sampled
                loops += 1
                if sampled == 0 or expired * 100 <= sampled * acceptable_stale:
                    break
                if loops % TIME_CHECK_EVERY == 0 and time.monotonic() > deadline:
                    self.timed_out += 1
                    self._record(expired_total, sampled_total)
                    return expired_total
        self.stat_cycles += 1
        self._record(expired_total, sampled_total)
        return expired_total

    def _record(self, expired, sampled):
        # redis: stat_expired_stale_perc = current_perc*0.05 + old*0.95
        current = expired / sampled if sampled else 0.0
        self.stale_perc = current * 0.05 + self.stale_perc * 0.95
