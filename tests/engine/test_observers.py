"""Write observers: their documents commit with the write, or not at all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from fhir_server.engine import create_resource, update_resource
from fhir_server.engine.bundle import process_bundle
from fhir_server.engine.observers import add_write_observer, remove_write_observer
from fhir_server.errors import FhirError
from fhir_server.storage import EmbeddedDatabase, LinkedDocument, MongoResourceStore, PendingWrite, ResourceStore
from tests.conftest import TEST_POLICY


async def audit(_store: ResourceStore, writes: Sequence[PendingWrite]) -> list[LinkedDocument]:
    """One document per version; a Patient named 'Clash' reuses a fixed key, so its second write collides."""
    docs = []
    for write in writes:
        body = write.record.resource()
        key = "clash" if body.get("name", [{}])[0].get("family") == "Clash" else write.record.reference
        document = {"_id": f"{key}/{write.record.version_id}", "type": write.record.resource_type}
        docs.append(LinkedDocument("audit", document))
    return docs


def test_linked_documents_commit_with_the_write_and_roll_back_with_it(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        store = MongoResourceStore.connect(database.uri, f"observers_{uuid.uuid4().hex[:8]}")
        await store.ensure_indexes()
        audits = store.client[store.database_name]["audit"]
        add_write_observer(audit)
        try:
            created = await create_resource(
                store, TEST_POLICY, "Patient", {"resourceType": "Patient", "name": [{"family": "A"}]}
            )
            assert await audits.find_one({"_id": f"{created.record.reference}/1"}) == {
                "_id": f"{created.record.reference}/1", "type": "Patient",
            }  # fmt: skip
            await create_resource(
                store, TEST_POLICY, "Patient", {"resourceType": "Patient", "name": [{"family": "Clash"}]}
            )
            clash = {"resourceType": "Patient", "name": [{"family": "Clash"}]}
            tx1 = {"resourceType": "Patient", "id": "tx1"}
            put = {"resource": tx1, "request": {"method": "PUT", "url": "Patient/tx1"}}
            bundle = {
                "resourceType": "Bundle", "type": "transaction",
                "entry": [
                    put,
                    {"resource": clash, "request": {"method": "POST", "url": "Patient"}},
                ],
            }  # fmt: skip
            with pytest.raises(FhirError):  # the audit key collides: the whole transaction is refused
                await process_bundle(store, TEST_POLICY, bundle, None)
            assert await store.get("Patient", "tx1") is None
            assert await audits.find_one({"_id": "Patient/tx1/1"}) is None
            patient_id = created.record.id
            await update_resource(
                store, TEST_POLICY, "Patient", patient_id, {"resourceType": "Patient", "id": patient_id}
            )
            assert await audits.count_documents({"_id": {"$regex": f"^{created.record.reference}/"}}) == 2
        finally:
            remove_write_observer(audit)
            await store.client.drop_database(store.database_name)
            await store.close()

    asyncio.run(scenario())
