"""EVALSHA's runtime share, in process: N runs of the `scripts` suite's SET script through ScriptRuntime with a
gate answering +OK (no server, no sockets), for callgrind A/B of engine/scripting changes:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p python bench/scripts_inproc.py N

instructions per run = (total(N) - total(0)) / N. Without valgrind it prints wall-clock microseconds per run.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.scripting.runtime import CommandGate, ScriptRuntime  # noqa: E402

SET_SCRIPT = b"return redis.call('set', KEYS[1], ARGV[1])"


class OkGate(CommandGate):
    def execute(self, argv):
        return b"+OK\r\n"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    rt = ScriptRuntime(None, gate=OkGate())
    sha = rt.load(SET_SCRIPT).encode()
    keys = [[b"key:%012d" % i] for i in range(1000)]
    args = [b"value"]
    execute = rt.execute
    t0 = time.perf_counter()
    for i in range(n):
        execute(sha, keys[i % 1000], args, True, False)
    dt = time.perf_counter() - t0
    if n:
        print(f"{dt / n * 1e6:.2f} us/run")


if __name__ == "__main__":
    main()
