"""Number search: implicit precision of the search value, prefixes on the stored point."""

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
from fhir_server.storage.codec import DECIMAL_TYPES

PROBABILITY = SearchParameterDef("probability", "number", "urn:probability", None, ("RiskAssessment",))
NOW = datetime(2026, 1, 1, tzinfo=UTC)
VALUES = {"a": 99.4, "b": 99.5, "c": 100.0, "d": 100.4, "e": 100.5, "f": 150.0, "g": 49.0, "h": -5.0}


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(database.uri, type_registry=DECIMAL_TYPES) as client:
        coll: Collection[dict[str, Any]] = client["params_tests"]["number"]
        coll.drop()
        coll.insert_many([{"_id": name, "idx": [{"p": "probability", "n": n}]} for name, n in VALUES.items()])
        coll.insert_one({"_id": "none", "idx": []})
        yield coll


def found(collection: Collection[dict[str, Any]], modifier: str | None, *values: str) -> set[str]:
    query = compile_parameter(PROBABILITY, modifier, values, now=NOW)
    return {doc["_id"] for doc in collection.find(query, {"_id": 1})}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", {"b", "c", "d"}),  # [99.5, 100.5)
        ("eq100", {"b", "c", "d"}),
        ("100.00", {"c"}),  # [99.995, 100.005)
        ("1e2", {"a", "b", "c", "d", "e"}),  # [50, 150)
        ("1.0E2", {"a", "b", "c", "d", "e"}),  # 2 significant figures: [95, 105)
        ("ne100", {"a", "e", "f", "g", "h"}),
        ("gt100", {"d", "e", "f"}),
        ("sa100", {"d", "e", "f"}),
        ("ge100", {"c", "d", "e", "f"}),
        ("lt100", {"a", "b", "g", "h"}),
        ("eb100", {"a", "b", "g", "h"}),
        ("le100", {"a", "b", "c", "g", "h"}),
        ("ap100", {"a", "b", "c", "d", "e"}),  # within 10%
        ("-5", {"h"}),
        ("ge-5.0", {"a", "b", "c", "d", "e", "f", "g", "h"}),
    ],
)
def test_prefixes(collection: Collection[dict[str, Any]], value: str, expected: set[str]) -> None:
    assert found(collection, None, value) == expected


def test_values_are_ored_and_missing(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, None, "49", "150") == {"f", "g"}
    assert found(collection, "missing", "true") == {"none"}


@pytest.mark.parametrize(
    ("modifier", "value"),
    [(None, "abc"), (None, "xx100"), (None, "1.2.3"), (None, "ge"), (None, "100|kg"), (None, "1e"), ("exact", "1")],
)
def test_bad_values_name_the_parameter(modifier: str | None, value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_parameter(PROBABILITY, modifier, (value,), now=NOW)
    assert caught.value.issues[0].expression == "probability"
