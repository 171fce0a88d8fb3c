"""Every mapped sample is a valid R4 transaction; preliminary and final results share their keys and ids."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.hl7v2.mapping import MappingOptions, map_message
from adapters.hl7v2.mapping.bundle import key_id
from profiles import validate_resource

from .samples import FIXTURES, message, messages

SAMPLES = sorted(p.name for p in FIXTURES.glob("*.hl7"))
MAPPED = {"ORU", "ADT", "ORM", "OML"}


@pytest.mark.parametrize("name", SAMPLES)
def test_every_resource_is_valid_r4(name: str) -> None:
    for text in messages(name):
        kind = text.split("\r")[0].split("|")[8][:3]
        result = map_message(text, MappingOptions(accept_invalid=True))  # the CDPH sample has a bad OBX-14
        if kind not in MAPPED:
            assert result.bundle is None and not result.errors[0].supported
            continue
        if result.bundle is None:  # only the ORU without PID-3
            assert [e.code for e in result.errors] == ["101"]
            continue
        assert validate_resource(result.bundle) == []
        full_urls = [e["fullUrl"] for e in result.bundle["entry"]]
        assert len(full_urls) == len(set(full_urls))
        for entry in result.bundle["entry"]:
            assert validate_resource(entry["resource"]) == [], entry["resource"]["resourceType"]
            request = entry["request"]
            assert request["method"] in ("PUT", "POST")
            owned = request["url"] == f"{entry['resource']['resourceType']}/{entry['resource'].get('id')}"
            assert "?identifier=" in request["url"] or "ifNoneExist" in request or owned


def test_preliminary_and_final_produce_the_same_keys_and_ids() -> None:
    first = map_message(message("fhirconv_LAB-ORU-1.hl7")).bundle
    second = map_message(message("fhirconv_LAB-ORU-2.hl7")).bundle
    assert first is not None and second is not None

    def keys(bundle: dict[str, Any]) -> dict[str, str]:
        return {e["fullUrl"]: e["request"].get("ifNoneExist") or e["request"]["url"] for e in bundle["entry"]}

    assert keys(first) == keys(second)
    observations = [e for e in first["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert all(e["request"]["method"] == "PUT" for e in observations)
    basophils = key_id("Observation", {"system": "urn:hl7v2:obx", "value": "82503246-11156-7-"})
    assert f"Observation/{basophils}" in keys(first).values()
