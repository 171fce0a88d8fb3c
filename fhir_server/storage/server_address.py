"""Where the running server is reached: its FHIR base URL, recorded at startup for the CLI.

`fhir-server launch` and `fhir-server token` run on the server's database but not in its
process; they read the base URL here, so a launch URL names the port the server really listens
on. One document in the `meta` collection (left out of backups: a restored server records its own).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from .mongo import mongo_errors

_ID = "server_address"


class MongoServerAddress:
    """The `server_address` document of the `meta` collection: the last started server's FHIR base URL."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._meta = client[database]["meta"]

    async def record(self, fhir_base: str) -> None:
        async with mongo_errors("meta"):
            await self._meta.update_one(
                {"_id": _ID}, {"$set": {"fhir_base": fhir_base, "recorded": datetime.now(UTC)}}, upsert=True
            )

    async def fhir_base(self) -> str | None:
        """The recorded FHIR base URL; None when no server has started on this database."""
        async with mongo_errors("meta"):
            found = await self._meta.find_one({"_id": _ID})
        return str(found["fhir_base"]) if found and found.get("fhir_base") else None
