"""Client assertion ids (`jti`) already used, kept until the assertion expires (MongoDB, TTL).

https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html: the server refuses
a `jti` it has seen before from the same client, so a captured assertion cannot be replayed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from .mongo import mongo_errors


class MongoJtiStore:
    """The `auth_jtis` collection, keyed by client and jti."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._jtis = client[database]["auth_jtis"]

    async def ensure_indexes(self) -> None:
        async with mongo_errors("auth_jtis"):
            await self._jtis.create_index([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)

    async def use(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record `jti` as used; False when the client used it before (a replay)."""
        async with mongo_errors("auth_jtis"):
            try:
                await self._jtis.insert_one({"_id": f"{client_id} {jti}", "expires_at": expires_at})
            except DuplicateKeyError:
                return False
        return True
