"""`fhir-server user add` refuses a fhirUser that is not stored; `fhir-server client list` prints a table."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from fhir_server import engine
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from tests.conftest import TEST_POLICY
from tests.test_cli_import_export import cli


def put(uri: str, name: str, *resources: dict[str, Any], delete: tuple[str, ...] = ()) -> None:
    """Store `resources` (with their ids) in database `name` through the engine; then delete `delete` refs."""

    async def work() -> None:
        store = MongoResourceStore.connect(uri, name)
        try:
            await store.ensure_indexes()
            for resource in resources:
                await engine.update_resource(store, TEST_POLICY, resource["resourceType"], resource["id"], resource)
            for reference in delete:
                await engine.delete_resource(store, TEST_POLICY, *reference.split("/"))
        finally:
            await store.close()

    asyncio.run(work())


def test_user_add_refuses_a_fhir_user_that_is_not_stored(database: EmbeddedDatabase) -> None:
    name = f"cli_accounts_{uuid.uuid4().hex[:8]}"
    put(database.uri, name, {"resourceType": "Practitioner", "id": "dr-1"}, {"resourceType": "Patient", "id": "gone"},
        delete=("Patient/gone",))  # fmt: skip
    where = ["--mongodb-uri", database.uri, "--database", name, "--password-stdin"]
    cases = [
        ("Practitioner/doesnotexist", "There is no Practitioner/doesnotexist; create it first"),
        ("Patient/gone", "Patient/gone was deleted"),
        ("Device/dr-1", "must be a reference like Practitioner/1"),
        ("Observation/dr-1", "must be a reference like Practitioner/1"),
    ]
    for reference, message in cases:
        done = cli("user", "add", "someone", "--role", "nurse", "--fhir-user", reference, *where, input="long enough\n")
        assert done.returncode == 1, (reference, done.stdout)
        assert message in done.stderr, (reference, done.stderr)
    assert cli("user", "list", *where[:4]).stdout == ""  # nothing was stored
    added = cli("user", "add", "someone", "--role", "nurse", "--fhir-user", "Practitioner/dr-1", *where,
                input="long enough\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert cli("user", "list", *where[:4]).stdout.splitlines() == ["someone\tnurse\tPractitioner/dr-1\tactive"]


def test_client_list_prints_a_table_like_user_list(database: EmbeddedDatabase) -> None:
    where = ["--mongodb-uri", database.uri, "--database", f"cli_accounts_{uuid.uuid4().hex[:8]}"]
    assert cli("client", "add", "--id", "chart-app", "--name", "Chart app", "--redirect-uri", "https://a.example/cb",
               "--scope", "user/*.rs", "--launch-url", "https://a.example/launch", *where).returncode == 0  # fmt: skip
    secret = cli("client", "add", "--id", "billing", "--kind", "symmetric", "--redirect-uri", "https://b.example/cb",
                 *where)  # fmt: skip
    assert secret.returncode == 0, secret.stderr
    listed = cli("client", "list", *where)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "billing\tsymmetric\tbilling\t-\t-",  # the name defaults to the id
        "chart-app\tpublic\tChart app\tuser/*.rs\thttps://a.example/launch",
    ]
    as_json = [json.loads(line) for line in cli("client", "list", "--json", *where).stdout.splitlines()]
    assert [c["client_id"] for c in as_json] == ["billing", "chart-app"]
    assert as_json[0]["token_endpoint_auth_method"] == "client_secret_basic" and "secret_hash" not in as_json[0]
