"""Failed sign-ins per username, and the lock they lead to (MongoDB).

Counted per username whether or not an account exists, so a locked answer says nothing
about which usernames are real. A record lives until its `expires_at` (a TTL index
removes it; reads ignore it as soon as it is past): a lock ends by itself, and failures
older than the lock time are forgotten.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument

from .mongo import aware, mongo_errors


class MongoLockoutStore:
    """The `auth_lockouts` collection: `max_failures` failures within `lock` lock the username for `lock`."""

    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], database: str, *, max_failures: int, lock: timedelta
    ) -> None:
        self._lockouts = client[database]["auth_lockouts"]
        self.max_failures, self.lock = max_failures, lock

    async def ensure_indexes(self) -> None:
        async with mongo_errors("auth_lockouts"):
            await self._lockouts.create_index([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)

    async def locked(self, username: str) -> bool:
        """Whether sign-ins for `username` are refused right now."""
        async with mongo_errors("auth_lockouts"):
            doc = await self._lockouts.find_one({"_id": username})
        return doc is not None and doc.get("locked", False) and aware(doc["expires_at"]) > datetime.now(UTC)

    async def fail(self, username: str) -> bool:
        """Count a failed sign-in; True when this failure locks the username."""
        now = datetime.now(UTC)
        async with mongo_errors("auth_lockouts"):
            await self._lockouts.delete_one({"_id": username, "expires_at": {"$lte": now}})
            doc = await self._lockouts.find_one_and_update(
                {"_id": username},
                {"$inc": {"failures": 1}, "$set": {"expires_at": now + self.lock}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            if doc is None or doc["failures"] < self.max_failures:
                return False
            await self._lockouts.update_one({"_id": username}, {"$set": {"locked": True}})
        return True

    async def clear(self, username: str) -> None:
        """Forget the failures after a good sign-in."""
        async with mongo_errors("auth_lockouts"):
            await self._lockouts.delete_one({"_id": username})
