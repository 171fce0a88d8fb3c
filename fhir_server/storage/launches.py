"""EHR launch contexts in MongoDB: the patient and encounter an app is launched with.

The EHR side creates one and hands the app an opaque `launch` handle; the authorize endpoint
resolves it once, for the client it was made for, within a few minutes.
https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient

from .grants import token_digest
from .mongo import aware, mongo_errors


@dataclass(frozen=True)
class LaunchContext:
    """What an EHR launch puts in context for one client; `created_by` is the staff user, if known."""

    client_id: str
    patient: str | None
    encounter: str | None
    expires_at: datetime
    created_by: str | None = None


class MongoLaunchStore:
    """The `auth_launches` collection; only digests of handles are stored."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._launches = client[database]["auth_launches"]

    async def ensure_indexes(self) -> None:
        async with mongo_errors("auth_launches"):
            await self._launches.create_index([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)

    async def create(self, context: LaunchContext) -> str:
        """Store `context` and return its new launch handle."""
        handle = secrets.token_urlsafe(24)
        async with mongo_errors("auth_launches"):
            await self._launches.insert_one({**asdict(context), "_id": token_digest(handle)})
        return handle

    async def consume(self, handle: str) -> LaunchContext | None:
        """The context of `handle`, once; None when unknown, used or expired."""
        async with mongo_errors("auth_launches"):
            doc = await self._launches.find_one_and_delete({"_id": token_digest(handle)})
        if doc is None or aware(doc["expires_at"]) <= datetime.now(UTC):
            return None
        fields = {k: v for k, v in doc.items() if k != "_id"}
        return LaunchContext(**{**fields, "expires_at": aware(doc["expires_at"])})
