"""Checks run before the server listens: what the configuration asks for must be honoured or refused.

A directive the server cannot honour stops it at start with a clear error (redis-server built without TLS
refuses tls-port the same way); it never runs without the protection the user asked for.  The list of
every accepted directive and how it is honoured is server/directive_audit.py.
"""
from server import tls
from server.directive_audit import refused_settings


def run(server):
    cfg = server.config
    problems = refused_settings(cfg)
    if problems:
        for text in problems:
            server.log.warning(text)
        return False
    try:
        server.tls_contexts = tls.check_startup(cfg)
    except tls.TLSConfigError as exc:
        server.log.warning(str(exc))
        server.log.warning(tls.FAILED)
        return False
    if cfg["memcached-sasl"]:
        from server import mc_sasl
        try:
            server.mc_sasl_users = mc_sasl.load(cfg)
        except mc_sasl.SaslConfigError as exc:
            server.log.warning(str(exc))
            return False
    elif cfg["memcached-authfile"] and cfg["memcached-port"]:
        from server import mc_auth
        try:
            server.mc_authfile = mc_auth.load_authfile(cfg["memcached-authfile"])
        except mc_auth.AuthfileError as exc:
            server.log.warning(str(exc))
            return False
    _refuse_at_runtime(cfg)
    if cfg["oom-score-adj"] != "no":
        apply_oom_score_adj(cfg, server.log)
    for name in ("oom-score-adj", "oom-score-adj-values"):
        cfg.on_change(name, lambda _v: apply_oom_score_adj(cfg, server.log))
    return True


_OOM_BASE = None


def apply_oom_score_adj(cfg, log=None):
    """redis setOOMScoreAdj: write /proc/self/oom_score_adj from oom-score-adj-values[0] (the primary's
    value), relative to the score the process started with (yes/relative) or as is (absolute)."""
    global _OOM_BASE
    mode = cfg["oom-score-adj"]
    path = "/proc/self/oom_score_adj"
    try:
        if _OOM_BASE is None:
            with open(path) as f:
                _OOM_BASE = int(f.read().strip() or 0)
        if mode == "no":
            value = _OOM_BASE
        else:
            value = cfg["oom-score-adj-values"][0] + (_OOM_BASE if mode == "yes" else 0)
        value = max(-1000, min(1000, value))
        with open(path, "w") as f:
            f.write(f"{value}\n")
    except OSError as exc:
        if log is not None:
            log.warning(f"Unable to write oom_score_adj: {exc}")


def _refuse_at_runtime(cfg):
    """CONFIG SET of a value the server cannot honour fails (and is rolled back) with the audit's reason."""
    from server.config import ConfigError
    from server.directive_audit import REFUSED

    def check(name):
        def callback(_value):
            accepted, reason = REFUSED[name]
            if not accepted(cfg[name], cfg):
                raise ConfigError(f"not supported by Cachemere: {reason}")
        return callback
    for name in REFUSED:
        d = cfg.lookup(name)
        if not d.immutable:
            cfg.on_change(name, check(name))
