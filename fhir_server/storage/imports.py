"""What `fhir-server import` has finished, so that running it again creates nothing twice.

Collection `import_records`, one document per finished piece of an input file:

- `{_id: "<sha256 of the file>"}`: the whole file, written once every piece of it is stored with
  no failure; a later run skips the file without reading it.
- `{_id: "<sha256>:<where>"}` (`where` is "bundle", "item 2", "entry 3", "line 1 - line 200", "line 7" ...): one
  Bundle or range of lines, inserted in the same database transaction as the versions it wrote
  (a linked document, see engine/observers.py), so a piece is recorded exactly when its writes
  are committed, never before and never without them.

Each record keeps the file's path as given (for people), the number of resources the piece
wrote and `at`: the instant of its versions, which a backup uses to keep the records of the
versions it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from .mongo import mongo_errors

IMPORT_RECORDS = "import_records"


def piece_key(digest: str, where: str) -> str:
    """The record key of one piece (`where`) of the file with sha256 `digest`."""
    return f"{digest}:{where}"


def piece_record(digest: str, where: str, path: str, resources: int, at: datetime) -> dict[str, Any]:
    """The document recording that a piece of a file is stored (inserted with its versions)."""
    return {"_id": piece_key(digest, where), "path": path, "resources": resources, "at": at}


class MongoImportRecords:
    """The `import_records` collection."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._records = client[database][IMPORT_RECORDS]

    async def finished(self, digest: str) -> tuple[bool, set[str]]:
        """(whether the whole file is recorded, the `where` of each recorded piece of it).

        One range read on `_id`: the file's own record sorts just before its pieces ("<digest>:...").
        """
        pieces: set[str] = set()
        whole = False
        async with mongo_errors(IMPORT_RECORDS):
            cursor = self._records.find({"_id": {"$gte": digest, "$lt": digest + ";"}}, {"_id": 1})
            async for doc in cursor:
                key = str(doc["_id"])
                if key == digest:
                    whole = True
                else:
                    pieces.add(key[len(digest) + 1 :])
        return whole, pieces

    async def finish_file(self, digest: str, record: Mapping[str, Any]) -> None:
        """Record the whole file as stored (a second run that finishes it too changes nothing)."""
        async with mongo_errors(IMPORT_RECORDS):
            with suppress(DuplicateKeyError):
                await self._records.insert_one({**record, "_id": digest})
