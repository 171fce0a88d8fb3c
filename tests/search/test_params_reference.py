"""Reference search: bare ids over the target types, Type/id, :[type], versions, URLs, canonicals, :identifier."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from fhir_server.errors import InvalidRequest
from fhir_server.search.definitions import SearchParameterDef
from fhir_server.search.params import compile_parameter
from fhir_server.storage import EmbeddedDatabase

SUBJECT = SearchParameterDef("subject", "reference", "urn:subject", None, ("Observation",), ("Patient", "Group"))
ANY = SearchParameterDef("focus", "reference", "urn:focus", None, ("Observation",))
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ENTRIES: dict[str, dict[str, Any]] = {
    "patient": {"r": "Patient/123", "ty": "Patient"},
    "group": {"r": "Group/123", "ty": "Group"},
    "versioned": {"r": "Patient/456", "ty": "Patient", "rv": "2"},
    "remote": {"r": "http://other.org/fhir/Patient/123"},
    "by_identifier": {"ri": True, "s": "urn:mrn", "c": "42"},
    "canonical": {"r": "http://x.org/ValueSet/vs", "rv": "1.0"},
}


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(database.uri) as client:
        coll: Collection[dict[str, Any]] = client["params_tests"]["reference"]
        coll.drop()
        coll.insert_many(
            [{"_id": key, "idx": [{"p": "subject", **e}, {"p": "focus", **e}]} for key, e in ENTRIES.items()]
        )
        coll.insert_one({"_id": "unreferenced", "idx": []})
        yield coll


def found(
    collection: Collection[dict[str, Any]], modifier: str | None, *values: str, definition: SearchParameterDef = SUBJECT
) -> set[str]:
    query = compile_parameter(definition, modifier, values, now=NOW, base_url="http://me.org/fhir/")
    return {doc["_id"] for doc in collection.find(query, {"_id": 1})}


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        (None, "123", {"patient", "group"}),
        (None, "Patient/123", {"patient"}),
        ("Patient", "123", {"patient"}),
        ("Group", "123", {"group"}),
        ("Group", "Group/123", {"group"}),
        (None, "Patient/456", {"versioned"}),
        (None, "Patient/456/_history/2", {"versioned"}),
        (None, "Patient/456/_history/3", set()),
        (None, "http://me.org/fhir/Patient/123", {"patient"}),
        (None, "http://other.org/fhir/Patient/123", {"remote"}),
        (None, "http://x.org/ValueSet/vs|1.0", {"canonical"}),
        (None, "http://x.org/ValueSet/vs", {"canonical"}),
        (None, "http://x.org/ValueSet/vs|2.0", set()),
        ("identifier", "urn:mrn|42", {"by_identifier"}),
        ("identifier", "42", {"by_identifier"}),
        ("missing", "true", {"unreferenced"}),
    ],
)
def test_reference_forms(
    collection: Collection[dict[str, Any]], modifier: str | None, value: str, expected: set[str]
) -> None:
    assert found(collection, modifier, value) == expected


def test_bare_id_without_declared_targets(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, None, "123", definition=ANY) == {"patient", "group"}


def test_values_are_ored(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, None, "Group/123", "Patient/456") == {"group", "versioned"}


@pytest.mark.parametrize(
    ("modifier", "value"),
    [
        (None, "Patient/"),
        (None, "patient/123"),
        (None, "bad id!"),
        (None, "Observation/1"),  # not a target of subject
        (None, "http://x.org/vs|1|2"),
        ("Device", "1"),
        ("Patient", "Group/123"),
        ("above", "http://x.org/ValueSet/vs"),
        ("below", "http://x.org/ValueSet/vs"),
        ("exact", "123"),
        ("identifier", "a|b|c"),
    ],
)
def test_bad_values_name_the_parameter(modifier: str | None, value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_parameter(SUBJECT, modifier, (value,), now=NOW)
    assert caught.value.issues[0].expression == "subject"
