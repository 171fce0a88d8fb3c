"""The browser origins of this server: its configured base URL and both loopback names.

The server's own OAuth clients (the demo app, the staff pages) register their redirect URIs
for each, so sign-in works however the server is opened.
"""

from __future__ import annotations

from .config import Settings


def server_origins(settings: Settings) -> list[str]:
    """The configured base URL's origin first (when set), then http://127.0.0.1 and http://localhost."""
    origins = [f"http://{host}:{settings.port}" for host in ("127.0.0.1", "localhost")]
    if settings.base_url:
        origins.insert(0, settings.base_url.rstrip("/").removesuffix("/fhir"))
    return list(dict.fromkeys(origins))
