"""Parameters that share search keys (`family` with `name`, `address-city` with `address`, `phone` with
`telecom` ...) find exactly their own matches: a value held under the other parameter, or under a sibling
sharing the same keys, is a candidate the full filter drops."""

from __future__ import annotations

import uuid

import httpx
import pytest

from fhir_server.search.extract import extract_index
from fhir_server.search.keys import SHARED_KEYS, resource_keys


def _patient(client: httpx.Client, **fields: object) -> str:
    response = client.post("/Patient", json={"resourceType": "Patient", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _found(client: httpx.Client, query: str) -> set[str]:
    response = client.get(f"/Patient?{query}&_count=50")
    assert response.status_code == 200, response.text
    return {entry["resource"]["id"] for entry in response.json().get("entry", [])}


@pytest.fixture()
def word() -> str:
    """A value no other test stores, so the searches see only this test's Patients."""
    return "w" + uuid.uuid4().hex[:10]


def test_name_parts_and_their_name_find_only_their_own(client: httpx.Client, word: str) -> None:
    family = _patient(client, name=[{"family": word, "given": ["Ann"]}])
    given = _patient(client, name=[{"family": "Other", "given": [word]}])
    prefix = _patient(client, name=[{"family": "Third", "prefix": [word]}])
    city = _patient(client, address=[{"city": word}])
    assert _found(client, f"family={word}") == {family}
    assert _found(client, f"given={word}") == {given}
    assert _found(client, f"name={word}") == {family, given, prefix}
    assert _found(client, f"phonetic={word}") == {family, given, prefix}
    assert _found(client, f"family={word[:6]}") == {family}, "a prefix of a shared key"
    assert _found(client, f"family:exact={word}") == {family}
    assert _found(client, f"address={word}") == {city}


def test_address_parts_find_only_their_own(client: httpx.Client, word: str) -> None:
    city = _patient(client, address=[{"city": word}])
    state = _patient(client, address=[{"state": word}])
    postal = _patient(client, address=[{"postalCode": word}])
    country = _patient(client, address=[{"country": word}])
    line = _patient(client, address=[{"line": [word]}])
    assert _found(client, f"address-city={word}") == {city}
    assert _found(client, f"address-state={word}") == {state}
    assert _found(client, f"address-postalcode={word}") == {postal}
    assert _found(client, f"address-country={word}") == {country}
    assert _found(client, f"address={word}") == {city, state, postal, country, line}
    assert _found(client, f"address-city={word}&address-state={word}") == set()


def test_phone_and_email_find_only_their_system(client: httpx.Client, word: str) -> None:
    phone = _patient(client, telecom=[{"system": "phone", "value": word}])
    email = _patient(client, telecom=[{"system": "email", "value": word}])
    fax = _patient(client, telecom=[{"system": "fax", "value": word}])
    assert _found(client, f"phone={word}") == {phone}
    assert _found(client, f"email={word}") == {email}
    assert _found(client, f"telecom={word}") == {phone, email, fax}
    assert _found(client, f"phone={word},other") == {phone}


def test_a_patient_carries_each_shared_value_once() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "name": [{"family": "Shaw", "given": ["Amy"]}],
        "address": [{"city": "Boston", "state": "MA"}],
        "telecom": [{"system": "phone", "value": "555"}, {"system": "email", "value": "a@b.org"}],
    }
    keys = extract_index(patient).keys
    assert not [k for k in keys if k.split("|")[1] in SHARED_KEYS], keys
    assert {"Patient|name|vshaw", "Patient|name|vamy", "Patient|address|vboston", "Patient|telecom|c555"} <= set(keys)
    assert resource_keys("Patient", [{"p": "family", "v": "x", "e": "X"}]) == ["Patient|name|vx"]
