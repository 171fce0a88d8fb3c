"""The server's TCP ports, claimed before anything else starts: a port in use is one clear line, not a hang."""

from __future__ import annotations

import errno
import socket

from .i18n import _


class PortUnavailable(Exception):
    """A port the server was told to listen on cannot be bound (in use, not permitted, unknown address)."""


def unavailable(host: str, port: int, exc: OSError) -> PortUnavailable:
    """The one-sentence error for binding `host:port` failing with `exc`."""
    if exc.errno == errno.EADDRINUSE:
        message = _("Cannot listen on {host}:{port}: the port is already in use.")
    else:
        message = _("Cannot listen on {host}:{port}: {reason}.")
    return PortUnavailable(message.format(host=host, port=port, reason=exc.strerror or exc))


def reserve(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` but not listening yet: connections are refused until the server listens.

    Raises PortUnavailable. Like uvicorn's own binding: IPv6 when the host has a colon, SO_REUSEADDR
    so that connections of a previous run still in TIME_WAIT do not block a restart.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise unavailable(host, port, exc) from exc
    sock.set_inheritable(True)  # uvicorn's worker processes receive it
    return sock


def check_free(host: str, port: int) -> None:
    """Raise PortUnavailable when `host:port` cannot be bound now (for listeners that bind it themselves)."""
    reserve(host, port).close()
