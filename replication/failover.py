"""FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (redis 7.0 failoverCommand)."""


def failover_command(repl, c, argv):
    c.error(b"ERR FAILOVER is not implemented yet")
