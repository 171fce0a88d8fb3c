"""Files of bulk jobs (export output, import uploads, error reports), stored in MongoDB in chunks.

API workers are stateless and may be many processes on many machines, so a job's files live
in the database, not on a local disk: collection `export_chunks` holds `{job, file, seq, data}`
documents of at most a few megabytes each. A job appends chunks as it goes and a download
streams them one at a time, so neither side ever holds a whole file in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from bson.binary import Binary
from pymongo import ASCENDING, AsyncMongoClient

from .mongo import mongo_errors

CHUNK_BYTES = 1024 * 1024
"""Writers cut their files into chunks of about this size (a chunk may exceed it by one line)."""


class MongoFileStore:
    """The `export_chunks` collection."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._chunks = client[database]["export_chunks"]

    async def ensure_indexes(self) -> None:
        async with mongo_errors("export_chunks"):
            await self._chunks.create_index(
                [("job", ASCENDING), ("file", ASCENDING), ("seq", ASCENDING)], name="job_file_seq", unique=True
            )

    async def put(self, job: str, file: str, seq: int, data: bytes) -> None:
        """Store chunk `seq` of a file; writing the same chunk again replaces it (a resumed writer may)."""
        async with mongo_errors("export_chunks"):
            await self._chunks.replace_one(
                {"job": job, "file": file, "seq": seq},
                {"job": job, "file": file, "seq": seq, "data": Binary(data), "size": len(data)},
                upsert=True,
            )

    async def read(self, job: str, file: str) -> AsyncIterator[bytes]:
        """The chunks of a file in order, fetched one at a time."""
        async with mongo_errors("export_chunks"):
            cursor = self._chunks.find({"job": job, "file": file}, {"data": 1}).sort("seq", ASCENDING).batch_size(2)
            async for doc in cursor:
                yield bytes(doc["data"])

    async def exists(self, job: str, file: str) -> bool:
        async with mongo_errors("export_chunks"):
            return await self._chunks.find_one({"job": job, "file": file}, {"_id": 1}) is not None

    async def size(self, job: str, file: str) -> int:
        """Bytes in the file (sums the chunk sizes, not the data)."""
        total = 0
        async with mongo_errors("export_chunks"):
            async for doc in self._chunks.find({"job": job, "file": file}, {"size": 1}):
                total += int(doc.get("size", 0))
        return total

    async def truncate(self, job: str, keep: Sequence[str], file: str | None, seq: int) -> int:
        """Undo what a dead writer stored after its last saved cursor.

        Keeps the chunks of the finished files `keep` and chunks 0 .. `seq`-1 of the file being
        written (`file`); deletes every other chunk of the job. Returns how many were deleted.
        """
        async with mongo_errors("export_chunks"):
            others = await self._chunks.delete_many({"job": job, "file": {"$nin": [*keep, *([file] if file else [])]}})
            beyond = 0
            if file is not None:
                later = await self._chunks.delete_many({"job": job, "file": file, "seq": {"$gte": seq}})
                beyond = later.deleted_count
        return others.deleted_count + beyond

    async def delete_job(self, job: str) -> int:
        async with mongo_errors("export_chunks"):
            return (await self._chunks.delete_many({"job": job})).deleted_count

    async def jobs(self) -> list[str]:
        """The ids of the jobs that have files (to find those left by removed jobs)."""
        async with mongo_errors("export_chunks"):
            return [str(job) for job in await self._chunks.distinct("job")]
