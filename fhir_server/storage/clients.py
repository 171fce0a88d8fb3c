"""Registered SMART apps and backend services (OAuth 2 clients) in MongoDB."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from .mongo import mongo_errors

PUBLIC, SYMMETRIC, ASYMMETRIC = "public", "confidential-symmetric", "confidential-asymmetric"
CLIENT_KINDS = (PUBLIC, SYMMETRIC, ASYMMETRIC)


@dataclass(frozen=True)
class Client:
    """One OAuth 2 client.

    `kind` says how it authenticates at the token endpoint: public (client_id only, PKCE),
    confidential-symmetric (client_secret_basic; only a hash of the secret is kept) or
    confidential-asymmetric (private_key_jwt, keys inline in `jwks` or at `jwks_uri`).
    `scopes` is the ceiling of what the client may be granted: for backend services, the
    pre-authorized `system/` scopes. `launch_url` is where an EHR launch sends the browser;
    `logo_uri` (RFC 7591) is the image the sign-in and consent pages show beside the app's name.
    `first_party` marks the server's own pages (the staff pages): their users are not asked to
    consent, since nothing leaves the server; the role ceiling still bounds what is granted.
    """

    client_id: str
    name: str
    kind: str
    redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    launch_url: str | None = None
    logo_uri: str | None = None
    first_party: bool = False


class ClientExists(Exception):
    """A client with that client_id is already registered."""


class MongoClientStore:
    """The `auth_clients` collection, keyed by client_id."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._clients = client[database]["auth_clients"]

    async def add(self, registered: Client) -> None:
        """Register a new client; raise ClientExists when the client_id is taken."""
        if registered.kind not in CLIENT_KINDS:
            raise ValueError(f"Unknown client kind {registered.kind!r}; expected one of {', '.join(CLIENT_KINDS)}.")
        async with mongo_errors("auth_clients"):
            try:
                await self._clients.insert_one(_document(registered))
            except DuplicateKeyError as exc:
                raise ClientExists(f"A client {registered.client_id!r} is already registered.") from exc

    async def save(self, registered: Client) -> None:
        """Register or replace a client (for clients the server itself defines, such as the demo app)."""
        async with mongo_errors("auth_clients"):
            await self._clients.replace_one({"_id": registered.client_id}, _document(registered), upsert=True)

    async def get(self, client_id: str) -> Client | None:
        async with mongo_errors("auth_clients"):
            doc = await self._clients.find_one({"_id": client_id})
        return _client(doc) if doc else None

    async def all(self) -> list[Client]:
        async with mongo_errors("auth_clients"):
            return [_client(doc) async for doc in self._clients.find({}).sort("_id", 1)]

    async def remove(self, client_id: str) -> bool:
        async with mongo_errors("auth_clients"):
            result = await self._clients.delete_one({"_id": client_id})
        return result.deleted_count == 1


def _document(registered: Client) -> dict[str, Any]:
    doc = {**asdict(registered), "_id": registered.client_id}
    doc["redirect_uris"], doc["scopes"] = list(registered.redirect_uris), list(registered.scopes)
    return doc


def _client(doc: dict[str, Any]) -> Client:
    fields = {k: v for k, v in doc.items() if k != "_id"}
    return Client(**{**fields, "redirect_uris": tuple(doc["redirect_uris"]), "scopes": tuple(doc["scopes"])})
