"""`supervised systemd` (redis's redisCommunicateSystemd): readiness and status over $NOTIFY_SOCKET, so a
unit with Type=notify (conf/cachemere.service) is "started" only once the listeners accept connections.

sd_notify's protocol is one datagram per message to the AF_UNIX socket named by NOTIFY_SOCKET (a leading
'@' is an abstract socket); no libsystemd needed.
"""
import os
import socket


def systemd_wanted(config):
    mode = config["supervised"]
    return mode == "systemd" or (mode == "auto" and bool(os.environ.get("NOTIFY_SOCKET")))


def sd_notify(message, log=None):
    """Send one sd_notify message; False when there is no NOTIFY_SOCKET or it cannot be reached."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(path)
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        if log is not None:
            log.warning("systemd supervision error: could not notify %r: %s" % (path, exc))
        return False


def notify_ready(server):
    if systemd_wanted(server.config):
        server.log.notice("Supervised by systemd. Please make sure you set appropriate values for "
                          "TimeoutStartSec and TimeoutStopSec in your service unit.")
        sd_notify("STATUS=Ready to accept connections\nREADY=1\n", server.log)


def notify_stopping(server):
    if systemd_wanted(server.config):
        sd_notify("STOPPING=1\n", server.log)


def supervised_label(config):
    """INFO server's process_supervised."""
    return "systemd" if systemd_wanted(config) else ("no" if config["supervised"] in ("no", "auto") else config["supervised"])
