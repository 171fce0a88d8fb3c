"""Backups keep the outbox: a restored server sends the pending order with the MSH-10 it had, and no entry of
a write after the backup instant comes back."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

from adapters.hl7v2.outbound import start_sending
from fhir_server.engine.backup import backup, restore
from fhir_server.engine.identity import now
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.audit_seal import AuditKey
from fhir_server.storage.backup import MongoBackupStore, state_collections
from tests.hl7v2 import database_of

from . import FAST, TestLab, fields, spare_port, statuses, until, world


def test_a_restore_keeps_pending_orders_and_their_control_ids(database: EmbeddedDatabase, tmp_path: Path) -> None:
    async def scenario() -> None:
        assert "hl7_outbox" in state_collections()
        port = spare_port()
        async with world(database) as w:
            organization = await w.lab(port)  # the lab is down: orders wait in the outbox
            pending = await w.order(organization)
            [before] = await w.until(pending, lambda e: e[0].tries >= 1 and e[0].control_id is not None)
            await w.store.client[w.store.database_name]["hl7_outbox"].update_one(
                {"_id": before.id}, {"$set": {"leaseUntil": now() + timedelta(hours=1), "worker": "gone"}}
            )  # held by a worker at the backup instant: its lease does not survive the restore
            source = MongoBackupStore(w.store.client, w.store.database_name)
            later = {"_id": "ServiceRequest/later/1", "serviceRequest": "ServiceRequest/later", "version": 1,
                     "created": now() + timedelta(hours=1), "status": "queued"}  # fmt: skip
            await w.store.client[w.store.database_name]["hl7_outbox"].insert_one(later)
            result = await backup(source, tmp_path / "backup", audit_key=AuditKey(secrets.token_bytes(32)), settle=0.1)
            assert result.counts.state >= 1
        target = MongoResourceStore.connect(database.uri, f"out_restored_{uuid.uuid4().hex[:8]}")
        try:
            counts = await restore(MongoBackupStore(target.client, target.database_name), tmp_path / "backup")
            assert counts.state == result.counts.state
            restored_database = database_of(target)
            outbox = restored_database.hl7_outbox
            [restored] = await outbox.of_order(pending)
            assert (restored.id, restored.control_id) == (before.id, before.control_id)
            assert restored.message == before.message
            assert restored.status == "retrying" and await outbox.get("ServiceRequest/later/1") is None
            lab = TestLab("AA")
            await lab.start(port)
            sending = start_sending(restored_database, FAST)
            try:
                await until(lambda: outbox.of_order(pending), lambda e: statuses(e) == ["acknowledged"])
            finally:
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)
                await lab.stop()
            [message] = lab.received
            assert fields(message, "MSH")[10] == before.control_id  # the same message, not a new one
        finally:
            await target.client.drop_database(target.database_name)
            await target.close()

    asyncio.run(scenario())
