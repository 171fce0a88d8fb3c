"""Every official R4 example survives create + read unchanged (apart from id and meta),
or is refused for the spec reason listed in KNOWN_INVALID."""

from __future__ import annotations

import asyncio
import gzip
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FHIR_JSON
from tests.profiles.test_validator import KNOWN_INVALID

PRACTICE_REFUSALS = {
    "ChargeItem-example.json": (400, "invalid", "ChargeItem.account[0]", "billing: its Account/example is not stored"),
    "Claim-860150.json": (422, "required", "Claim.item[0].locationCodeableConcept", "billing: checked"),
    "Coverage-9876B1.json": (400, "required", "Coverage.subscriberId", "billing: member id"),
}
"""Spec-valid examples the practice workflows' write rules refuse, for the reason given."""

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "r4-examples.ndjson.gz"


@lru_cache(maxsize=1)
def _examples() -> dict[str, dict[str, Any]]:
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as lines:
        return {row["file"]: row["resource"] for row in map(json.loads, lines)}


def _comparable(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without what the server owns: id, meta.versionId and meta.lastUpdated."""
    out = {k: v for k, v in resource.items() if k != "id"}
    meta = {k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    out.pop("meta", None)
    if meta:
        out["meta"] = meta
    return out


async def _round_trip_all(base_url: str, examples: dict[str, dict[str, Any]]) -> dict[str, tuple[int, Any, Any]]:
    """POST each example, then GET it back: name -> (create status, create body, read body)."""
    results: dict[str, tuple[int, Any, Any]] = {}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base_url, headers=FHIR_JSON, timeout=60) as http:

        async def one(name: str, resource: dict[str, Any]) -> None:
            async with gate:
                created = await http.post(f"/{resource['resourceType']}", json=resource)
                read_back = None
                if created.status_code == 201:
                    read_back = (await http.get(f"/{resource['resourceType']}/{created.json()['id']}")).json()
                results[name] = (created.status_code, created.json(), read_back)

        await asyncio.gather(*(one(name, resource) for name, resource in examples.items()))
    return results


@pytest.fixture(scope="module")
def round_trips(base_url: str) -> dict[str, tuple[int, Any, Any]]:
    return asyncio.run(_round_trip_all(base_url, _examples()))


def test_all_714_examples_were_tried(round_trips: dict[str, tuple[int, Any, Any]]) -> None:
    assert len(round_trips) == 714


@pytest.mark.parametrize("name", sorted(_examples()))
def test_example_round_trips(name: str, round_trips: dict[str, tuple[int, Any, Any]]) -> None:
    status, created, read_back = round_trips[name]
    if name in KNOWN_INVALID:
        code, expression, _reason = KNOWN_INVALID[name]
        assert status == 400
        assert any(i["code"] == code and i.get("expression") == [expression] for i in created["issue"])
        return
    if name in PRACTICE_REFUSALS:
        expected, code, expression, _reason = PRACTICE_REFUSALS[name]
        assert status == expected
        assert any(i["code"] == code and i.get("expression") == [expression] for i in created["issue"])
        return
    assert status == 201, created
    original = _examples()[name]
    assert _comparable(read_back) == _comparable(original)
    assert read_back["meta"]["versionId"] == "1"
