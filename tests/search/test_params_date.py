"""Date prefixes against stored ranges: partial dates, instants, periods and open periods."""

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

DATE = SearchParameterDef("date", "date", "http://hl7.org/fhir/SearchParameter/clinical-date", None, ("Observation",))
NOW = datetime(2026, 1, 1, tzinfo=UTC)
EARLIEST, LATEST = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def day(year: int, month: int, dd: int, hour: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, dd, hour, 0, second, tzinfo=UTC)


RANGES = {
    "day": (day(2020, 6, 15), day(2020, 6, 16)),  # 2020-06-15
    "month": (day(2020, 6, 1), day(2020, 7, 1)),  # 2020-06
    "instant": (day(2020, 6, 15, 10), day(2020, 6, 15, 10, 1)),  # 2020-06-15T10:00:00Z
    "year2019": (day(2019, 1, 1), day(2020, 1, 1)),  # 2019
    "period": (day(2020, 5, 20), day(2020, 7, 10)),  # Period 2020-05-20 .. 2020-07-09
    "open_end": (day(2020, 6, 10), LATEST),  # Period with start only
    "open_start": (EARLIEST, day(2020, 6, 20)),  # Period with end only
    "later": (day(2021, 3, 1), day(2021, 3, 2)),
    "nearby": (day(2020, 6, 17), day(2020, 6, 18)),
}


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(database.uri) as client:
        coll: Collection[dict[str, Any]] = client["params_tests"]["date"]
        coll.drop()
        coll.insert_many(
            [{"_id": name, "idx": [{"p": "date", "lo": lo, "hi": hi}]} for name, (lo, hi) in RANGES.items()]
        )
        coll.insert_one({"_id": "no_date", "idx": [{"p": "code", "c": "x"}]})
        yield coll


def found(collection: Collection[dict[str, Any]], *values: str, now: datetime = NOW) -> set[str]:
    return {doc["_id"] for doc in collection.find(compile_parameter(DATE, None, values, now=now), {"_id": 1})}


# Search value 2020-06 is the range [2020-06-01, 2020-07-01).
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-06", {"day", "month", "instant", "nearby"}),
        ("eq2020-06", {"day", "month", "instant", "nearby"}),
        ("ne2020-06", {"year2019", "period", "open_end", "open_start", "later"}),
        ("gt2020-06", {"period", "open_end", "later"}),
        ("lt2020-06", {"year2019", "period", "open_start"}),
        ("ge2020-06", {"period", "open_end", "later", "day", "month", "instant", "nearby"}),
        ("le2020-06", {"year2019", "period", "open_start", "day", "month", "instant", "nearby"}),
        ("sa2020-06", {"later"}),
        ("eb2020-06", {"year2019"}),
        ("2020-06-15", {"day", "instant"}),
        ("2020-06-15T10:00:00Z", {"instant"}),
        ("2020-06-15T12:00:00+02:00", {"instant"}),
        ("sa2020-06-15", {"nearby", "later"}),
        ("eb2020-06-15", {"year2019"}),
        ("ge2020-06-16", {"month", "period", "open_end", "open_start", "later", "nearby"}),
        ("le2020-06-14", {"year2019", "period", "open_start", "open_end", "month"}),
        ("2020", {"day", "month", "instant", "period", "nearby"}),
    ],
)
def test_prefixes(collection: Collection[dict[str, Any]], value: str, expected: set[str]) -> None:
    assert found(collection, value) == expected


def test_ap_widens_by_a_tenth_of_the_gap_to_now(collection: Collection[dict[str, Any]]) -> None:
    # 16 days from now: 1.6 days either side, [2020-06-13T14:24, 2020-06-17T14:24).
    near = {"day", "month", "instant", "period", "open_end", "open_start", "nearby"}
    assert found(collection, "ap2020-06-15", now=day(2020, 7, 1)) == near
    assert found(collection, "ap2020-06-15", now=day(2020, 6, 15)) == near - {"nearby"}


def test_values_are_ored(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, "2019", "sa2020-12") == {"year2019", "later"}


def test_missing(collection: Collection[dict[str, Any]]) -> None:
    query = compile_parameter(DATE, "missing", ("true",), now=NOW)
    assert {doc["_id"] for doc in collection.find(query)} == {"no_date"}


@pytest.mark.parametrize(
    ("modifier", "value"),
    [
        (None, "2020-13"),
        (None, "2020-02-30"),
        (None, "xx2020"),
        (None, "GE2020"),
        (None, "ge"),
        (None, "yesterday"),
        (None, "2020-06-15T25:00:00Z"),
        ("exact", "2020"),
        ("not", "2020"),
    ],
)
def test_bad_values_name_the_parameter(modifier: str | None, value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_parameter(DATE, modifier, (value,), now=NOW)
    assert caught.value.issues[0].expression == "date"


def test_unknown_prefix_is_reported_as_such() -> None:
    with pytest.raises(InvalidRequest, match="prefix 'xx'"):
        compile_parameter(DATE, None, ("xx2020",), now=NOW)
