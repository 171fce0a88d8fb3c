"""String search: normalized starts-with by default, :exact on the original, :contains substring."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from fhir_server.errors import InvalidRequest
from fhir_server.search.definitions import SearchParameterDef
from fhir_server.search.normalize import normalize_string
from fhir_server.search.params import compile_parameter
from fhir_server.storage import EmbeddedDatabase

NAME = SearchParameterDef("name", "string", "urn:name", None, ("Patient",))
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = {"mueller": "Müller", "mullerson": "Mullerson", "berg": "van der  Berg", "special": "A.B*C (x)"}


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(database.uri) as client:
        coll: Collection[dict[str, Any]] = client["params_tests"]["string"]
        coll.drop()
        coll.insert_many(
            [{"_id": key, "idx": [{"p": "name", "v": normalize_string(n), "e": n}]} for key, n in NAMES.items()]
        )
        coll.insert_one({"_id": "nameless", "idx": []})
        yield coll


def found(collection: Collection[dict[str, Any]], modifier: str | None, *values: str) -> set[str]:
    query = compile_parameter(NAME, modifier, values, now=NOW)
    return {doc["_id"] for doc in collection.find(query, {"_id": 1})}


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        (None, "MÜLLER", {"mueller", "mullerson"}),
        (None, "mul", {"mueller", "mullerson"}),
        (None, "ller", set()),
        (None, "Van  Der b", {"berg"}),
        (None, "a.b*c (", {"special"}),
        (None, "a.b.c", set()),
        ("exact", "Müller", {"mueller"}),
        ("exact", "muller", set()),
        ("contains", "LER", {"mueller", "mullerson"}),
        ("contains", "der b", {"berg"}),
        ("contains", "*c (", {"special"}),
        ("missing", "true", {"nameless"}),
    ],
)
def test_string_matching(
    collection: Collection[dict[str, Any]], modifier: str | None, value: str, expected: set[str]
) -> None:
    assert found(collection, modifier, value) == expected


def test_values_are_ored(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, None, "van", "a.") == {"berg", "special"}


@pytest.mark.parametrize("modifier", ["text", "not", "below", "Patient", "missing"])
def test_bad_modifiers_name_the_parameter(modifier: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_parameter(NAME, modifier, ("x",), now=NOW)
    assert caught.value.issues[0].expression == "name"
