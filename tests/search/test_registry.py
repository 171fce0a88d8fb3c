"""The vendored search parameter registry and parameters posted at run time."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.errors import InvalidRequest
from fhir_server.search.registry import ENGINE_PARAMETERS, default_registry, load

CUSTOM: dict[str, Any] = {
    "resourceType": "SearchParameter",
    "url": "http://example.org/SearchParameter/patient-nickname",
    "code": "nickname",
    "base": ["Patient"],
    "type": "string",
    "expression": "Patient.name.where(use = 'nickname').given",
}


def test_core_parameters_with_resource_level_ones() -> None:
    patient = default_registry().parameters_for("Patient")
    for code in ("name", "family", "birthdate", "identifier", "gender", "_id", "_lastUpdated", "_tag", "_profile"):
        assert code in patient
    assert "_security" in patient and "_source" in patient
    assert "_text" not in patient and "_content" not in patient
    assert patient["birthdate"].type == "date"
    assert {"_id", "_lastUpdated"} == ENGINE_PARAMETERS


def test_lookup_by_code_and_url() -> None:
    registry = default_registry()
    code = registry.get("Observation", "code-value-quantity")
    assert code is not None and code.type == "composite" and len(code.components) == 2
    component = registry.by_url(code.components[1].definition)
    assert component is not None and component.type == "quantity"
    assert registry.get("Observation", "nope") is None
    subject = registry.get("Observation", "subject")
    assert subject is not None and "Patient" in subject.targets


def test_us_core_adds_only_what_core_lacks() -> None:
    registry = default_registry()
    race = registry.get("Patient", "race")
    assert race is not None and race.url.startswith("http://hl7.org/fhir/us/core/")
    name = registry.get("Patient", "name")
    assert name is not None and name.url == "http://hl7.org/fhir/SearchParameter/Patient-name"
    assert registry.get("DeviceDefinition", "classification") is None  # an R5 stray in the R4 bundle


def test_compartment_parameters() -> None:
    registry = default_registry()
    assert registry.compartment_parameters("Observation") == ("subject", "performer")
    assert registry.compartment_parameters("Organization") == ()


def test_register_a_custom_parameter() -> None:
    registry = load()
    [definition] = registry.register(CUSTOM)
    assert registry.get("Patient", "nickname") == definition
    assert registry.by_url(CUSTOM["url"]) == definition
    assert load().get("Patient", "nickname") is None  # a fresh registry is unaffected


def test_reposting_a_core_parameter_is_a_no_op() -> None:
    registry = load()
    existing = registry.get("Patient", "family")
    same = {**CUSTOM, "url": "http://other/family", "code": "family", "expression": "Patient.name.family"}
    assert registry.register(same) == [existing]


@pytest.mark.parametrize(
    "change",
    [
        {"code": None},
        {"base": []},
        {"base": ["NotAType"]},
        {"type": "fancy"},
        {"expression": ""},
        {"expression": "Patient.name.nosuchfunction()"},
        {"code": "family"},  # clashes with core, different expression
        {"type": "composite"},  # without components
    ],
)
def test_register_refuses_bad_definitions(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        load().register({**CUSTOM, **change})
