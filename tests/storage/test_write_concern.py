"""On MongoDB every write waits for a journaled majority, whatever the connection string asks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from fhir_server.storage import EmbeddedDatabase, MongoResourceStore, StoredResource


def test_writes_and_transactions_wait_for_a_journaled_majority(database: EmbeddedDatabase) -> None:
    async def main() -> None:
        store = MongoResourceStore.connect(f"{database.uri}&w=1&journal=false", f"wc_{uuid.uuid4().hex[:8]}")
        try:
            # the client's write concern, which sessions and transactions inherit
            assert store.client.write_concern.document == {"w": "majority", "j": True}
            record = StoredResource("Patient", "p1", 1, datetime.now(UTC), False, b'{"resourceType":"Patient"}')
            await store.write(record, replaces=None)  # a transaction the database commits with that concern
            stored = await store.get("Patient", "p1")
            assert stored is not None and stored.version_id == 1
        finally:
            await store.client.drop_database(store.database_name)
            await store.close()

    asyncio.run(main())
