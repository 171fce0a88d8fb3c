"""What gets queued, and when: cancellations, labs without MLLP, rolled-back writes, several workers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.hl7v2.outbound import Sender
from fhir_server.engine import create_resource, delete_resource, read_resource, update_resource
from fhir_server.engine.bundle import process_bundle
from fhir_server.engine.conditional import find_matches
from fhir_server.errors import FhirError
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import TEST_POLICY

from . import CONNECTION, FAST, LOINC_GLUCOSE, TestLab, fields, spare_port, statuses, until, world


async def _revoke(store: Any, order: str, status: str = "revoked") -> None:
    current = await read_resource(store, TEST_POLICY, "ServiceRequest", order.split("/")[1])
    body = {**current.resource(), "status": status}
    await update_resource(store, TEST_POLICY, "ServiceRequest", order.split("/")[1], body)


def test_revoking_a_sent_order_sends_the_cancel(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database) as w:
            order = await w.order(await w.lab(port, structure="ORM_O01"))
            await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            await _revoke(w.store, order)
            entries = await w.until(order, lambda e: statuses(e) == ["acknowledged", "acknowledged"])
            assert [e.control for e in entries] == ["NW", "CA"]
            new, cancel = lab.received
            assert fields(cancel, "MSH")[9] == "ORM^O01^ORM_O01" and fields(cancel, "ORC")[1] == "CA"
            assert fields(cancel, "ORC")[2] == fields(new, "ORC")[2] and len(fields(new, "ORC")[2]) <= 15
            assert fields(cancel, "MSH")[10] != fields(new, "MSH")[10]
            await _revoke(w.store, order, "entered-in-error")  # cancelled already: nothing more
            await delete_resource(w.store, TEST_POLICY, "ServiceRequest", order.split("/")[1])
            await asyncio.sleep(0.1)
            assert len(await w.entries(order)) == 2 and len(lab.received) == 2
        await lab.stop()

    asyncio.run(scenario())


def test_an_order_cancelled_before_it_left_is_withdrawn(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with world(database) as w:
            order = await w.order(await w.lab(spare_port()))  # nobody listens: the order never leaves
            await w.until(order, lambda e: e[0].tries >= 1)
            await _revoke(w.store, order)
            entries = await w.until(order, lambda e: statuses(e) == ["withdrawn", "withdrawn"])
            assert entries[0].transmissions == 0 and entries[1].message is None

    asyncio.run(scenario())


def test_no_mllp_endpoint_or_no_active_order_queues_nothing(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with world(database) as w:
            rest = {"system": CONNECTION["system"], "code": "hl7-fhir-rest"}
            plain = await w.lab(spare_port(), connectionType=rest)
            bare = (
                await create_resource(w.store, TEST_POLICY, "Organization", {"resourceType": "Organization"})
            ).record.reference
            switched_off = await w.lab(spare_port(), status="off")
            orders = [await w.order(lab) for lab in (plain, bare, switched_off)]
            orders.append(await w.order(await w.lab(spare_port()), status="draft"))
            orders.append(await w.order("Organization/missing"))
            for order in orders:
                assert await w.entries(order) == []

    asyncio.run(scenario())


def test_a_misconfigured_lab_is_flagged(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with world(database) as w:
            order = await w.order(await w.lab(1, address="http://lab.example.org"))
            [entry] = await w.until(order, lambda e: statuses(e) == ["failed"])
            assert "Endpoint.address" in (entry.error or "")
            [task] = await find_matches(w.store, TEST_POLICY, "Task", [("focus", order)], 5)
            assert "mllp://host:port" in task.resource()["description"]

    asyncio.run(scenario())


def _bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def test_a_transaction_queues_with_its_lab_or_not_at_all(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database) as w:
            endpoint = {"resourceType": "Endpoint", "status": "active", "connectionType": CONNECTION,
                        "payloadType": [{"text": "HL7 v2"}], "address": f"mllp://127.0.0.1:{port}"}  # fmt: skip
            organization = {"resourceType": "Organization", "endpoint": [{"reference": "urn:uuid:e"}]}
            patient = {"resourceType": "Patient", "name": [{"family": "Roe"}]}
            request = {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "code": LOINC_GLUCOSE,
                       "subject": {"reference": "urn:uuid:p"}, "performer": [{"reference": "urn:uuid:o"}]}  # fmt: skip
            entries = [
                {"fullUrl": "urn:uuid:e", "resource": endpoint, "request": {"method": "POST", "url": "Endpoint"}},
                {
                    "fullUrl": "urn:uuid:o",
                    "resource": organization,
                    "request": {"method": "POST", "url": "Organization"},
                },
                {"fullUrl": "urn:uuid:p", "resource": patient, "request": {"method": "POST", "url": "Patient"}},
                {"fullUrl": "urn:uuid:s", "resource": request, "request": {"method": "POST", "url": "ServiceRequest"}},
            ]
            stale = {"resource": {"resourceType": "Patient", "id": "nobody"},
                     "request": {"method": "PUT", "url": "Patient/nobody", "ifMatch": 'W/"3"'}}  # fmt: skip
            with pytest.raises(FhirError):
                await process_bundle(w.store, TEST_POLICY, _bundle(*entries, stale), None)
            assert await w.outbox.list() == []
            await process_bundle(w.store, TEST_POLICY, _bundle(*entries), None)
            [queued] = await w.outbox.list()
            await w.until(queued.service_request, lambda e: statuses(e) == ["acknowledged"])
            assert len(lab.received) == 1
        await lab.stop()

    asyncio.run(scenario())


def test_two_workers_send_each_order_exactly_once(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database) as w:
            second = asyncio.create_task(Sender(w.database, FAST).run())
            try:
                organization = await w.lab(port)
                orders = await asyncio.gather(*(w.order(organization) for _ in range(12)))
                everything = await until(w.outbox.list, lambda e: statuses(e) == ["acknowledged"] * 12)
            finally:
                second.cancel()
                await asyncio.gather(second, return_exceptions=True)
            assert {e.service_request for e in everything} == set(orders)
            sent = [fields(m, "MSH")[10] for m in lab.received]
            assert len(sent) == 12 and sorted(sent) == sorted(e.control_id for e in everything)
            assert (await w.outbox.counts())["acknowledged"] == 12
            assert [e.service_request for e in await w.outbox.list(service_request=orders[0])] == [orders[0]]
        await lab.stop()

    asyncio.run(scenario())


def test_an_order_whose_transaction_fails_inside_the_database_leaves_neither(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with world(database) as w:
            lab = await w.lab(spare_port())
            order = await w.order(lab, status="draft")
            order_id = order.split("/")[1]
            planted = {"_id": f"{order}/2", "planted": True}  # the key the activation's entry will need
            await w.store.client[w.store.database_name]["hl7_outbox"].insert_one(planted)
            body = {
                **(await read_resource(w.store, TEST_POLICY, "ServiceRequest", order_id)).resource(),
                "status": "active",
            }
            with pytest.raises(FhirError):  # the entry's insert fails after the version's, in one transaction
                await update_resource(w.store, TEST_POLICY, "ServiceRequest", order_id, body, if_match=1)
            current = await read_resource(w.store, TEST_POLICY, "ServiceRequest", order_id)
            assert current.version_id == 1 and current.resource()["status"] == "draft"
            assert await w.store.client[w.store.database_name]["hl7_outbox"].count_documents({}) == 1

    asyncio.run(scenario())
