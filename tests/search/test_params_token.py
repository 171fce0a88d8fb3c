"""Token search against real index entries: systems, escapes, :not, :text, :of-type, :in, :missing."""

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

LOINC, SCT = "http://loinc.org", "http://snomed.info/sct"
CODE = SearchParameterDef("code", "token", "http://hl7.org/fhir/SearchParameter/clinical-code", None, ("Observation",))
IDENTIFIER = SearchParameterDef("identifier", "token", "urn:identifier", None, ("Observation",))
NOW = datetime(2026, 1, 1, tzinfo=UTC)

DOCS: list[dict[str, Any]] = [
    {"_id": "loinc", "idx": [{"p": "code", "s": LOINC, "c": "1234-5", "t": "glucose [mass/volume]"}]},
    {"_id": "snomed", "idx": [{"p": "code", "s": SCT, "c": "1234-5"}, {"p": "code", "s": SCT, "c": "999"}]},
    {"_id": "nosystem", "idx": [{"p": "code", "s": None, "c": "1234-5"}]},
    {"_id": "none", "idx": [{"p": "other", "c": "1234-5"}]},
    {"_id": "pipe", "idx": [{"p": "code", "s": LOINC, "c": "a|b,c$d\\e"}]},
    {"_id": "mrn", "idx": [{"p": "identifier", "s": "urn:mrn", "c": "42", "ts": "urn:v2-0203", "tc": "MR"}]},
]


@pytest.fixture(scope="module")
def collection(database: EmbeddedDatabase) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(database.uri) as client:
        coll: Collection[dict[str, Any]] = client["params_tests"]["token"]
        coll.drop()
        coll.insert_many(DOCS)
        yield coll


def found(collection: Collection[dict[str, Any]], definition: SearchParameterDef, modifier: str | None, *values: str,
          **hooks: Any) -> set[str]:  # fmt: skip
    query = compile_parameter(definition, modifier, values, now=NOW, **hooks)
    return {doc["_id"] for doc in collection.find(query, {"_id": 1})}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1234-5", {"loinc", "snomed", "nosystem"}),
        (f"{LOINC}|1234-5", {"loinc"}),
        ("|1234-5", {"nosystem"}),
        (f"{SCT}|", {"snomed"}),
        (f"{SCT}|nope", set()),
        ("a\\|b,c\\$d\\\\e", {"pipe"}),
    ],
)
def test_token_forms(collection: Collection[dict[str, Any]], value: str, expected: set[str]) -> None:
    assert found(collection, CODE, None, value) == expected


def test_values_are_ored(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, CODE, None, f"{LOINC}|1234-5", f"{SCT}|999") == {"loinc", "snomed"}


def test_values_differing_in_one_part_are_one_entry_condition(collection: Collection[dict[str, Any]]) -> None:
    """`code=a,b` is one `$elemMatch` with `c: {$in: [a, b]}`, never an `$or` (which makes SecantusDB scan)."""
    codes = compile_parameter(CODE, None, ("999", "a\\|b,c\\$d\\\\e", "999"), now=NOW)
    assert codes == {"idx": {"$elemMatch": {"p": "code", "c": {"$in": ["999", "a|b,c$d\\e"]}}}}
    assert {doc["_id"] for doc in collection.find(codes, {"_id": 1})} == {"snomed", "pipe"}
    in_one_system = compile_parameter(CODE, None, (f"{SCT}|999", f"{SCT}|1234-5"), now=NOW)
    assert in_one_system == {"idx": {"$elemMatch": {"p": "code", "s": SCT, "c": {"$in": ["999", "1234-5"]}}}}
    assert "$or" in compile_parameter(CODE, None, (f"{LOINC}|1234-5", f"{SCT}|999"), now=NOW)  # two parts differ
    assert found(collection, CODE, None, f"{SCT}|999", f"{SCT}|1234-5") == {"snomed"}


def test_not_includes_resources_without_the_element(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, CODE, "not", f"{LOINC}|1234-5") == {"snomed", "nosystem", "none", "pipe", "mrn"}
    assert found(collection, CODE, "not", "1234-5", "a\\|b,c$d\\\\e") == {"none", "mrn"}


def test_text_is_a_normalized_prefix(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, CODE, "text", "GLUCOSE [mass") == {"loinc"}
    assert found(collection, CODE, "text", "mass") == set()


def test_of_type(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, IDENTIFIER, "of-type", "urn:v2-0203|MR|42") == {"mrn"}
    assert found(collection, IDENTIFIER, "of-type", "urn:v2-0203|MR|43") == set()


def test_missing(collection: Collection[dict[str, Any]]) -> None:
    assert found(collection, CODE, "missing", "true") == {"none", "mrn"}
    assert found(collection, CODE, "missing", "false") == {"loinc", "snomed", "nosystem", "pipe"}


def test_in_and_not_in_use_the_expansion_hook(collection: Collection[dict[str, Any]]) -> None:
    def expand(url: str) -> list[tuple[str | None, str]]:
        return {"urn:vs": [(SCT, "999"), (None, "a|b,c$d\\e")], "urn:empty": []}[url]

    assert found(collection, CODE, "in", "urn:vs", value_set_codes=expand) == {"snomed", "pipe"}
    assert found(collection, CODE, "in", "urn:empty", value_set_codes=expand) == set()
    assert found(collection, CODE, "not-in", "urn:vs", value_set_codes=expand) == {"loinc", "nosystem", "none", "mrn"}


def test_empty_values_are_ignored() -> None:
    assert compile_parameter(CODE, None, ("",), now=NOW) == {}


@pytest.mark.parametrize(
    ("modifier", "value"),
    [
        (None, "a|b|c"),
        (None, "|"),
        ("of-type", "urn:v2-0203|MR"),
        ("of-type", "urn:v2-0203||42"),
        ("in", "urn:vs"),  # no expansion hook
        ("below", "123"),
        ("above", "123"),
        ("exact", "123"),
        ("bogus", "123"),
        ("missing", "maybe"),
    ],
)
def test_bad_values_name_the_parameter(modifier: str | None, value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compile_parameter(CODE, modifier, (value,), now=NOW)
    assert caught.value.issues[0].expression == "code"
