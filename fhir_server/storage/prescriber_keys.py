"""Each prescriber's signing key (ES256, P-256), made on their first signing: public halves in
`prescriber_keys` (kid, user, public JWK: the JWKS the server publishes), private halves in
`prescriber_key_secrets`, so the public collection can be published or copied without a secret.

One key per user (a unique index): two first signings at once both make a key, one is stored, the other
signer reads it back and uses it. Backups keep the public halves only (signatures made before still verify
after a restore); a user whose private half is gone gets a new key, the old public one is kept, retired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from .backup import register_state_collection
from .mongo import mongo_errors

KEYS, SECRETS = "prescriber_keys", "prescriber_key_secrets"

register_state_collection(KEYS)


@dataclass(frozen=True)
class PrescriberKey:
    """One user's signing key: its id, public JWK and private JWK."""

    kid: str
    user: str
    public: dict[str, Any]
    private: dict[str, Any]


class PrescriberKeys:
    """The `prescriber_keys` and `prescriber_key_secrets` collections."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._keys = client[database][KEYS]
        self._secrets = client[database][SECRETS]
        self._known: dict[str, PrescriberKey] = {}
        """Keys read before, by user: a user's key never changes once stored, so each process reads it once."""

    async def ensure_indexes(self) -> None:
        async with mongo_errors(KEYS):
            await self._keys.create_index([("user", ASCENDING)], name="user", unique=True)

    async def of_user(self, user: str) -> PrescriberKey | None:
        """The key of `user` ("Practitioner/id") with its private half; None before their first signing."""
        if user in self._known:
            return self._known[user]
        async with mongo_errors(KEYS):
            doc = await self._keys.find_one({"user": user})
            secret = await self._secrets.find_one({"_id": doc["_id"]}) if doc else None
        if doc is None:
            return None
        if secret is None:  # restored from a backup: retire the key that can no longer sign
            async with mongo_errors(KEYS):
                await self._keys.update_one({"_id": doc["_id"]}, {"$set": {"user": f"{user} retired {doc['_id']}"}})
            return None
        key = self._known[user] = PrescriberKey(doc["_id"], user, doc["jwk"], secret["jwk"])
        return key

    async def add(self, key: PrescriberKey) -> bool:
        """Store a new key, private half first; False when the user already has one (it is kept)."""
        async with mongo_errors(KEYS):
            await self._secrets.insert_one({"_id": key.kid, "jwk": key.private})
            try:
                await self._keys.insert_one(
                    {"_id": key.kid, "user": key.user, "jwk": key.public, "created": datetime.now(UTC)}
                )
            except DuplicateKeyError:
                await self._secrets.delete_one({"_id": key.kid})
                return False
        return True

    async def public_keys(self) -> list[dict[str, Any]]:
        """Every prescriber's public JWK, oldest first."""
        async with mongo_errors(KEYS):
            return [doc["jwk"] async for doc in self._keys.find({}).sort([("created", ASCENDING), ("_id", ASCENDING)])]
