"""Composite search: every part must hold within the same entry, each compiled by its component's type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from fhir_server.errors import InvalidRequest
from fhir_server.search.definitions import Component, SearchParameterDef
from fhir_server.search.params import compile_parameter
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.codec import DECIMAL_TYPES

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
BASE = "http://hl7.org/fhir/SearchParameter/"
COMPONENTS = {
    BASE + "clinical-code": SearchParameterDef("code", "token", BASE + "clinical-code", None, ("Observation",)),
    BASE + "Observation-value-quantity": SearchParameterDef(
        "value-quantity", "quantity", BASE + "Observation-value-quantity", None, ("Observation",)
    ),
    BASE + "Observation-value-date": SearchParameterDef(
        "value-date", "date", BASE + "Observation-value-date", None, ("Observation",)
    ),
}
CODE_QUANTITY = SearchParameterDef(
    "code-value-quantity", "composite", BASE + "Observation-code-value-quantity", None, ("Observation",),
    components=(Component(BASE + "clinical-code", "code"), Component(BASE + "Observation-value-quantity", "value")),
)  # fmt: skip
CODE_DATE = SearchParameterDef(
    "code-value-date", "composite", BASE + "Observation-code-value-date", None, ("Observation",),
    components=(Component(BASE + "clinical-code", "code"), Component(BASE + "Observation-value-date", "value")),
)  # fmt: skip
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def pressure(code: str, value: float) -> dict[str, Any]:
    quantity = {"n": value, "s": UCUM, "c": "mm[Hg]", "cn": value * 133322.0, "cc": "g.m-1.s-2"}
    return {"p": "code-value-quantity", "k": [{"s": LOINC, "c": code}, quantity]}


def dated(code: str, day: int) -> dict[str, Any]:
    lo, hi = datetime(2020, 6, day, tzinfo=UTC), datetime(2020, 6, day + 1, tzinfo=UTC)
    return {"p": "code-value-date", "k": [{"s": LOINC, "c": code}, {"lo": lo, "hi": hi}]}


DOCS = [
    {"_id": "high_systolic", "idx": [pressure("8480-6", 120)]},
    {"_id": "high_diastolic", "idx": [pressure("8462-4", 80)]},
    {"_id": "crossed", "idx": [pressure("8480-6", 80), pressure("8462-4", 120)]},
    {"_id": "dated", "idx": [dated("1111-1", 15), dated("2222-2", 20)]},
]


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(database.uri, type_registry=DECIMAL_TYPES) as client:
        coll: Collection[dict[str, Any]] = client["params_tests"]["composite"]
        coll.drop()
        coll.insert_many(DOCS)
        yield coll


def found(collection: Collection[dict[str, Any]], definition: SearchParameterDef, *values: str) -> set[str]:
    query = compile_parameter(definition, None, values, now=NOW, resolve_component=COMPONENTS.get)
    return {doc["_id"] for doc in collection.find(query, {"_id": 1})}


@pytest.mark.parametrize(
    ("definition", "value", "expected"),
    [
        (CODE_QUANTITY, f"{LOINC}|8480-6$gt100", {"high_systolic"}),
        (CODE_QUANTITY, "8480-6$lt100", {"crossed"}),
        (CODE_QUANTITY, f"8480-6$120|{UCUM}|mm[Hg]", {"high_systolic"}),
        (CODE_QUANTITY, "8462-4$ne80", {"crossed"}),
        (CODE_QUANTITY, "9999-9$120", set()),
        (CODE_DATE, "1111-1$2020-06-15", {"dated"}),
        (CODE_DATE, "1111-1$2020-06-20", set()),
        (CODE_DATE, "2222-2$ge2020-06-20", {"dated"}),
        (CODE_DATE, "1111-1$ne2020-06-15", set()),
    ],
)
def test_parts_hold_in_the_same_entry(
    collection: Collection[dict[str, Any]], definition: SearchParameterDef, value: str, expected: set[str]
) -> None:
    assert found(collection, definition, value) == expected


def test_values_are_ored(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, CODE_QUANTITY, "8480-6$gt100", "8462-4$gt100") == {"high_systolic", "crossed"}


@pytest.mark.parametrize(
    ("value", "resolver"),
    [
        ("8480-6", COMPONENTS.get),
        ("8480-6$1$2", COMPONENTS.get),
        ("8480-6$abc", COMPONENTS.get),
        ("8480-6$xx5", COMPONENTS.get),
        ("8480-6$120", None),
        ("8480-6$120", lambda url: None),
    ],
)
def test_bad_values_name_the_parameter(value: str, resolver: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_parameter(CODE_QUANTITY, None, (value,), now=NOW, resolve_component=resolver)
    assert caught.value.issues[0].expression == "code-value-quantity"


def test_escaped_dollar_stays_in_the_part() -> None:
    query = compile_parameter(CODE_QUANTITY, None, ("a\\$b$1",), now=NOW, resolve_component=COMPONENTS.get)
    assert query["idx"]["$elemMatch"]["k.0.c"] == "a$b"
