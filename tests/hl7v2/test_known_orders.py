"""A result for an order this server holds is not flagged for review; one for an unknown order is."""

from __future__ import annotations

import asyncio

from adapters.hl7v2.mapping import map_message
from adapters.hl7v2.mapping.orders import PLACER_SYSTEM
from fhir_server.engine import create_resource, search_type
from fhir_server.search.registry import default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from tests.conftest import TEST_POLICY

from . import Client, listening, segment


def oru(control: str, placer: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240101120000||ORU^R01^ORU_R01|{control}|P|2.5.1",
        "PID|1||MRN9^^^LAB^MR||Roe^Ann||19800101|F",
        f"OBR|1|{placer}|FIL-{control}|2345-7^Glucose^LN|||20240101110000|||||||||||||||20240101115000|||F",
        "OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|||||F",
    ]) + "\r"  # fmt: skip


async def review_tasks(store: MongoResourceStore) -> int:
    query = [("identifier", "urn:hl7v2:task:review-unsolicited-result|")]
    request = parse_search_request("Task", query, default_registry(), default_count=10, max_count=10, strict=True)
    return len((await search_type(store, TEST_POLICY, request)).page.records)


def test_results_for_known_orders_need_no_review(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database, mapper=map_message) as running:
            order = {
                "resourceType": "ServiceRequest", "status": "active", "intent": "order",
                "identifier": [{"system": PLACER_SYSTEM, "value": "ORD-KNOWN"}],
                "code": {"text": "Glucose"}, "subject": {"display": "Ann Roe"},
            }  # fmt: skip
            await create_resource(running.store, TEST_POLICY, "ServiceRequest", order)
            client = await Client.connect(running.port)
            assert segment(await client.send(oru("K1", "ORD-KNOWN")), "MSA")[1] == "AA"
            assert await review_tasks(running.store) == 0
            assert segment(await client.send(oru("U1", "ORD-UNKNOWN")), "MSA")[1] == "AA"
            assert await review_tasks(running.store) == 1
            # the placeholder made for the unsolicited result does not make its order "known"
            assert segment(await client.send(oru("U2", "ORD-UNKNOWN")), "MSA")[1] == "AA"
            assert await review_tasks(running.store) == 1  # the same Task, not a second one
            await client.close()

    asyncio.run(scenario())
