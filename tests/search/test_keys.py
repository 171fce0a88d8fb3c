"""The search keys (search/keys.py): encodings that sort as their values do, and drivers that find every match.

The drivers are checked on the real database: every resource the full filter matches must be
among the candidates the driver's keys find.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from fhir_server.search.keys import TEXT_LIMIT, entry_keys, instant_key, number_key, resource_keys
from fhir_server.search.normalize import normalize_string
from fhir_server.search.plan import plan_filter
from fhir_server.search.values import EARLIEST, LATEST
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.codec import DECIMAL_TYPES

NUMBERS = [
    -sys.float_info.max, -1e300, -123456.789, -100.0, -1.5, -1.0, -0.5, -1e-300, -sys.float_info.min,
    0.0, sys.float_info.min, 1e-300, 0.001, 0.5, 1.0, 1.0000000000000002, 1.5, 2.0, 99.5, 100.0, 100.5,
    1e15, 2.0**53, 1e300, sys.float_info.max,
]  # fmt: skip


def test_number_keys_sort_as_the_numbers() -> None:
    keys = [number_key(n) for n in NUMBERS]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_number_keys_sort_as_random_numbers() -> None:
    rng = random.Random(4)
    numbers = [rng.uniform(-1e6, 1e6) for _ in range(2000)] + [float(rng.randint(-1000, 1000)) for _ in range(500)]
    assert sorted(numbers, key=number_key) == sorted(numbers)


def test_negative_zero_is_zero() -> None:
    assert number_key(-0.0) == number_key(0.0)


def test_round_numbers_have_short_keys() -> None:
    assert len(number_key(1.0)) < 16
    assert len(number_key(120.0)) < 16


def test_instant_keys_are_fixed_width_and_sort_as_the_instants() -> None:
    moments = [
        EARLIEST,
        datetime(1, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
        datetime(999, 12, 31, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2020, 2, 29, 12, 30, tzinfo=UTC),
        datetime(2020, 2, 29, 12, 30, 0, 1000, tzinfo=UTC),
        LATEST,
    ]
    keys = [instant_key(m) for m in moments]
    assert keys == sorted(keys)
    assert {len(k) for k in keys} == {17}
    assert instant_key(LATEST) == "99991231235959999"


def test_instant_keys_are_utc_and_cut_to_the_millisecond() -> None:
    plus_two = datetime(2020, 1, 1, 4, 0, tzinfo=timezone(timedelta(hours=2)))
    assert instant_key(plus_two) == "20200101020000000"
    assert instant_key(datetime(2020, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)) == "20200101000000999"


def test_entry_keys_name_type_parameter_and_kind() -> None:
    assert entry_keys("Observation", {"p": "code", "s": "http://loinc.org", "c": "8867-4"}) == [
        "Observation|code|c8867-4"
    ]
    assert entry_keys("Observation", {"p": "subject", "r": "Patient/1", "ty": "Patient"}) == [
        "Observation|subject|rPatient/1"
    ]
    assert entry_keys("Patient", {"p": "name", "v": "eve", "e": "Eve"}) == ["Patient|name|veve"]
    lo, hi = datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC)
    assert entry_keys("Encounter", {"p": "date", "lo": lo, "hi": hi}) == [
        "Encounter|date|l20200101000000000",
        "Encounter|date|h20200102000000000",
    ]
    quantity = {"p": "value-quantity", "n": 5.4, "s": "http://unitsofmeasure.org", "c": "mg/dL", "cn": 54.0}
    assert entry_keys("Observation", quantity) == [
        f"Observation|value-quantity|n{number_key(5.4)}",
        f"Observation|value-quantity|q{number_key(54.0)}",
    ]
    assert entry_keys("Observation", {"p": "code", "s": None, "c": None, "t": "text only"}) == []
    assert entry_keys("Observation", {"p": "combo", "k": [{"c": "x"}]}) == []


def test_long_text_is_cut_and_keys_are_unique() -> None:
    long = "x" * 200
    entries = [{"p": "url", "u": long}, {"p": "url", "u": long + "y"}]
    assert resource_keys("ValueSet", entries) == ["ValueSet|url|u" + "x" * TEXT_LIMIT]


# Drivers against the database: the full filter's matches are always among the driver's candidates.

DAY = timedelta(days=1)
ORIGIN = datetime(2020, 1, 1, tzinfo=UTC)


def _entries(n: int) -> list[dict[str, Any]]:
    lo = ORIGIN + timedelta(hours=7 * n, milliseconds=n % 3)
    value = (n - 50) * Decimal("1.25")
    name = f"Name{n % 13}" + "Z" * (n % 2) * 70
    return [
        {"p": "date", "lo": lo, "hi": lo + timedelta(seconds=1 + n % 5) if n % 4 else lo + 40 * DAY},
        {"p": "value", "n": value, "s": "http://unitsofmeasure.org", "c": "mg", "cn": value / 1000, "cc": "g"},
        {"p": "name", "v": normalize_string(name), "e": name},
        {"p": "code", "s": f"urn:s{n % 2}", "c": f"c{n % 7}"},
        {"p": "subject", "r": f"Patient/{n % 5}"},
        {"p": "url", "u": f"http://example.org/{n % 3}/vs"},
        {"p": "status", "s": "http://hl7.org/fhir/observation-status", "c": ("final", "amended", "cancelled")[n % 3]},
    ]


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(database.uri, tz_aware=True, type_registry=DECIMAL_TYPES)
    coll = client["search_keys_test"]["resources"]
    coll.drop()
    coll.create_index("keys")
    docs = []
    for n in range(120):
        entries = _entries(n)
        docs.append({"_id": f"Observation/{n}", "idx": entries, "keys": resource_keys("Observation", entries)})
    for n, value in enumerate(("0.1", "0.1000000000000000055")):
        entries = [{"p": "exact", "n": Decimal(value)}]
        docs.append({"_id": f"Observation/exact{n}", "idx": entries, "keys": resource_keys("Observation", entries)})
    coll.insert_many(docs)
    yield coll
    client.drop_database("search_keys_test")
    client.close()


def _match(condition: dict[str, Any]) -> dict[str, Any]:
    return {"idx": {"$elemMatch": condition}}


CLAUSES = [
    {"p": "date", "lo": {"$gte": ORIGIN + 10 * DAY}, "hi": {"$lte": ORIGIN + 12 * DAY}},
    {"p": "date", "hi": {"$gt": ORIGIN + 20 * DAY + timedelta(microseconds=500)}},
    {"p": "date", "lo": {"$lt": ORIGIN + 3 * DAY + timedelta(microseconds=1500)}},
    {"p": "date", "lo": {"$gte": ORIGIN + 14 * DAY + timedelta(hours=7, microseconds=300)}},
    {"p": "date", "hi": {"$lte": ORIGIN + 2 * DAY + timedelta(microseconds=999)}},
    {
        "p": "date",
        "hi": {"$gt": ORIGIN + 9 * DAY},
        "$or": [{"lo": {"$lt": ORIGIN}}, {"hi": {"$gt": ORIGIN + 10 * DAY}}],
    },
    {"p": "value", "n": {"$gte": Decimal("-10.0"), "$lt": Decimal(10)}},
    {"p": "value", "n": {"$lt": Decimal("-30.0")}},
    {"p": "value", "n": {"$gt": Decimal("0.0")}},
    {"p": "value", "n": {"$lte": 0}},
    {"p": "value", "cc": "g", "cn": {"$gte": Decimal("0.01"), "$lte": Decimal("0.02")}},
    {"p": "value", "s": "http://unitsofmeasure.org", "c": "mg", "n": {"$gt": Decimal("50.0")}},
    # Decimals one float apart from none: keys must take in the ends of the range.
    {"p": "exact", "n": {"$gt": Decimal("0.1")}},
    {"p": "exact", "n": {"$lt": Decimal("0.1000000000000000055")}},
    {"p": "name", "v": {"$regex": "^name1"}},
    {"p": "name", "v": {"$regex": "^name1" + "z" * 70}},
    {"p": "name", "e": "Name3"},
    {"p": "code", "s": "urn:s1", "c": "c3"},
    {"p": "code", "c": {"$in": ["c1", "c2"]}},
    {"p": "subject", "r": "Patient/2"},
    {"p": "subject", "r": {"$in": ["Patient/3", "Group/3"]}},
    {"p": "url", "u": {"$regex": "^http://example\\.org/1"}},
    {"p": "url", "u": {"$in": ["http://example.org/2/vs", "http://example.org/2"]}},
]


@pytest.mark.parametrize("condition", CLAUSES, ids=[str(c)[:60] for c in CLAUSES])
def test_driver_finds_every_match(collection: Collection[dict[str, Any]], condition: dict[str, Any]) -> None:
    clause = _match(condition)
    driver = plan_filter("Observation", [clause]).driver
    assert driver is not None and set(driver) == {"keys"}, driver
    matches = {doc["_id"] for doc in collection.find(clause)}
    candidates = {doc["_id"] for doc in collection.find(driver)}
    assert matches, "the clause should match something"
    assert matches <= candidates, f"the driver misses {sorted(matches - candidates)}"
    # A range's bounds may hold in different keys of one resource, so this much relies on the embedded
    # database scanning its index between both bounds (MongoDB would want `$elemMatch`: see keys.py).
    assert len(candidates) < collection.count_documents({}), "the driver should narrow the candidates"


def test_driver_prefers_equality_over_ranges() -> None:
    date = _match({"p": "date", "lo": {"$gte": ORIGIN}})
    subject = _match({"p": "subject", "r": "Patient/1"})
    assert plan_filter("Observation", [date, subject]).driver == {"keys": "Observation|subject|rPatient/1"}


def test_clauses_without_a_key_do_not_drive() -> None:
    assert plan_filter("Observation", [_match({"p": "name", "v": {"$regex": "ame"}})]).driver is None
    assert plan_filter("Observation", [_match({"p": "code", "t": {"$regex": "^glu"}})]).driver is None
    assert plan_filter("Observation", [_match({"p": "combo", "k.0.c": "x"})]).driver is None


# A patient reference and a status together drive by their pair key (keys.py): only the patient's
# resources in that status are candidates, however many others of the type the patient has.

PAIRED = [
    [_match({"p": "subject", "r": "Patient/2"}), _match({"p": "status", "c": "final"})],
    [
        _match({"p": "subject", "r": {"$in": ["Patient/1", "Patient/4"]}}),
        {"$or": [_match({"p": "status", "c": "final"}), _match({"p": "status", "c": "amended"})]},
    ],
    [_match({"p": "status", "s": "http://hl7.org/fhir/observation-status", "c": "cancelled"}),
     _match({"p": "subject", "r": "Patient/0"}), _match({"p": "code", "c": {"$in": ["c1", "c2", "c3"]}})],
]  # fmt: skip


@pytest.mark.parametrize("clauses", PAIRED, ids=[str(c)[:60] for c in PAIRED])
def test_a_patient_and_a_status_drive_by_their_pair(
    collection: Collection[dict[str, Any]], clauses: list[dict[str, Any]]
) -> None:
    plan = plan_filter("Observation", clauses)
    assert plan.driver is not None and "+status|" in str(plan.driver["keys"]), plan.driver
    matches = {doc["_id"] for doc in collection.find(plan.criteria)}
    candidates = {doc["_id"] for doc in collection.find(plan.driver)}
    both = {doc["_id"] for doc in collection.find({"$and": clauses[:2]})}
    assert matches and matches <= candidates == both  # exactly the patient's resources in those statuses


def test_the_pair_key_is_kept_beside_the_single_keys() -> None:
    entries = [{"p": "patient", "r": "Patient/1"}, {"p": "status", "c": "active"}, {"p": "status", "c": "x" * 99}]
    assert resource_keys("MedicationRequest", entries) == [
        "MedicationRequest|patient|rPatient/1",
        "MedicationRequest|status|cactive",
        "MedicationRequest|status|c" + "x" * TEXT_LIMIT,
        "MedicationRequest|patient+status|Patient/1|active",
        "MedicationRequest|patient+status|Patient/1|" + "x" * TEXT_LIMIT,
    ]


def test_no_pair_drives_when_either_side_is_not_an_equality() -> None:
    patient = _match({"p": "patient", "r": "Patient/1"})
    not_active = {"idx": {"$not": {"$elemMatch": {"p": "status", "c": "active"}}}}
    status_text = _match({"p": "status", "t": {"$regex": "^act"}})
    performer = _match({"p": "performer", "r": "Practitioner/1"})
    status = _match({"p": "status", "c": "active"})
    for clauses in ([patient, not_active], [patient, status_text], [performer, status]):
        driver = plan_filter("MedicationRequest", clauses).driver
        assert driver is None or "+status|" not in str(driver), driver


def test_an_id_still_drives_before_a_pair() -> None:
    clauses = [{"_id": {"$in": ["MedicationRequest/1"]}}, _match({"p": "patient", "r": "Patient/1"}),
               _match({"p": "status", "c": "active"})]  # fmt: skip
    assert plan_filter("MedicationRequest", clauses).driver == {"_id": {"$in": ["MedicationRequest/1"]}}
