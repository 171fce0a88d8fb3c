"""Practitioners' calendar feed tokens: MongoDB collection `calendar_tokens`.

Only the SHA-256 of a token is stored (its `_id`), with the practitioner it opens: a copy of the
database (or a backup, which keeps them) does not open anyone's calendar. Revoking a practitioner's
tokens deletes them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient

from .backup import register_state_collection
from .mongo import mongo_errors

COLLECTION = "calendar_tokens"

register_state_collection(COLLECTION, written_at="created")  # a restore keeps the feeds clinicians subscribed to


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarTokens:
    """The `calendar_tokens` collection."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._tokens = client[database][COLLECTION]

    async def ensure_indexes(self) -> None:
        async with mongo_errors(COLLECTION):
            await self._tokens.create_index("practitioner", name="practitioner")

    async def add(self, token: str, practitioner: str, at: datetime) -> None:
        async with mongo_errors(COLLECTION):
            await self._tokens.insert_one({"_id": token_hash(token), "practitioner": practitioner, "created": at})

    async def practitioner(self, token: str) -> str | None:
        """The practitioner ("Practitioner/id") a token opens, or None (unknown or revoked)."""
        async with mongo_errors(COLLECTION):
            found = await self._tokens.find_one({"_id": token_hash(token)})
        return str(found["practitioner"]) if found else None

    async def revoke(self, practitioner: str) -> int:
        """Revoke every token of `practitioner`; how many there were."""
        async with mongo_errors(COLLECTION):
            result = await self._tokens.delete_many({"practitioner": practitioner})
        return result.deleted_count
