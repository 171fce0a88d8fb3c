"""Access and refresh tokens in MongoDB: opaque to clients, looked up on every request.

Only a SHA-256 of each token is stored, so a copy of the database gives no working token.
Expired tokens are removed by a TTL index.

The FHIR API reads grants through `cached_lookup`: a live access grant is kept in the process for
GRANT_CACHE_SECONDS, so a request does not cost a database round trip each time. A revocation drops
the family from the cache of the process that revoked it at once; other worker processes see it
within GRANT_CACHE_SECONDS. Introspection, refresh and revocation read the database every time.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient

from ..auth.grant import Grant
from .mongo import aware, mongo_errors

ACCESS, REFRESH = "access", "refresh"
GRANT_CACHE_SECONDS = 5.0
"""How long a worker process may keep serving a token that another process revoked."""
GRANT_CACHE_SIZE = 10_000
"""Live grants kept per process; past it the cache starts over (a flood of tokens cannot grow it)."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MongoGrantStore:
    """The `auth_tokens` collection."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._tokens = client[database]["auth_tokens"]
        self._live: dict[str, tuple[float, Grant]] = {}

    async def ensure_indexes(self) -> None:
        async with mongo_errors("auth_tokens"):
            await self._tokens.create_index([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)
            await self._tokens.create_index([("family", ASCENDING)], name="family")

    async def issue(self, grant: Grant) -> str:
        """Store `grant` and return the new token that stands for it."""
        token = secrets.token_urlsafe(32)
        async with mongo_errors("auth_tokens"):
            await self._tokens.insert_one({"_id": token_digest(token), **asdict(grant), "scopes": list(grant.scopes)})
        return token

    async def lookup(self, token: str, kind: str = ACCESS) -> Grant | None:
        """The live grant of `token` (of `kind`); None when unknown, revoked or expired."""
        async with mongo_errors("auth_tokens"):
            doc = await self._tokens.find_one({"_id": token_digest(token), "kind": kind, "revoked": {"$ne": True}})
        if doc is None or aware(doc["expires_at"]) <= datetime.now(UTC):
            return None
        fields = {k: v for k, v in doc.items() if k not in ("_id", "revoked")}
        return Grant(
            **{
                **fields,
                "scopes": tuple(doc["scopes"]),
                "issued_at": aware(doc["issued_at"]),
                "expires_at": aware(doc["expires_at"]),
            }
        )

    async def cached_lookup(self, token: str) -> Grant | None:
        """The live access grant of `token`, read from the database at most once per GRANT_CACHE_SECONDS."""
        digest, now = token_digest(token), time.monotonic()
        cached = self._live.get(digest)
        if cached is not None and cached[0] > now and cached[1].expires_at > datetime.now(UTC):
            return cached[1]
        grant = await self.lookup(token)
        if grant is None:
            self._live.pop(digest, None)
            return None
        if len(self._live) >= GRANT_CACHE_SIZE:
            self._live.clear()
        self._live[digest] = (now + GRANT_CACHE_SECONDS, grant)
        return grant

    def _forget_family(self, family: str) -> None:
        for digest in [d for d, (_until, grant) in self._live.items() if grant.family == family]:
            del self._live[digest]

    async def revoke(self, token: str) -> bool:
        """Revoke `token` and every token of its family; False when the token is unknown."""
        async with mongo_errors("auth_tokens"):
            doc = await self._tokens.find_one({"_id": token_digest(token)}, {"family": 1})
            if doc is None:
                return False
            await self._tokens.update_many({"family": doc["family"]}, {"$set": {"revoked": True}})
        self._forget_family(doc["family"])
        return True

    async def revoke_family(self, family: str) -> None:
        """Revoke every token of `family` (those issued from one authorization code)."""
        async with mongo_errors("auth_tokens"):
            await self._tokens.update_many({"family": family}, {"$set": {"revoked": True}})
        self._forget_family(family)
