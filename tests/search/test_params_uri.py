"""URI search: equality, :below (stored URI under the value) and :above (stored URI an ancestor)."""

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

URL = SearchParameterDef("url", "uri", "urn:url", None, ("ValueSet",))
NOW = datetime(2026, 1, 1, tzinfo=UTC)
URIS = {
    "vs123": "http://acme.org/fhir/ValueSet/123",
    "vs124": "http://acme.org/fhir/ValueSet/124",
    "fhir": "http://acme.org/fhir/",
    "root": "http://acme.org",
    "other": "http://acme.org/other",
    "oid": "urn:oid:1.2.3",
}


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(database.uri) as client:
        coll: Collection[dict[str, Any]] = client["params_tests"]["uri"]
        coll.drop()
        coll.insert_many([{"_id": key, "idx": [{"p": "url", "u": u}]} for key, u in URIS.items()])
        yield coll


def found(collection: Collection[dict[str, Any]], modifier: str | None, *values: str) -> set[str]:
    query = compile_parameter(URL, modifier, values, now=NOW)
    return {doc["_id"] for doc in collection.find(query, {"_id": 1})}


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        (None, "http://acme.org/fhir/ValueSet/123", {"vs123"}),
        (None, "http://acme.org/fhir/ValueSet/12", set()),
        ("below", "http://acme.org/fhir/", {"vs123", "vs124", "fhir"}),
        ("below", "http://acme.org/fhir/ValueSet/12", {"vs123", "vs124"}),
        ("above", "http://acme.org/fhir/ValueSet/123/_history/5", {"vs123", "fhir", "root"}),
        ("above", "urn:oid:1.2.3", {"oid"}),
        ("missing", "false", set(URIS)),
    ],
)
def test_uri_matching(
    collection: Collection[dict[str, Any]], modifier: str | None, value: str, expected: set[str]
) -> None:
    assert found(collection, modifier, value) == expected


@pytest.mark.parametrize("modifier", ["contains", "exact", "not", "text"])
def test_bad_modifiers_name_the_parameter(modifier: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_parameter(URL, modifier, ("http://acme.org",), now=NOW)
    assert caught.value.issues[0].expression == "url"
