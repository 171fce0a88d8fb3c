"""Authorization requests waiting for the user, and the one-time codes they end in (MongoDB).

The authorize endpoint validates a request and parks it here; the login, patient-picker
and consent pages work on the parked request by its id; when the user approves, a code is
issued carrying what was granted; the token endpoint redeems the code once. Both expire
quickly and are removed by TTL indexes; only digests of codes are stored.

A redeemed code is not deleted but marked with the token family it was exchanged for, and
kept as long as those tokens can live: RFC 6749 §4.1.2 wants a second use refused and the
tokens issued from the code revoked, and the mark is what names them.
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
class AuthorizationRequest:
    """A validated authorize request: the app, where to send the answer, what it asked for.

    `launch_patient` / `launch_encounter` come from an EHR launch handle (`ehr_launch` says
    there was one: its code gets `need_patient_banner`); `scopes` are the requested scopes, not
    yet narrowed by role, consent or the client's ceiling. `ui_language` is the language the
    request's OpenID Connect `ui_locales` chose for the pages (None: `Accept-Language` decides).
    """

    id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    code_challenge: str
    expires_at: datetime
    nonce: str | None = None
    launch_patient: str | None = None
    launch_encounter: str | None = None
    ehr_launch: bool = False
    ui_language: str | None = None


@dataclass(frozen=True)
class AuthorizationCode:
    """What the user approved: redeemed once at the token endpoint for tokens."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str
    issued_at: datetime
    expires_at: datetime
    subject: str | None = None
    role: str | None = None
    fhir_user: str | None = None
    patient: str | None = None
    encounter: str | None = None
    nonce: str | None = None
    need_patient_banner: bool = False


class CodeReused(Exception):
    """The code was redeemed before; `family` is the token family issued with it (to revoke)."""

    def __init__(self, family: str) -> None:
        super().__init__(family)
        self.family = family


_CODE_MARKS = ("_id", "family", "reused")
"""Fields of a stored code that are bookkeeping, not part of AuthorizationCode."""


class MongoAuthorizationStore:
    """The `auth_requests` and `auth_codes` collections."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._requests = client[database]["auth_requests"]
        self._codes = client[database]["auth_codes"]

    async def ensure_indexes(self) -> None:
        async with mongo_errors("auth_requests"):
            for collection in (self._requests, self._codes):
                await collection.create_index([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)

    async def park(self, request: AuthorizationRequest) -> None:
        async with mongo_errors("auth_requests"):
            await self._requests.insert_one({**asdict(request), "_id": request.id, "scopes": list(request.scopes)})

    async def parked(self, request_id: str) -> AuthorizationRequest | None:
        """The live parked request, or None when unknown or expired."""
        async with mongo_errors("auth_requests"):
            doc = await self._requests.find_one({"_id": request_id})
        if doc is None or aware(doc["expires_at"]) <= datetime.now(UTC):
            return None
        fields = {k: v for k, v in doc.items() if k != "_id"}
        return AuthorizationRequest(
            **{**fields, "scopes": tuple(doc["scopes"]), "expires_at": aware(doc["expires_at"])}
        )

    async def unpark(self, request_id: str) -> bool:
        """Remove the request; False when it was already gone (so a double submit answers only once)."""
        async with mongo_errors("auth_requests"):
            result = await self._requests.delete_one({"_id": request_id})
        return result.deleted_count == 1

    async def issue_code(self, code: AuthorizationCode) -> str:
        """Store `code` and return the one-time value sent to the app."""
        value = secrets.token_urlsafe(32)
        async with mongo_errors("auth_codes"):
            await self._codes.insert_one({**asdict(code), "_id": token_digest(value), "scopes": list(code.scopes)})
        return value

    async def redeem_code(self, value: str, family: str | None = None) -> AuthorizationCode | None:
        """The code's grant, once, marked as redeemed for token `family` (a fresh one when None).

        None for an unknown or expired code. Raise CodeReused (after noting the reuse, see
        `settle_code`) when the code was redeemed before.
        """
        digest = token_digest(value)
        async with mongo_errors("auth_codes"):
            doc = await self._codes.find_one_and_update(
                {"_id": digest, "family": {"$exists": False}}, {"$set": {"family": family or secrets.token_hex(16)}}
            )
            if doc is None:
                used = await self._codes.find_one_and_update(
                    {"_id": digest, "family": {"$exists": True}}, {"$set": {"reused": True}}
                )
                if used is not None:
                    raise CodeReused(str(used["family"]))
                return None
        if aware(doc["expires_at"]) <= datetime.now(UTC):
            return None
        fields = {k: v for k, v in doc.items() if k not in _CODE_MARKS}
        return AuthorizationCode(
            **{
                **fields,
                "scopes": tuple(doc["scopes"]),
                "expires_at": aware(doc["expires_at"]),
                "issued_at": aware(doc["issued_at"]),
            }
        )

    async def settle_code(self, value: str, keep_until: datetime) -> bool:
        """Keep the redeemed code's mark until `keep_until` (when its tokens are all expired); True
        when it was presented again meanwhile, so the caller revokes what it just issued.

        The reuse mark is set before the reuser revokes the family, so a redemption racing a
        reuse either sees the mark here or had its tokens stored before that revocation.
        """
        async with mongo_errors("auth_codes"):
            doc = await self._codes.find_one_and_update(
                {"_id": token_digest(value)}, {"$set": {"expires_at": keep_until}}
            )
        return bool(doc and doc.get("reused"))
