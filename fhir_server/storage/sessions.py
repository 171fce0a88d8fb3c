"""Browser sessions of the sign-in pages (MongoDB), so any worker can serve the next page.

The browser holds a random session id in a cookie; only its SHA-256 is stored, so a copy of
the database gives no working session. A session starts anonymous when the sign-in form is
shown (it carries the CSRF secret of that form); a good password replaces it with a new
signed-in session (a new id: a session id planted before sign-in is worth nothing after).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient

from .grants import token_digest
from .mongo import aware, mongo_errors


@dataclass(frozen=True)
class Session:
    """One browser's session: `username` is None until sign-in; `patients` maps request id → picked patient id,
    `encounters` request id → picked encounter id ("" when the patient had none to pick)."""

    csrf: str
    expires_at: datetime
    username: str | None = None
    patients: dict[str, str] = field(default_factory=dict)
    encounters: dict[str, str] = field(default_factory=dict)


class MongoSessionStore:
    """The `auth_sessions` collection, keyed by the digest of the cookie value."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._sessions = client[database]["auth_sessions"]

    async def ensure_indexes(self) -> None:
        async with mongo_errors("auth_sessions"):
            await self._sessions.create_index([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)

    async def start(self, expires_at: datetime, username: str | None = None) -> tuple[str, Session]:
        """A new session with a fresh CSRF secret; returns the cookie value and the session."""
        value = secrets.token_urlsafe(32)
        session = Session(csrf=secrets.token_urlsafe(32), expires_at=expires_at, username=username)
        async with mongo_errors("auth_sessions"):
            await self._sessions.insert_one(
                {"_id": token_digest(value), "csrf": session.csrf, "expires_at": expires_at, "username": username}
            )
        return value, session

    async def get(self, value: str) -> Session | None:
        """The live session of cookie `value`, or None when unknown or expired."""
        async with mongo_errors("auth_sessions"):
            doc = await self._sessions.find_one({"_id": token_digest(value)})
        if doc is None or aware(doc["expires_at"]) <= datetime.now(UTC):
            return None
        return Session(
            doc["csrf"], aware(doc["expires_at"]), doc.get("username"), doc.get("patients", {}),
            doc.get("encounters", {}),
        )  # fmt: skip

    async def pick_patient(self, value: str, request_id: str, patient_id: str) -> None:
        """Remember the patient chosen for authorization request `request_id` (a URL-safe token), forgetting
        an encounter chosen before (it was the previous patient's)."""
        async with mongo_errors("auth_sessions"):
            await self._sessions.update_one(
                {"_id": token_digest(value)},
                {"$set": {f"patients.{request_id}": patient_id}, "$unset": {f"encounters.{request_id}": ""}},
            )

    async def pick_encounter(self, value: str, request_id: str, encounter_id: str) -> None:
        """Remember the encounter chosen for authorization request `request_id` ("": none to choose from)."""
        async with mongo_errors("auth_sessions"):
            await self._sessions.update_one(
                {"_id": token_digest(value)}, {"$set": {f"encounters.{request_id}": encounter_id}}
            )

    async def end(self, value: str) -> None:
        async with mongo_errors("auth_sessions"):
            await self._sessions.delete_one({"_id": token_digest(value)})
