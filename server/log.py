"""redis-server style log lines: "<pid>:<role> <dd Mon yyyy HH:MM:SS.mmm> <level> <message>"."""
import os
import sys
import time

LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}
MARKS = {0: ".", 1: "-", 2: "*", 3: "#"}


class Log:
    def __init__(self, level="notice", path=""):
        self.level = LEVELS.get(level, 2)
        self.role = "M"
        self.path = path
        self.stream = open(path, "a", buffering=1) if path else sys.stdout
        self.checked_at = 0.0

    def follow_rotation(self, now):
        """Reopen the logfile when logrotate (or anyone) moved or removed it: redis opens the file for every
        line; checking the path's inode at most once a second gives the same result without SIGHUP."""
        if not self.path or now - self.checked_at < 1.0:
            return
        self.checked_at = now
        try:
            current, opened = os.stat(self.path), os.fstat(self.stream.fileno())
            same = (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev)
        except (OSError, ValueError):
            same = False
        if not same:
            try:
                self.reopen(self.path)
            except OSError:
                pass

    def set_level(self, level):
        self.level = LEVELS[level]

    def reopen(self, path):
        if self.stream is not sys.stdout:
            self.stream.close()
        self.path = path
        self.stream = open(path, "a", buffering=1) if path else sys.stdout

    def log(self, level, msg):
        if level < self.level:
            return
        now = time.time()
        self.follow_rotation(now)
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + ".%03d" % (int(now * 1000) % 1000)
        try:
            self.stream.write(f"{os.getpid()}:{self.role} {stamp} {MARKS[level]} {msg}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def debug(self, msg):
        self.log(0, msg)

    def verbose(self, msg):
        self.log(1, msg)

    def notice(self, msg):
        self.log(2, msg)

    def warning(self, msg):
        self.log(3, msg)

    def raw(self, msg):
        """Lines such as the signal handler's, which redis prints without the usual prefix."""
        try:
            self.stream.write(msg + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass
