"""Staff and patient accounts in MongoDB: username, role, the FHIR resource they stand for, password hash."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from .mongo import mongo_errors


@dataclass(frozen=True)
class User:
    """One account. `role` names a role of auth/roles.py; `fhir_user` is a "Practitioner/1" style reference.

    `password_hash` is a string of auth/passwords.py; an inactive user cannot sign in.
    """

    username: str
    role: str
    password_hash: str
    fhir_user: str | None = None
    active: bool = True


class UserExists(Exception):
    """An account with that username already exists."""


class MongoUserStore:
    """The `auth_users` collection, keyed by username."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._users = client[database]["auth_users"]

    async def add(self, user: User) -> None:
        """Store a new account; raise UserExists when the username is taken."""
        async with mongo_errors("auth_users"):
            try:
                await self._users.insert_one({**asdict(user), "_id": user.username})
            except DuplicateKeyError as exc:
                raise UserExists(user.username) from exc

    async def get(self, username: str) -> User | None:
        async with mongo_errors("auth_users"):
            doc = await self._users.find_one({"_id": username})
        return _user(doc) if doc else None

    async def all(self) -> list[User]:
        async with mongo_errors("auth_users"):
            return [_user(doc) async for doc in self._users.find({}).sort("_id", 1)]

    async def set_password(self, username: str, password_hash: str) -> bool:
        """Replace the password hash; False when there is no such user."""
        return await self._set(username, password_hash=password_hash)

    async def set_active(self, username: str, active: bool) -> bool:
        """Let the user sign in again, or stop them; False when there is no such user."""
        return await self._set(username, active=active)

    async def remove(self, username: str) -> bool:
        async with mongo_errors("auth_users"):
            result = await self._users.delete_one({"_id": username})
        return result.deleted_count == 1

    async def _set(self, username: str, **fields: Any) -> bool:
        async with mongo_errors("auth_users"):
            result = await self._users.update_one({"_id": username}, {"$set": fields})
        return result.matched_count == 1


def _user(doc: dict[str, Any]) -> User:
    return User(**{k: v for k, v in doc.items() if k != "_id"})
