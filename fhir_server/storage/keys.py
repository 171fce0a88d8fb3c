"""The authorization server's signing keys in MongoDB, shared by every worker.

Public halves (`auth_keys`: kid, public JWK, when made) and private halves
(`auth_key_secrets`) live in separate collections, so the public metadata can be backed up,
published or copied without the secret. The current key is the oldest one whose private half
is present: when several workers start at once and each makes a key, they all settle on the
same one and the others' keys are removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient

from .mongo import mongo_errors


@dataclass(frozen=True)
class StoredKey:
    """One signing key: its id, public JWK and private JWK (both as dicts)."""

    kid: str
    public: dict[str, Any]
    private: dict[str, Any]


class MongoKeyStore:
    """The `auth_keys` and `auth_key_secrets` collections."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._keys = client[database]["auth_keys"]
        self._secrets = client[database]["auth_key_secrets"]

    async def public_keys(self) -> list[dict[str, Any]]:
        """Every published public JWK, oldest first (the JWKS)."""
        async with mongo_errors("auth_keys"):
            return [doc["jwk"] async for doc in self._keys.find({}).sort([("created", ASCENDING), ("_id", ASCENDING)])]

    async def current(self) -> StoredKey | None:
        """The oldest key that has its private half; None when there is none yet."""
        async with mongo_errors("auth_keys"):
            async for doc in self._keys.find({}).sort([("created", ASCENDING), ("_id", ASCENDING)]):
                secret = await self._secrets.find_one({"_id": doc["_id"]})
                if secret is not None:
                    return StoredKey(doc["_id"], doc["jwk"], secret["jwk"])
        return None

    async def add(self, key: StoredKey) -> None:
        """Store a new key, private half first so a published key always has one."""
        async with mongo_errors("auth_keys"):
            await self._secrets.insert_one({"_id": key.kid, "jwk": key.private})
            await self._keys.insert_one({"_id": key.kid, "jwk": key.public, "created": datetime.now(UTC)})

    async def remove(self, kid: str) -> None:
        async with mongo_errors("auth_keys"):
            await self._keys.delete_one({"_id": kid})
            await self._secrets.delete_one({"_id": kid})
