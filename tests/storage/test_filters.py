"""Flattened filters select exactly the documents the original filters select, on the real database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pymongo import MongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.filters import flatten

_LAB = {"p": "category", "c": "laboratory"}
_DOCS = [
    {"_id": f"Observation/{n}", "type": "Observation", "deleted": n == 3, "n": n,
     "idx": [{"p": "category", "c": "laboratory" if n % 2 else "vital-signs"}, {"p": "_tag", "c": f"t{n % 3}"}]}
    for n in range(8)
]  # fmt: skip

CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"type": "Observation", "$and": [{"deleted": False}, {"n": {"$gte": 2}}]},
        {"type": "Observation", "deleted": False, "n": {"$gte": 2}},
    ),
    (
        {"_id": {"$in": ["Observation/1", "Observation/2"]}, "$and": [{"$nor": [{"idx": {"$elemMatch": _LAB}}]}]},
        {"_id": {"$in": ["Observation/1", "Observation/2"]}, "idx": {"$not": {"$elemMatch": _LAB}}},
    ),
    (
        {"idx": {"$all": [{"$elemMatch": _LAB}]}, "$nor": [{"idx": {"$elemMatch": {"p": "_tag", "c": "t1"}}}]},
        {"idx": {"$all": [{"$elemMatch": _LAB}], "$not": {"$elemMatch": {"p": "_tag", "c": "t1"}}}},
    ),
    (  # a second equality on one field cannot merge: it stays under $and
        {"n": {"$gt": 1}, "$and": [{"n": {"$gt": 4}}, {"n": 7}]},
        {"n": {"$gt": 1}, "$and": [{"n": {"$gt": 4}}, {"n": 7}]},
    ),
    (  # an $or and a $nor of a whole document stay as they are
        {"$or": [{"n": 1}, {"n": 2}], "$nor": [{"n": 2, "deleted": False}]},
        {"$and": [{"$or": [{"n": 1}, {"n": 2}]}, {"$nor": [{"n": 2, "deleted": False}]}]},
    ),
]


@pytest.mark.parametrize(("original", "flat"), CASES)
def test_flatten_lifts_what_it_can(original: dict[str, Any], flat: dict[str, Any]) -> None:
    assert flatten(original) == flat


def test_flattened_filters_select_the_same_documents(database: EmbeddedDatabase) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(database.uri)
    name = f"filters_{uuid.uuid4().hex[:8]}"
    try:
        collection = client[name]["resources"]
        collection.insert_many([dict(doc) for doc in _DOCS])
        for original, _flat in CASES:
            expected = sorted(doc["_id"] for doc in collection.find(original))
            assert sorted(doc["_id"] for doc in collection.find(flatten(original))) == expected, original
    finally:
        client.drop_database(name)
        client.close()
