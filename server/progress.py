"""Progress bars for long operations started from a terminal: loading a big RDB or AOF at startup, the
tools/ and bench/ scripts' long runs. tqdm draws them on stderr, and only when stderr is a TTY: under
systemd, daemonize, a pipe or a test harness nothing is drawn and the log is byte-for-byte what it was.

``bar(total, desc, unit)`` returns a tqdm bar or a ``NullBar`` (same ``update``/``close``/``total``/``write``
surface, no cost; ``write`` prints a line above a live bar, or plainly), so callers never test for a terminal themselves. ``CACHEMERE_PROGRESS=0`` turns the
bars off on a terminal too, ``=1`` forces them (tests drive a pty, where isatty is true anyway).
``delay`` seconds pass before a bar appears, so short loads print nothing (``CACHEMERE_PROGRESS_DELAY``
overrides it: the pty test uses it so that a fast machine still shows the bar).
"""
import os
import sys


class NullBar:
    """What ``bar`` returns when nothing is to be drawn."""
    disable = True

    def __init__(self, total=None):
        self.total = total
        self.n = 0

    def update(self, n=1):
        self.n += n

    def set_description(self, desc):
        pass

    def set_postfix_str(self, text):
        pass

    def refresh(self):
        pass

    def write(self, text, file=None):
        print(text, file=file if file is not None else sys.stdout)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def enabled(stream=None):
    forced = os.environ.get("CACHEMERE_PROGRESS")
    if forced == "0":
        return False
    stream = stream if stream is not None else sys.stderr
    if forced == "1":
        return stream is not None
    try:
        return stream is not None and stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False


def bar(total=None, desc="", unit="it", *, delay=0.0, unit_scale=False, stream=None, leave=True):
    stream = stream if stream is not None else sys.stderr
    if not enabled(stream):
        return NullBar(total)
    override = os.environ.get("CACHEMERE_PROGRESS_DELAY")
    if override:
        try:
            delay = max(0.0, float(override))
        except ValueError:
            pass
    try:
        from tqdm import tqdm
    except ImportError:          # the tools may run under a python without the project's deps
        return NullBar(total)
    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        columns = lines = 0
    # a terminal that reports no size (a fresh pty, `script`) would get a zero-width bar that tqdm does not
    # even draw (it reads 0 rows as "no room"): assume 80x24 there
    sizing = {"dynamic_ncols": True} if columns else {"ncols": 80}
    sizing["nrows"] = lines or 24
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=stream, delay=delay,
                leave=leave, mininterval=0.2, **sizing)
