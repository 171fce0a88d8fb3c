"""ValueSet expansion for `:in` / `:not-in`, against an in-memory store of ValueSets and CodeSystems."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from fhir_server.errors import InvalidRequest
from terminology.expansion import Code, Fetch, expand_value_set

EXAMPLES = Path(__file__).parent.parent / "fixtures" / "r4-examples.ndjson.gz"
SYS = "http://example.org/cs"


def store(*resources: dict[str, Any]) -> Fetch:
    """A `fetch` over the given resources, found by `url` and by `url|version`."""
    by_url: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in resources:
        by_url[resource["resourceType"], resource["url"]] = resource
        if "version" in resource:
            by_url[resource["resourceType"], f"{resource['url']}|{resource['version']}"] = resource

    async def fetch(resource_type: str, url: str) -> dict[str, Any] | None:
        return by_url.get((resource_type, url))

    return fetch


def value_set(url: str, **content: Any) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": url, "status": "active", **content}


def code_system(url: str, concepts: list[dict[str, Any]], content: str = "complete", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "url": url,
        "status": "active",
        "content": content,
        "concept": concepts,
        **extra,
    }


def concepts(*codes: str) -> list[dict[str, Any]]:
    return [{"code": code} for code in codes]


def expand(url: str, *resources: dict[str, Any], max_codes: int = 10_000) -> list[Code]:
    return asyncio.run(expand_value_set(url, store(*resources), max_codes=max_codes))


def refused(url: str, *resources: dict[str, Any], max_codes: int = 10_000) -> str:
    with pytest.raises(InvalidRequest) as raised:
        expand(url, *resources, max_codes=max_codes)
    return str(raised.value)


def test_include_listed_concepts_in_order() -> None:
    vs = value_set("urn:vs", compose={"include": [{"system": SYS, "concept": concepts("b", "a", "b")}]})
    assert expand("urn:vs", vs) == [(SYS, "b"), (SYS, "a")]


def test_include_whole_code_system_walks_nested_concepts() -> None:
    cs = code_system(
        SYS, [{"code": "root", "concept": [{"code": "child", "concept": concepts("leaf")}]}, {"code": "x"}]
    )
    vs = value_set("urn:vs", compose={"include": [{"system": SYS}]})
    assert expand("urn:vs", vs, cs) == [(SYS, "root"), (SYS, "child"), (SYS, "leaf"), (SYS, "x")]


def test_include_code_system_version() -> None:
    old, new = code_system(SYS, concepts("a"), version="1"), code_system(SYS, concepts("a", "b"), version="2")
    vs = value_set("urn:vs", compose={"include": [{"system": SYS, "version": "1"}]})
    assert expand("urn:vs", vs, new, old) == [(SYS, "a")]


def test_missing_or_incomplete_code_system_is_unknown_content() -> None:
    vs = value_set("urn:vs", compose={"include": [{"system": SYS}]})
    assert "content is unknown" in refused("urn:vs", vs)
    assert "content is unknown" in refused("urn:vs", vs, code_system(SYS, [], content="not-present"))


def test_exclude_listed_concepts_and_whole_value_sets() -> None:
    cs = code_system(SYS, concepts("a", "b", "c", "d"))
    drop = value_set("urn:drop", compose={"include": [{"system": SYS, "concept": concepts("d")}]})
    vs = value_set(
        "urn:vs",
        compose={
            "include": [{"system": SYS}],
            "exclude": [{"system": SYS, "concept": concepts("b")}, {"valueSet": ["urn:drop"]}],
        },
    )
    assert expand("urn:vs", vs, cs, drop) == [(SYS, "a"), (SYS, "c")]


def test_include_value_sets_unions_rules_and_intersects_within_a_rule() -> None:
    one = value_set("urn:one", compose={"include": [{"system": SYS, "concept": concepts("a", "b")}]})
    two = value_set("urn:two", compose={"include": [{"system": SYS, "concept": concepts("b", "c")}]})
    union = value_set("urn:union", compose={"include": [{"valueSet": ["urn:one"]}, {"valueSet": ["urn:two"]}]})
    both = value_set("urn:both", compose={"include": [{"valueSet": ["urn:one", "urn:two"]}]})
    assert expand("urn:union", union, one, two) == [(SYS, "a"), (SYS, "b"), (SYS, "c")]
    assert expand("urn:both", both, one, two) == [(SYS, "b")]


def test_value_set_included_twice_is_not_a_cycle() -> None:
    leaf = value_set("urn:leaf", compose={"include": [{"system": SYS, "concept": concepts("a")}]})
    mid = value_set("urn:mid", compose={"include": [{"valueSet": ["urn:leaf"]}]})
    top = value_set("urn:top", compose={"include": [{"valueSet": ["urn:leaf"]}, {"valueSet": ["urn:mid"]}]})
    assert expand("urn:top", top, mid, leaf) == [(SYS, "a")]


def test_value_set_cycle_is_refused() -> None:
    a = value_set("urn:a", compose={"include": [{"valueSet": ["urn:b"]}]})
    b = value_set("urn:b", compose={"include": [{"system": SYS, "concept": concepts("x")}, {"valueSet": ["urn:a"]}]})
    assert "urn:a -> urn:b -> urn:a" in refused("urn:a", a, b)


def test_precomputed_expansion_used_without_compose() -> None:
    contains = [{"system": SYS, "code": "a"}, {"display": "group", "contains": [{"system": SYS, "code": "b"}]}]
    vs = value_set("urn:vs", expansion={"timestamp": "2026-01-01", "contains": contains})
    assert expand("urn:vs", vs) == [(SYS, "a"), (SYS, "b")]


def test_unknown_value_set_is_not_found() -> None:
    assert "not found" in refused("urn:missing")
    vs = value_set("urn:vs", compose={"include": [{"valueSet": ["urn:missing"]}]})
    assert "'urn:missing' not found" in refused("urn:vs", vs)


def test_filter_is_refused_naming_the_value_set() -> None:
    rule = {"system": SYS, "filter": [{"property": "concept", "op": "is-a", "value": "a"}]}
    message = refused("urn:vs", value_set("urn:vs", compose={"include": [rule]}))
    assert "'urn:vs'" in message and "'filter'" in message


def test_too_many_codes_is_refused() -> None:
    cs = code_system(SYS, concepts(*(str(n) for n in range(11))))
    vs = value_set("urn:vs", compose={"include": [{"system": SYS}]})
    assert len(expand("urn:vs", vs, cs, max_codes=11)) == 11
    assert "more than 10 codes" in refused("urn:vs", vs, cs, max_codes=10)


def _resources(resource: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield resource
    for entry in resource.get("entry", []):
        if "resource" in entry:
            yield from _resources(entry["resource"])


def example_resources(*files: str) -> list[dict[str, Any]]:
    """The ValueSets and CodeSystems (with a url) of the named R4 example files, bundle entries included."""
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as lines:
        roots = [row["resource"] for row in map(json.loads, lines) if row["file"] in files]
    return [r for root in roots for r in _resources(root) if r["resourceType"] in ("ValueSet", "CodeSystem")]


def test_r4_examples() -> None:
    examples = example_resources("Bundle-externals.json", "Bundle-ussg-fht.json")
    dicom = "http://dicom.nema.org/medical/dicom/current/output/chtml/part16/sect_CID_29.html"
    dcm = "http://dicom.nema.org/resources/ontology/DCM"
    modalities = expand(f"{dicom}|20121129", *examples)
    assert len(modalities) == 37 and modalities[:2] == [(dcm, "OPV"), (dcm, "DX")]
    loinc = "http://loinc.org"
    assert expand("http://details.loinc.org/AnswerList/LL1-9", *examples) == [
        (loinc, "LA2-8"),
        (loinc, "LA3-6"),
        (loinc, "LA46-8"),
    ]
    format_codes = "http://ihe.net/fhir/ValueSet/IHE.FormatCode.codesystem"
    all_formats = value_set("urn:formats", compose={"include": [{"system": format_codes}]})
    formats = expand("urn:formats", all_formats, *examples)
    assert len(formats) == 74 and all(system == format_codes for system, _code in formats)
    assert (format_codes, "urn:ihe:pcc:xphr:2007") in formats
