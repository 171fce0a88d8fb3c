"""The message outbox against the real server, database, an aiosmtpd SMTP server (STARTTLS, AUTH) and an
HTTP SMS gateway: queued in the write's transaction, sent once, retried with backoff while a channel is down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fhir_server.config import Settings
from fhir_server.messaging import queue_message
from fhir_server.storage.database import Database
from fhir_server.storage.embedded import EmbeddedDatabase
from fhir_server.storage.message_outbox import FAILED, RETRYING, SENT, Message
from tests.conftest import FHIR_JSON, ServerProcess
from tests.messaging.message_rules import NOTIFY
from tests.outbound import Gateway, SmtpServer, run, wait_for

DATABASE = "fhir_messaging"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    server = Gateway()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fhir(
    database: EmbeddedDatabase, smtp: SmtpServer, gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    env = {**smtp.env(), **gateway.env(), "FHIR_RULE_MODULES": "tests.messaging.message_rules",
           "FHIR_MESSAGE_RETRY_SECONDS": "0.2", "FHIR_MESSAGE_RETRY_MAX_SECONDS": "1"}  # fmt: skip
    log = tmp_path_factory.mktemp("server") / "server.log"
    process = ServerProcess(["--mongodb-uri", database.uri, "--database", DATABASE], log, env=env)
    with httpx.Client(base_url=f"{process.base}/fhir", headers=FHIR_JSON, timeout=30) as client:
        yield client
    process.stop()


def outbox(database: EmbeddedDatabase, call: Any) -> Any:
    """Run `call(database)` on a Database of the test server's, e.g. to read or queue messages."""

    async def go() -> Any:
        settings = Settings(mongodb_uri=database.uri, database=DATABASE)
        async with Database.open(settings, indexes=False) as opened:
            return await call(opened)

    return run(go())


def message(database: EmbeddedDatabase, key: str) -> Message | None:
    found: Message | None = outbox(database, lambda db: db.message_outbox.get(key))
    return found


def settled(database: EmbeddedDatabase, key: str, status: str = SENT) -> Message:
    return wait_for(lambda: (m := message(database, key)) and m.status == status and m, f"{key} {status}")


def retried(database: EmbeddedDatabase, key: str) -> bool:
    found = message(database, key)
    return found is not None and found.status == RETRYING and found.attempts >= 2


def notified(key: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "meta": {"tag": [{"system": NOTIFY, "code": "yes"}]},
            "identifier": [{"system": "urn:test:key", "value": key}], **extra}  # fmt: skip


def test_a_write_queues_its_messages_and_each_arrives_once(
    fhir: httpx.Client, database: EmbeddedDatabase, smtp: SmtpServer, gateway: Gateway
) -> None:
    key = uuid.uuid4().hex
    address, number = f"{key}@patients.example", f"+49{int(key[:8], 16)}"
    telecom = [{"system": "email", "value": address}, {"system": "sms", "value": number}]
    created = fhir.post("/Patient", json=notified(key, telecom=telecom))
    assert created.status_code == 201, created.text
    sent = settled(database, f"{key}/email")
    settled(database, f"{key}/sms")
    # the same key again (a second write of the same patient) is no second message
    again = fhir.put(
        f"/Patient/{created.json()['id']}", json={**notified(key, telecom=telecom), "id": created.json()["id"]}
    )
    assert again.status_code == 200, again.text
    assert message(database, f"{key}/email") == sent
    [mail] = smtp.mailbox.to(address)
    assert mail["Subject"] == key and mail["Message-ID"] == sent.message_id
    assert mail.get_body(("plain",)).get_content().strip() == f"Welcome {key}"  # type: ignore[union-attr]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "note.txt" and attachment.get_content() == "hello"
    [sms] = gateway.to(number)
    assert sms == {"to": number, "text": f"Welcome {key}", "key": f"{key}/sms", "idempotencyKey": f"{key}/sms"}


def test_a_refused_write_queues_nothing(fhir: httpx.Client, database: EmbeddedDatabase) -> None:
    key = uuid.uuid4().hex
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": notified(key, telecom=[{"system": "email", "value": f"{key}@patients.example"}]),
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "gender": "not-a-gender"},
         "request": {"method": "POST", "url": "Patient"}},
    ]}  # fmt: skip
    refused = fhir.post("", json=bundle)
    assert refused.status_code == 400, refused.text
    assert message(database, f"{key}/email") is None


def test_the_same_key_queued_twice_is_one_message(
    database: EmbeddedDatabase, fhir: httpx.Client, smtp: SmtpServer
) -> None:
    key = uuid.uuid4().hex
    address = f"{key}@patients.example"

    async def twice(db: Database) -> None:
        await queue_message(db, key=key, channel="email", to=address, subject="first", text="first")
        await queue_message(db, key=key, channel="email", to=address, subject="second", text="second")

    outbox(database, twice)
    settled(database, key)
    [mail] = smtp.mailbox.to(address)
    assert mail["Subject"] == "first"


def test_a_relay_that_is_down_gets_each_message_once_when_it_is_back(
    database: EmbeddedDatabase, fhir: httpx.Client, smtp: SmtpServer
) -> None:
    keys = [uuid.uuid4().hex for _ in range(3)]
    smtp.stop()
    try:

        async def queue(db: Database) -> None:
            for key in keys:
                await queue_message(db, key=key, channel="email", to=f"{key}@patients.example", text="while down")

        outbox(database, queue)
        # each tried, refused, and tried again after a backoff
        wait_for(lambda: all(retried(database, key) for key in keys), "retries")
    finally:
        smtp.start()
    for key in keys:
        assert settled(database, key).status == SENT
        assert len(smtp.mailbox.to(f"{key}@patients.example")) == 1


def test_a_gateway_failing_three_times_gets_the_message_once(
    database: EmbeddedDatabase, fhir: httpx.Client, gateway: Gateway
) -> None:
    key, number = uuid.uuid4().hex, "+4915100000001"
    gateway.fail, gateway.refused = 3, 0
    outbox(database, lambda db: queue_message(db, key=key, channel="sms", to=number, text="after three"))
    sent = settled(database, key)
    assert gateway.refused == 3 and sent.attempts == 4
    assert [m["key"] for m in gateway.to(number)].count(key) == 1


def test_a_permanent_refusal_fails_without_retrying(
    database: EmbeddedDatabase, fhir: httpx.Client, smtp: SmtpServer, gateway: Gateway
) -> None:
    mail_key, sms_key = uuid.uuid4().hex, uuid.uuid4().hex

    async def queue(db: Database) -> None:
        await queue_message(db, key=mail_key, channel="email", to="refused@patients.example", text="no")
        await queue_message(db, key=sms_key, channel="sms", to="+000", text="no")

    outbox(database, queue)
    refused_mail, refused_sms = settled(database, mail_key, FAILED), settled(database, sms_key, FAILED)
    assert refused_mail.attempts == 1 and "550" in (refused_mail.error or "")
    assert refused_sms.attempts == 1 and "400" in (refused_sms.error or "")
    assert smtp.mailbox.to("refused@patients.example") == []
