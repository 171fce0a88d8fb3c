"""Loading examples/demo makes the demo accounts `doctor` and `patient` once, beside the records they stand for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fhir_server import engine
from fhir_server.auth.passwords import hash_password, verify_password
from fhir_server.auth.roles import load_roles
from fhir_server.config import Settings
from fhir_server.loading import load_folder_into
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.users import MongoUserStore, User
from tests.conftest import TEST_POLICY

DATABASE = "demo_accounts_tests"


def SETTINGS(database: EmbeddedDatabase) -> Settings:  # noqa: N802
    return Settings(database=DATABASE).with_mongodb_uri(database.uri)


def test_demo_accounts_are_made_when_absent_and_left_alone_after(database: EmbeddedDatabase, repo_root: Path) -> None:
    folder = repo_root / "examples" / "demo"

    async def scenario() -> None:
        created = await load_folder_into(SETTINGS(database), folder, load_roles(None))
        assert created == len(list(folder.glob("*.json"))) - 1, "accounts.json is no resource"
        store = MongoResourceStore.connect(database.uri, DATABASE)
        try:
            users = MongoUserStore(store.client, DATABASE)
            doctor, patient = await users.get("doctor"), await users.get("patient")
            assert doctor is not None and (doctor.role, doctor.fhir_user) == ("physician", "Practitioner/example")
            assert patient is not None and (patient.role, patient.fhir_user) == ("patient", "Patient/example")
            assert verify_password("demo-only-doctor", doctor.password_hash)
            for reference in ("Practitioner/example", "Patient/example"):
                await engine.read_resource(store, TEST_POLICY, *reference.split("/"))

            await users.set_password("doctor", hash_password("changed by the demo user"))
            await users.remove("patient")
            assert await load_folder_into(SETTINGS(database), folder, load_roles(None)) == 0
            again = await users.get("doctor")
            assert again is not None and verify_password("changed by the demo user", again.password_hash)
            assert isinstance(await users.get("patient"), User)
        finally:
            await store.client.drop_database(DATABASE)
            await store.close()

    asyncio.run(scenario())
