"""Quantity search: UCUM-canonical comparison, system|code, ||code (code or unit) and number alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from fhir_server.errors import InvalidRequest
from fhir_server.search.definitions import SearchParameterDef
from fhir_server.search.params import compile_parameter
from fhir_server.search.values import quantity
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.codec import DECIMAL_TYPES

UCUM, OTHER = "http://unitsofmeasure.org", "http://other.org/units"
VALUE = SearchParameterDef("value-quantity", "quantity", "urn:value-quantity", None, ("Observation",))
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def entry(n: str, system: str | None, code: str | None, unit: str | None) -> dict[str, Any]:
    """The entry extraction writes, with the canonical form for UCUM quantities."""
    value = {"value": Decimal(n), "system": system, "code": code, "unit": unit}
    (out,) = quantity({k: v for k, v in value.items() if v is not None}, "Quantity", ())
    return {"p": "value-quantity", **out}


DOCS = {
    "mg_per_l": entry("54", UCUM, "mg/L", "mg/L"),
    "mg_per_dl": entry("5.4", UCUM, "mg/dL", "mg/dL"),
    "other_system": entry("5.4", OTHER, "mg/dL", "mg/dL"),
    "unit_only": entry("5.4", None, None, "mg/dL"),
    "seven_unit_only": entry("7", None, None, "mg/dL"),
    "kilograms": entry("100", UCUM, "kg", "kg"),
    "per_minute": entry("1", UCUM, "/min", "/min"),
}


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(database.uri, type_registry=DECIMAL_TYPES) as client:
        coll: Collection[dict[str, Any]] = client["params_tests"]["quantity"]
        coll.drop()
        coll.insert_many([{"_id": name, "idx": [e]} for name, e in DOCS.items()])
        yield coll


def found(collection: Collection[dict[str, Any]], *values: str) -> set[str]:
    query = compile_parameter(VALUE, None, values, now=NOW)
    return {doc["_id"] for doc in collection.find(query, {"_id": 1})}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"5.4|{UCUM}|mg/dL", {"mg_per_l", "mg_per_dl"}),
        (f"0.054|{UCUM}|g/L", {"mg_per_l", "mg_per_dl"}),
        (f"lt1|{UCUM}|g/L", {"mg_per_l", "mg_per_dl"}),
        (f"gt1|{UCUM}|g/L", set()),
        (f"220|{UCUM}|[lb_av]", {"kilograms"}),
        (f"ap0.1|{UCUM}|t", {"kilograms"}),
        (f"5.4|{OTHER}|mg/dL", {"other_system"}),
        (f"5.4|{OTHER}|", {"other_system"}),
        ("5.4||mg/dL", {"mg_per_dl", "other_system", "unit_only"}),
        ("ne5.4||mg/dL", {"seven_unit_only"}),
        ("5.4", {"mg_per_dl", "other_system", "unit_only"}),
        ("ge54", {"mg_per_l", "kilograms"}),
        ("5.4||mg\\|dL", set()),
        (f"ge60|{UCUM}|/h", {"per_minute"}),  # 1/min is exactly 60/h: rounded alike, found by ge and le
        (f"le60|{UCUM}|/h", {"per_minute"}),
        (f"gt60|{UCUM}|/h", set()),
        (f"0.01666666666666666666666666666666667|{UCUM}|/s", {"per_minute"}),
    ],
)
def test_quantity_forms(collection: Collection[dict[str, Any]], value: str, expected: set[str]) -> None:
    assert found(collection, value) == expected


def test_values_are_ored(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, "7||mg/dL", f"100|{UCUM}|kg") == {"seven_unit_only", "kilograms"}


@pytest.mark.parametrize(
    ("modifier", "value"),
    [
        (None, f"5.4|{UCUM}"),
        (None, "5.4|a|b|c"),
        (None, "abc||mg"),
        (None, "xx5.4"),
        (None, "|mg"),
        ("exact", "5.4"),
        ("missing", "yes"),
    ],
)
def test_bad_values_name_the_parameter(modifier: str | None, value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_parameter(VALUE, modifier, (value,), now=NOW)
    assert caught.value.issues[0].expression == "value-quantity"
