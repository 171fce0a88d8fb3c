"""Compiled search expressions: the FHIRPath subset R4 uses, with the FHIR type of each value."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.search.fhirpath_paths import compile_expression, reference_type, split_top
from fhir_server.search.registry import default_registry
from profiles.model import model

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
    "subject": {"reference": "Patient/1"},
    "performer": [{"reference": "Practitioner/2"}, {"reference": "http://x.org/fhir/Patient/3"}, {"type": "Patient"}],
    "valueQuantity": {"value": 70, "unit": "kg"},
    "component": [{"code": {"text": "a"}, "valueString": "x"}, {"code": {"text": "b"}, "valueQuantity": {"value": 1}}],
    "extension": [
        {"url": "http://a", "valueCode": "A"},
        {"url": "http://b", "valueCoding": {"code": "B"}},
    ],
}


def values(expression: str, resource: dict[str, Any], resource_type: str = "Observation") -> list[Any]:
    accessor = compile_expression(expression, resource_type)
    assert not accessor.fallbacks, accessor.fallbacks
    return accessor.evaluate(resource)


def test_simple_path_carries_the_model_type() -> None:
    assert values("Observation.code", OBSERVATION) == [(OBSERVATION["code"], "CodeableConcept")]
    assert values("Observation.component.code", OBSERVATION) == [
        ({"text": "a"}, "CodeableConcept"),
        ({"text": "b"}, "CodeableConcept"),
    ]


def test_choice_element_reads_every_variant_and_as_picks_one() -> None:
    assert values("Observation.value", OBSERVATION) == [({"value": 70, "unit": "kg"}, "Quantity")]
    assert values("Observation.component.value", OBSERVATION) == [("x", "string"), ({"value": 1}, "Quantity")]
    assert values("(Observation.component.value as Quantity)", OBSERVATION) == [({"value": 1}, "Quantity")]
    assert values("Observation.component.value.as(string)", OBSERVATION) == [("x", "string")]
    assert values("Observation.component.value.ofType(Quantity)", OBSERVATION) == [({"value": 1}, "Quantity")]


def test_union_keeps_only_branches_of_the_indexed_type() -> None:
    assert values("Patient.subject | Observation.subject", OBSERVATION) == [({"reference": "Patient/1"}, "Reference")]


def test_resolve_is_filters_references_by_type() -> None:
    found = values("Observation.performer.where(resolve() is Patient)", OBSERVATION)
    assert [v for v, _t in found] == [{"reference": "http://x.org/fhir/Patient/3"}, {"type": "Patient"}]


def test_equality_filter_index_and_first() -> None:
    assert values("Observation.extension.where(url = 'http://a').value", OBSERVATION) == [("A", "code")]
    assert values("Observation.extension.where(url='http://b').value.code", OBSERVATION) == [("B", "code")]
    assert values("Observation.component[1].code", OBSERVATION) == [({"text": "b"}, "CodeableConcept")]
    assert values("Observation.performer.first()", OBSERVATION) == [({"reference": "Practitioner/2"}, "Reference")]
    assert values("(Observation.component.value as Quantity).value", OBSERVATION) == [(1, "decimal")]


def test_bundle_first_entry_resource_and_relative_expressions() -> None:
    composition = {"resourceType": "Composition", "id": "c"}
    bundle: dict[str, Any] = {"resourceType": "Bundle", "entry": [{"resource": composition}, {}]}
    assert values("Bundle.entry[0].resource", bundle, "Bundle") == [(bundle["entry"][0]["resource"], "Resource")]
    component = OBSERVATION["component"][1]
    relative = compile_expression("value.as(Quantity)", "Observation", "Observation.component")
    assert relative.evaluate_from([(component, "Observation.component")], OBSERVATION) == [({"value": 1}, "Quantity")]
    rooted = compile_expression("%resource.subject", "Observation", "Observation.component")
    assert rooted.evaluate_from([(component, "Observation.component")], OBSERVATION)[0][1] == "Reference"


def test_deceased_pattern_is_compiled_to_one_boolean() -> None:
    expression = "Patient.deceased.exists() and Patient.deceased != false"
    assert values(expression, {"resourceType": "Patient"}, "Patient") == [(False, "boolean")]
    assert values(expression, {"resourceType": "Patient", "deceasedBoolean": False}, "Patient") == [(False, "boolean")]
    assert values(expression, {"resourceType": "Patient", "deceasedDateTime": "2020"}, "Patient") == [(True, "boolean")]


def test_unknown_function_falls_back_to_fhirpathpy() -> None:
    accessor = compile_expression("Observation.code.coding.where(code.startsWith('29'))", "Observation")
    assert accessor.fallbacks
    assert accessor.evaluate(OBSERVATION) == [({"system": "http://loinc.org", "code": "29463-7"}, "Coding")]


def test_helpers() -> None:
    assert split_top("a.where(url='x|y') | b", "|") == ["a.where(url='x|y')", "b"]
    assert reference_type("Patient/1/_history/2") == "Patient"
    assert reference_type("https://h/fhir/Observation/9") == "Observation"
    assert reference_type("urn:uuid:1234") is None


@pytest.mark.parametrize("resource_type", ["Observation", "Patient", "Condition", "Encounter"])
def test_common_types_compile_without_fallback(resource_type: str) -> None:
    registry = default_registry()
    for definition in registry.parameters_for(resource_type).values():
        if definition.expression:
            assert not compile_expression(definition.expression, resource_type).fallbacks, definition.url


def test_every_registered_expression_compiles() -> None:
    """Every parameter of every type compiles; print how many branches need fhirpathpy."""
    registry = default_registry()
    compiled = fallbacks = 0
    for resource_type in model().resource_types:
        for definition in registry.parameters_for(resource_type).values():
            if definition.expression:
                accessor = compile_expression(definition.expression, resource_type)
                compiled += 1
                fallbacks += len(accessor.fallbacks)
    print(f"{compiled} (type, parameter) expressions compiled, {fallbacks} branches fall back to fhirpathpy")
    assert compiled > 2500
    assert fallbacks == 0
