"""Key sets that confidential asymmetric clients publish at a `jwks_uri`, fetched and cached briefly.

https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#registering-a-client-communicating-public-keys:
the server fetches the set when it needs it; a short cache spares the client a fetch per
token request, and an unknown `kid` forces one fresh fetch so a rotated key is picked up.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

CACHE_SECONDS = 300.0
_TIMEOUT = httpx.Timeout(5.0)
_MAX_BYTES = 256 * 1024


class JwksUnavailable(Exception):
    """The key set could not be fetched or is not a JWKS."""


class RemoteJwks:
    """A per-worker cache of fetched key sets, by URL."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    async def keys(self, uri: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        """The keys published at `uri`; fetched again when `fresh` or older than the cache time.

        Raise JwksUnavailable when the fetch fails or the document is not a key set.
        """
        cached = self._cache.get(uri)
        if cached is not None and not fresh and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as http:
                response = await http.get(uri, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"fetching {uri} failed: {exc}") from exc
        if response.status_code != 200 or len(response.content) > _MAX_BYTES:
            raise JwksUnavailable(f"{uri} answered {response.status_code}")
        try:
            keys = response.json()["keys"]
        except (ValueError, KeyError, TypeError) as exc:
            raise JwksUnavailable(f"{uri} is not a JWK set") from exc
        if not isinstance(keys, list):
            raise JwksUnavailable(f"{uri} is not a JWK set")
        self._cache[uri] = (time.monotonic(), keys)
        return keys
