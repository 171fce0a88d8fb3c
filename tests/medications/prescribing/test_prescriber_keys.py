"""The prescribers' key store on the embedded database: one key per user, made once; after a restore
(public halves only) a user gets a new key and the old public key stays published."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient

from fhir_server.medications.prescribing.signature import key_of, sign, verify
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.prescriber_keys import SECRETS, PrescriberKeys

DATABASE = "fhir_prescriber_keys_tests"


async def _scenario(uri: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        await client.drop_database(DATABASE)
        keys = PrescriberKeys(client, DATABASE)
        await keys.ensure_indexes()
        first, again = await asyncio.gather(key_of(keys, "Practitioner/a"), key_of(PrescriberKeys(client, DATABASE),
                                                                               "Practitioner/a"))  # fmt: skip
        assert first.kid == again.kid  # two first signings at once settle on one key
        token = sign(first, {"resourceType": "MedicationRequest", "id": "1"})
        await client[DATABASE][SECRETS].delete_many({})  # what a restore gives back: public halves only
        renewed = await key_of(PrescriberKeys(client, DATABASE), "Practitioner/a")
        assert renewed.kid != first.kid
        jwks = await keys.public_keys()
        assert {k["kid"] for k in jwks} == {first.kid, renewed.kid}
        assert verify(token, jwks, {"resourceType": "MedicationRequest", "id": "1"})  # old signatures still verify
        assert "d" not in jwks[0] and "d" not in jwks[1]  # no private part is published
    finally:
        await client.drop_database(DATABASE)
        await client.close()


def test_one_key_per_prescriber_and_a_new_one_after_a_restore(database: EmbeddedDatabase) -> None:
    asyncio.run(_scenario(database.uri))
