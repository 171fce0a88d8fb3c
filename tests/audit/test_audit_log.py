"""The audit log's hash chain: sealed in order by one sealer, and any tampering is reported."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from pymongo import AsyncMongoClient

from fhir_server.audit.events import Actor, rest_event, sign_in_event
from fhir_server.audit.requests import interaction_of
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.audit import AuditKey, MongoAuditLog
from fhir_server.storage.audit_seal import AuditUncheckable
from fhir_server.storage.audit_search import AuditSearch
from profiles import validate_resource
from tests.audit.records import TEST_KEY, request_id_of

_NURSE = Actor(client_id="app", username="nina", fhir_user="Practitioner/n1", role="nurse", address="127.0.0.1")


def _event(n: int) -> dict[str, object]:
    return rest_event("read", _NURSE, "2026-11-26T08:00:00.000Z", 200, "http://h/fhir", what=[f"Patient/{n}"])


def _run(
    database: EmbeddedDatabase, scenario: Callable[[AsyncMongoClient[dict], MongoAuditLog], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with AsyncMongoClient[dict](database.uri, tz_aware=True) as mongo:
            log = MongoAuditLog(mongo, f"audit_{uuid.uuid4().hex[:8]}", TEST_KEY)
            await log.ensure_indexes()
            await scenario(mongo, log)

    asyncio.run(main())


async def _filled(log: MongoAuditLog, count: int) -> None:
    """Records 1..count, each sealed as it comes (the sealer makes one pack of what waits)."""
    for n in range(count):
        await log.append_many([log.record(_event(n), datetime.now(UTC))])
        await log.seal("s1")


def test_events_are_valid_r4_audit_events() -> None:
    search = rest_event(
        "search-type", _NURSE, "2026-11-26T08:00:00.000Z", 403, "http://h/fhir", query="Observation?x=1",
        patient="Patient/p1", request_id="req-1",
    )  # fmt: skip
    login = sign_in_event(
        Actor(username="nina", address="127.0.0.1"), "2026-11-26T08:00:00.000Z", "http://h", succeeded=False,
        request_id="req-2",
    )  # fmt: skip
    assert request_id_of(search) == "req-1" and request_id_of(login) == "req-2"
    assert search["entity"][-1]["type"] == {  # type: ignore[index]
        "system": "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType",
        "code": "XrequestId",
        "display": "transport specific unique identifier where http X-Request-Id is used",
    }
    for event in (_event(1), search, login):
        assert validate_resource(event) == []
    assert search["outcome"] == "4" and search["action"] == "E"


def test_interactions_of_requests_and_bundle_entries() -> None:
    assert interaction_of("GET", ["Patient", "1"]) == interaction_of("HEAD", ["Patient", "1"]) == "read"
    assert interaction_of("HEAD", ["Patient"]) == "search-type"
    assert interaction_of("GET", ["Patient", "1", "_history", "2"]) == "vread"
    assert interaction_of("POST", []) == "batch"


def test_sealed_chain_verifies_and_unsealed_records_are_counted(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _filled(log, 5)
        await log.append_many([log.record(_event(99), datetime.now(UTC))])
        report = await log.verify()
        assert report.intact and (report.sealed, report.unsealed, report.head_seq) == (5, 1, 5)
        assert await log.seal("s1") == 1
        assert (await log.verify()).intact and (await log.verify()).sealed == 6

    _run(database, scenario)


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("edit", "record 3 (id "),
        ("delete", "records 3..3 are missing"),
        ("truncate", "records were removed"),
        ("insert", "added outside the sealer"),
    ],
)
def test_tampering_is_detected(database: EmbeddedDatabase, tamper: str, problem: str) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _filled(log, 5)
        records = mongo[log.database_name]["audit"]
        if tamper == "edit":
            await records.update_one({"seq": 3}, {"$set": {"event.0.outcome": "0", "event.0.agent": []}})
        elif tamper == "delete":
            await records.delete_one({"seq": 3})
        elif tamper == "truncate":
            await records.delete_one({"seq": 5})
        else:
            await records.insert_one(
                {"seq": 6, "prev": "x", "hash": "y", "event": _event(6), "recorded": datetime.now(UTC)}
            )
        report = await log.verify()
        assert not report.intact
        assert any(problem in p for p in report.problems), report.problems

    _run(database, scenario)


def test_one_sealer_at_a_time(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        for n in range(40):
            await log.append_many([log.record(_event(n), datetime.now(UTC))])
        sealed = await asyncio.gather(*(log.seal(f"s{i}", batch=10) for i in range(4)))
        winners = [f"s{i}" for i, count in enumerate(sealed) if count]
        assert len(winners) == 1 and sum(sealed) == 10  # the others found the lease taken
        while await log.seal(winners[0], batch=10):
            pass
        report = await log.verify()
        assert report.intact and report.unsealed == 0 and report.events == 40

    _run(database, scenario)


def test_the_lease_holder_appends_batches_already_sealed(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _filled(log, 2)  # "s1" holds the lease now
        await log.append_many([log.record(_event(2), datetime.now(UTC))])  # a write's event, unsealed
        batch = [log.record(_event(n), datetime.now(UTC)) for n in range(3, 6)]
        assert await log.append_sealed(batch, "s1")
        report = await log.verify()
        assert report.intact and (report.sealed, report.unsealed, report.head_seq) == (5, 1, 5)
        assert not await log.append_sealed([log.record(_event(6), datetime.now(UTC))], "s2")
        assert (await log.verify()).sealed == 5  # refused without writing: the lease is s1's
        assert await log.seal("s1") == 1
        report = await log.verify()
        assert report.intact and (report.sealed, report.unsealed) == (6, 0)

    _run(database, scenario)


def test_sealed_appends_and_the_sealer_in_one_process_keep_one_chain(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        for n in range(30):
            await log.append_many([log.record(_event(n), datetime.now(UTC))])

        async def appends() -> None:
            for n in range(10):
                batch = [log.record(_event(100 + 3 * n + k), datetime.now(UTC)) for k in range(3)]
                assert await log.append_sealed(batch, "s1")

        async def seals() -> None:
            while await log.seal("s1", batch=4):
                pass

        await asyncio.gather(appends(), seals())
        while await log.seal("s1"):
            pass
        report = await log.verify()
        assert report.intact and (report.events, report.unsealed) == (60, 0)

    _run(database, scenario)


def test_verify_while_sealing_goes_on_finds_nothing_wrong(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        done = asyncio.Event()

        async def appends() -> None:
            for n in range(40):
                await log.append_sealed([log.record(_event(n), datetime.now(UTC))], "s1")
            done.set()

        async def verifies() -> list[list[str]]:
            problems = []
            while not done.is_set():
                problems.append((await log.verify()).problems)
            return problems

        _, seen = await asyncio.gather(appends(), verifies())
        assert seen and not any(seen), seen

    _run(database, scenario)


def test_a_head_moved_outside_the_server_or_sealed_under_another_key_is_not_extended(
    database: EmbeddedDatabase,
) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _filled(log, 5)
        chain = mongo[log.database_name]["audit_chain"]
        third = await mongo[log.database_name]["audit"].find_one({"seq": 3})
        await chain.update_one({"_id": "head"}, {"$set": {"seq": 3, "hash": third["hash"]}})  # records 4, 5 hidden
        await log.append_many([log.record(_event(9), datetime.now(UTC))])
        assert await log.seal("s1") == 0 and not await log.append_sealed(
            [log.record(_event(10), datetime.now(UTC))], "s1"
        )
        assert any("the chain head (record 3) was changed" in p for p in (await log.verify()).problems)
        stranger = MongoAuditLog(mongo, log.database_name, AuditKey(bytes(range(1, 33))))
        assert await stranger.seal("s1") == 0
        with pytest.raises(AuditUncheckable, match="sealed with another key"):
            await stranger.verify()

    _run(database, scenario)


def test_a_head_made_to_name_another_key_is_reported_as_changed(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _filled(log, 3)
        await mongo[log.database_name]["audit_chain"].update_one({"_id": "head"}, {"$set": {"kid": "0" * 16}})
        report = await log.verify()  # the records' MACs show this key sealed them: the head was edited
        assert any("the chain head (record 3) was changed" in p for p in report.problems), report.problems

    _run(database, scenario)


def test_a_refusal_marked_outside_the_sealer_keeps_no_record_of_the_server_out(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _filled(log, 2)
        db = mongo[log.database_name]
        waiting = log.record(_event(7), datetime.now(UTC))
        await log.append_many([waiting])
        await db["audit_inbox"].update_one({"_id": waiting["_id"]}, {"$set": {"rejected": "mac"}})
        assert await log.seal("s1") == 1  # the sealer checks the MAC itself: chained, and searchable
        report = await log.verify()
        assert report.intact and report.events == 3, report.problems
        found, _cursor = await log.search(AuditSearch(filters=[("entity", ["Patient/7"])]))
        assert [event["id"] for event in found] == [str(waiting["_id"])]

        kept_out = log.record(_event(8), datetime.now(UTC))  # moved into the log by hand, marked refused
        await db["audit"].insert_one({**kept_out, "rejected": "mac"})
        problems = (await log.verify()).problems
        assert problems == [f"record {kept_out['_id']} was written by the server but marked as refused outside it: "
                            "it is kept out of the chain"], problems  # fmt: skip

    _run(database, scenario)


def test_a_waiting_event_is_found_and_keeps_its_id_once_sealed(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        waiting = [log.record(_event(n), datetime.now(UTC)) for n in range(5)]
        await log.append_many(waiting)
        everything = AuditSearch(filters=[("entity", [f"Patient/{n}" for n in range(5)])])
        before, _cursor = await log.search(everything)
        assert await log.seal("s1") == 5
        after, _cursor = await log.search(everything)
        assert [e["id"] for e in before] == [e["id"] for e in after] == [str(r["_id"]) for r in reversed(waiting)]
        assert await mongo[log.database_name]["audit_inbox"].count_documents({}) == 0
        [pack] = await mongo[log.database_name]["audit"].find().to_list()  # one pack of the five
        assert pack["ids"] == [r["_id"] for r in waiting] and pack["seq"] == 1
        page, cursor = await log.search(everything, limit=2)
        while cursor is not None:  # paging across the pack's events by their own ids
            more, cursor = await log.search(everything, limit=2, cursor=cursor)
            page += more
        assert [e["id"] for e in page] == [e["id"] for e in after]

    _run(database, scenario)
