"""Active expiry (redis 7.0 expire.c activeExpireCycle, slow cycle): reclaim keys nobody reads.

Each cron tick samples volatile keys per database and deletes the stale ones (propagating DEL through
Db.expire_if_needed); it repeats while more than 10% of a sample was stale, within a CPU budget of
25% of the tick.
"""
import random
import time

KEYS_PER_LOOP = 20          # ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP
ACCEPTABLE_STALE = 10       # ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE (percent)
SLOW_TIME_PERC = 25         # ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC


class ActiveExpire:
    def __init__(self, ks):
        self.ks = ks
        self.next_db = 0
        self.stat_cycles = 0
        self.stale_perc = 0.0

    def cycle(self, hz):
        """One slow cycle; returns the number of keys expired."""
        ks = self.ks
        if ks.is_replica:
            return 0
        budget = SLOW_TIME_PERC / 100.0 / max(hz, 1)
        deadline = time.monotonic() + budget
        ks.update_clock()
        expired_total = 0
        dbs = ks.dbs
        for _ in range(len(dbs)):
            db = dbs[self.next_db % len(dbs)]
            self.next_db += 1
            while db.volatile:
                sampled = 0
                expired = 0
                volatile = db.volatile
                n = min(KEYS_PER_LOOP, len(volatile))
                for _ in range(n):
                    if not volatile:
                        break
                    key = volatile[random.randrange(len(volatile))]
                    e = db.find(key)
                    sampled += 1
                    if e is not None and 0 <= e.expire_at <= ks.now_ms:
                        db.expire_if_needed(key, e)
                        expired += 1
                expired_total += expired
                if sampled:
                    self.stale_perc = expired / sampled
                if sampled == 0 or expired * 100 <= sampled * ACCEPTABLE_STALE:
                    break
                if time.monotonic() > deadline:
                    return expired_total
        self.stat_cycles += 1
        return expired_total
