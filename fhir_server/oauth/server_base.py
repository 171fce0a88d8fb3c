"""The FHIR base URL a server announces to the CLI (storage/server_address.py).

The configured `base_url` (behind a proxy) wins; otherwise the address and port the server
listens on, with a wildcard address (0.0.0.0, ::) replaced by the machine's host name.
"""

from __future__ import annotations

import socket

from ..config import Settings
from ..i18n import _
from ..storage.server_address import MongoServerAddress

_WILDCARDS = ("0.0.0.0", "::", "")


def listening_base(settings: Settings) -> str:
    """The FHIR base URL of a server started with `settings`."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    host = socket.getfqdn() if settings.host in _WILDCARDS else settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}/fhir"


async def record_server_base(address: MongoServerAddress, settings: Settings) -> None:
    """Record this server's FHIR base URL in its database (at startup)."""
    await address.record(listening_base(settings))


async def server_base_for_cli(address: MongoServerAddress, settings: Settings) -> str:
    """The FHIR base the CLI hands out: `--base-url` (or FHIR_BASE_URL), else the one the server recorded.

    Raise ValueError when neither is known.
    """
    if settings.base_url:
        return settings.base_url.rstrip("/")
    recorded = await address.fhir_base()
    if recorded is None:
        raise ValueError(_("No server has started on this database yet, so its base URL is unknown; pass --base-url."))
    return recorded
