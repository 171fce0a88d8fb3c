"""The R4 validator: every official example is valid, and each kind of bad input is caught where it is."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from profiles import RESOURCE_TYPES, is_known_type, validate_resource
from profiles.model import model
from terminology import allowed_codes

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "r4-examples.ndjson.gz"

# Examples shipped with R4 4.0.1 that break the R4 StructureDefinitions, with the issue they must raise.
KNOWN_INVALID: dict[str, tuple[str, str, str]] = {
    # Questionnaire.item.linkId is 1..1 (Questionnaire SD); the generated display items have no linkId.
    "Questionnaire-qs1.json": ("required", "Questionnaire.item[0].item[0].linkId", "linkId is 1..1"),
    # ImplementationGuide.name and .status are 1..1 (ImplementationGuide SD); the core package IG has neither.
    "ig-r4.json": ("required", "ImplementationGuide.status", "status is 1..1"),
}


def _examples() -> dict[str, dict[str, Any]]:
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as fh:
        return {row["file"]: row["resource"] for row in map(json.loads, fh)}


ALL_EXAMPLES = _examples()
PATIENT = ALL_EXAMPLES["Patient-example.json"]
XHTML_DIV = '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'


def _issues(resource: Any) -> list[tuple[str, str | None]]:
    return [(i.code, i.expression) for i in validate_resource(resource)]


def _patient(**fields: Any) -> dict[str, Any]:
    patient = copy.deepcopy(PATIENT)
    for choice in ("deceased", "multipleBirth"):  # the example already has one of these choices
        if any(key.startswith(choice) for key in fields):
            patient = {k: v for k, v in patient.items() if not k.startswith(choice)}
    patient.update(fields)
    return patient


def _refers(reference: str) -> dict[str, Any]:
    """An extension holding a reference, to make a contained resource referenced (dom-3)."""
    return {"url": "http://example.org/ref", "valueReference": {"reference": reference}}


def _observation(**fields: Any) -> dict[str, Any]:
    obs: dict[str, Any] = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}
    obs.update(fields)
    return obs


def test_resource_types() -> None:
    assert len(RESOURCE_TYPES) == 146
    assert list(RESOURCE_TYPES) == sorted(RESOURCE_TYPES)
    assert "SubscriptionStatus" not in RESOURCE_TYPES  # an R4B definition that leaked into the R4 bundle
    assert is_known_type("MedicinalProduct") and is_known_type("EffectEvidenceSynthesis")
    assert not is_known_type("Resource") and not is_known_type("HumanName") and not is_known_type("Patient.contact")


@pytest.mark.parametrize("name", sorted(ALL_EXAMPLES))
def test_official_examples(name: str) -> None:
    issues = validate_resource(ALL_EXAMPLES[name])
    if name in KNOWN_INVALID:
        code, expression, _reason = KNOWN_INVALID[name]
        assert (code, expression) in [(i.code, i.expression) for i in issues]
    else:
        assert issues == []


def test_valid_minimal() -> None:
    assert validate_resource(_observation(valueQuantity={"value": 72.5, "unit": "kg"})) == []
    assert validate_resource({"resourceType": "Patient"}) == []


@pytest.mark.parametrize("body", [None, [], "Patient", 42, True, [{"resourceType": "Patient"}]])
def test_non_object_body(body: Any) -> None:
    assert _issues(body) == [("invalid", None)]


def test_resource_type() -> None:
    assert _issues({"id": "x"}) == [("invalid", None)]
    assert _issues({"resourceType": "Patientt"}) == [("invalid", None)]
    assert _issues({"resourceType": 3}) == [("invalid", None)]
    assert _issues({"resourceType": "HumanName"}) == [("invalid", None)]
    assert _issues({"resourceType": "SubscriptionStatus"}) == [("invalid", None)]


def test_unknown_elements() -> None:
    assert _issues(_patient(foo=1)) == [("structure", "Patient.foo")]
    nested = _patient(name=[{"family": "Chalmers", "givn": ["Peter"]}])
    assert _issues(nested) == [("structure", "Patient.name[0].givn")]
    ext = _patient(extension=[{"url": "http://x", "valueString": "a", "colour": "red"}])
    assert _issues(ext) == [("structure", "Patient.extension[0].colour")]
    meta = _patient(meta={"versionid": "1"})
    assert _issues(meta) == [("structure", "Patient.meta.versionid")]
    assert _issues(_patient(text={"status": "generated", "div": XHTML_DIV, "lang": "en"})) == [
        ("structure", "Patient.text.lang")
    ]
    # resourceType is only a property of resources
    assert _issues(_patient(maritalStatus={"resourceType": "CodeableConcept"})) == [
        ("structure", "Patient.maritalStatus.resourceType")
    ]


def test_content_reference_recursion() -> None:
    q: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string", "bogus": 1}]}],
    }
    assert _issues(q) == [("structure", "Questionnaire.item[0].item[0].bogus")]
    q["item"][0]["item"][0] = {"type": "string"}
    assert _issues(q) == [("required", "Questionnaire.item[0].item[0].linkId")]


def test_bundle_entries_and_contained() -> None:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "name": [{"given": ["a"], "nick": "b"}]}}],
    }
    assert _issues(bundle) == [("structure", "Bundle.entry[0].resource.name[0].nick")]
    bundle["entry"][0]["resource"] = {"resourceType": "Nope"}
    assert _issues(bundle) == [("invalid", "Bundle.entry[0].resource.resourceType")]
    bundle["entry"][0]["resource"] = {"id": "a"}
    assert _issues(bundle) == [("invalid", "Bundle.entry[0].resource")]
    contained = _patient(
        contained=[{"resourceType": "Observation", "id": "o1", "code": {"text": "x"}}], extension=[_refers("#o1")]
    )
    assert _issues(contained) == [("required", "Patient.contained[0].status")]
    bad_date = _patient(
        contained=[{"resourceType": "Patient", "id": "p1", "birthDate": "2020-02-30"}], extension=[_refers("#p1")]
    )
    assert _issues(bad_date) == [("value", "Patient.contained[0].birthDate")]
    params = {
        "resourceType": "Parameters",
        "parameter": [{"name": "p", "resource": {"resourceType": "Patient", "x": 1}}],
    }
    assert _issues(params) == [("structure", "Parameters.parameter[0].resource.x")]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"active": "true"}, ("structure", "Patient.active")),
        ({"active": 1}, ("structure", "Patient.active")),
        ({"name": {"family": "x"}}, ("structure", "Patient.name")),
        ({"gender": ["male"]}, ("structure", "Patient.gender")),
        ({"maritalStatus": "M"}, ("structure", "Patient.maritalStatus")),
        ({"birthDate": 19740101}, ("structure", "Patient.birthDate")),
        ({"name": [{"given": "Peter"}]}, ("structure", "Patient.name[0].given")),
        ({"name": ["Peter"]}, ("structure", "Patient.name[0]")),
        ({"contained": [1]}, ("structure", "Patient.contained[0]")),
        ({"gender": None}, ("structure", "Patient.gender")),
        ({"name": [None]}, ("structure", "Patient.name[0]")),
    ],
)
def test_wrong_json_type(fields: dict[str, Any], expected: tuple[str, str]) -> None:
    assert _issues(_patient(**fields)) == [expected]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"birthDate": "2020-13-01"}, ("value", "Patient.birthDate")),
        ({"birthDate": "2020-02-30"}, ("value", "Patient.birthDate")),
        ({"birthDate": "2019-02-29"}, ("value", "Patient.birthDate")),
        ({"birthDate": "2020-04-31"}, ("value", "Patient.birthDate")),
        ({"birthDate": "01/02/2020"}, ("value", "Patient.birthDate")),
        ({"deceasedDateTime": "2020-01-01T10:00:00"}, ("value", "Patient.deceasedDateTime")),
        ({"deceasedDateTime": "2021-02-29T10:00:00Z"}, ("value", "Patient.deceasedDateTime")),
        ({"id": "a b"}, ("value", "Patient.id")),
        ({"id": "a" * 65}, ("value", "Patient.id")),
        ({"implicitRules": "has space"}, ("value", "Patient.implicitRules")),
        ({"meta": {"lastUpdated": "2020-01-01"}}, ("value", "Patient.meta.lastUpdated")),
        ({"photo": [{"data": "not base64!"}]}, ("value", "Patient.photo[0].data")),
        ({"photo": [{"size": -1}]}, ("value", "Patient.photo[0].size")),
        ({"multipleBirthInteger": 1.5}, ("value", "Patient.multipleBirthInteger")),
        ({"multipleBirthInteger": 2**40}, ("value", "Patient.multipleBirthInteger")),
        ({"multipleBirthInteger": "2"}, ("structure", "Patient.multipleBirthInteger")),
        ({"text": {"status": "generated", "div": "<p>hi</p>"}}, ("value", "Patient.text.div")),
    ],
)
def test_bad_primitive_format(fields: dict[str, Any], expected: tuple[str, str]) -> None:
    assert _issues(_patient(**fields)) == [expected]


def test_good_primitive_formats() -> None:
    good = _patient(
        id="a" * 64,
        birthDate="2000-02-29",
        deceasedDateTime="2020-01-01T10:00:00.123+14:00",
        meta={"lastUpdated": "2020-01-01T00:00:00Z", "versionId": "1"},
        photo=[{"data": "aGVs\nbG8=", "size": 0}],
        multipleBirthInteger=-3,
    )
    assert validate_resource(good) == []


def test_string_limits() -> None:
    assert validate_resource(_patient(name=[{"text": " "}])) == []  # whitespace-only is a legal string
    assert _issues(_patient(name=[{"text": "x" * (1024 * 1024 + 1)}])) == [("value", "Patient.name[0].text")]
    assert _issues(_patient(name=[{"text": "tab\x0bbed"}])) == [("value", "Patient.name[0].text")]


def test_decimal_and_positive_int() -> None:
    assert _issues(_observation(valueQuantity={"value": "1.0"})) == [("structure", "Observation.valueQuantity.value")]
    assert _issues(_observation(valueQuantity={"value": True})) == [("structure", "Observation.valueQuantity.value")]
    sampled = {"origin": {"value": 0}, "period": 1, "dimensions": 0, "data": "1 2"}
    assert _issues(_observation(valueSampledData=sampled)) == [("value", "Observation.valueSampledData.dimensions")]


def test_empty_values() -> None:
    assert _issues(_patient(gender="")) == [("structure", "Patient.gender")]
    assert _issues(_patient(maritalStatus={})) == [("structure", "Patient.maritalStatus")]
    assert _issues(_patient(identifier=[])) == [("structure", "Patient.identifier")]
    assert _issues(_patient(name=[{}])) == [("structure", "Patient.name[0]")]
    assert _issues(_patient(name=[{"given": []}])) == [("structure", "Patient.name[0].given")]


def test_cardinality() -> None:
    assert _issues({"resourceType": "Observation", "code": {"text": "x"}}) == [("required", "Observation.status")]
    assert _issues({"resourceType": "Observation"}) == [
        ("required", "Observation.status"),
        ("required", "Observation.code"),
    ]
    assert _issues(_observation(status=["final", "amended"])) == [("structure", "Observation.status")]
    assert _issues(_patient(extension=[{"valueString": "x"}])) == [("required", "Patient.extension[0].url")]
    # a primitive carried only by its extension still satisfies min cardinality
    absent = {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
    obs = {"resourceType": "Observation", "_status": absent, "code": {"text": "x"}}
    assert validate_resource(obs) == []


def test_required_binding_code() -> None:
    issues = validate_resource(_patient(gender="robot"))
    assert [(i.code, i.expression) for i in issues] == [("code-invalid", "Patient.gender")]
    assert "robot" in issues[0].diagnostics
    assert _issues(_patient(text={"status": "made-up", "div": XHTML_DIV})) == [("code-invalid", "Patient.text.status")]
    assert _issues(_observation(status="done")) == [("code-invalid", "Observation.status")]
    assert _issues(_observation(valueQuantity={"value": 1, "comparator": "=="})) == [
        ("code-invalid", "Observation.valueQuantity.comparator")
    ]


def test_required_binding_codeable_concept() -> None:
    system = "http://terminology.hl7.org/CodeSystem/v2-0203"
    gender = allowed_codes("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1")
    assert gender == frozenset({"male", "female", "other", "unknown"})
    codes = allowed_codes("http://hl7.org/fhir/ValueSet/medicationrequest-status")
    assert codes is not None and "active" in codes
    assert allowed_codes("http://hl7.org/fhir/ValueSet/ucum-units") is None
    assert "http://hl7.org/fhir/ValueSet/ucum-units" in model().unchecked
    # AllergyIntolerance.clinicalStatus is a CodeableConcept with a required binding
    allergy: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "patient": {"reference": "Patient/1"},
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "zombie"},
                {"system": system, "code": "whatever"},  # other systems are not judged
            ]
        },
    }
    assert _issues(allergy) == [("code-invalid", "AllergyIntolerance.clinicalStatus.coding[0].code")]
    allergy["clinicalStatus"]["coding"][0]["code"] = "active"
    assert validate_resource(allergy) == []


def test_choice_types() -> None:
    assert _issues(_observation(valueFoo="x")) == [("structure", "Observation.valueFoo")]
    assert _issues(_observation(valueString="a", valueBoolean=True)) == [("structure", "Observation.valueBoolean")]
    assert _issues(_observation(valueString="a", _valueString={"id": "1"})) == []
    # Extension.value[x] allows any type the Extension SD lists
    ext = {"url": "http://x", "valueHumanName": {"family": "x"}}
    assert validate_resource(_patient(extension=[ext])) == []
    assert _issues(_patient(extension=[{"url": "http://x", "valueNarrative": {}}])) == [
        ("structure", "Patient.extension[0].valueNarrative")
    ]


def test_primitive_extensions() -> None:
    ext = {"extension": [{"url": "http://x", "valueString": "y"}]}
    assert validate_resource(_patient(_birthDate=ext)) == []
    assert validate_resource(_patient(name=[{"given": ["a", None], "_given": [None, ext]}])) == []
    assert validate_resource(_patient(name=[{"_given": [ext]}])) == []
    assert _issues(_patient(name=[{"given": ["a", None]}])) == [("structure", "Patient.name[0].given[1]")]
    assert _issues(_patient(name=[{"given": ["a", None], "_given": [ext, None]}])) == [
        ("structure", "Patient.name[0].given[1]"),
        ("structure", "Patient.name[0].given[1]"),
    ]
    assert _issues(_patient(name=[{"given": ["a"], "_given": [ext, ext]}])) == [("structure", "Patient.name[0].given")]
    assert _issues(_patient(_birthDate="x")) == [("structure", "Patient.birthDate")]
    assert _issues(_patient(_birthDate=[ext])) == [("structure", "Patient.birthDate")]
    assert _issues(_patient(_birthDate={"url": "x"})) == [("structure", "Patient.birthDate.url")]
    assert _issues(_patient(_birthDate={"extension": [{"valueString": "x"}]})) == [
        ("required", "Patient.birthDate.extension[0].url")
    ]
    assert _issues(_patient(_name=ext)) == [("structure", "Patient._name")]


def test_never_raises_on_deep_nesting() -> None:
    item: dict[str, Any] = {"linkId": "x", "type": "group"}
    root = {"resourceType": "Questionnaire", "status": "draft", "item": [item]}
    for _ in range(5000):
        child: dict[str, Any] = {"linkId": "x", "type": "group"}
        item["item"] = [child]
        item = child
    assert [i.code for i in validate_resource(root)] == ["too-costly"]


def test_diagnostics_are_text() -> None:
    issue = validate_resource(_patient(foo=1))[0]
    assert issue.severity == "error" and "foo" in issue.diagnostics
    assert issue.to_json()["expression"] == ["Patient.foo"]


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f"])
def test_control_characters_are_refused(character: str) -> None:
    issues = validate_resource(_patient(name=[{"family": f"Chal{character}mers"}], gender="male"))
    assert [(i.code, i.expression) for i in issues] == [("value", "Patient.name[0].family")]
    assert "control character" in issues[0].diagnostics
    assert _issues(_patient(id=f"a{character}b")) == [("value", "Patient.id")]
    assert _issues(_patient(photo=[{"url": f"http://x/{character}"}])) == [("value", "Patient.photo[0].url")]


def test_tab_carriage_return_and_line_feed_are_allowed() -> None:
    assert _issues(_patient(name=[{"family": "Chal\tmers", "text": "line one\r\nline two"}])) == []


def test_contained_resource_rules() -> None:
    def contained(resource: dict[str, Any], *, referenced: bool = True) -> list[tuple[str, str | None]]:
        patient = {"resourceType": "Patient", "contained": [resource]}
        if referenced:
            patient["extension"] = [_refers(f"#{resource.get('id')}")]
        return _issues(patient)

    org = {"resourceType": "Organization", "id": "o1", "name": "Clinic"}
    assert contained(org) == []
    assert contained({k: v for k, v in org.items() if k != "id"}, referenced=False) == [
        ("required", "Patient.contained[0].id")
    ]
    assert contained(org, referenced=False) == [("invariant", "Patient.contained[0]")]  # dom-3
    back = {**org, "partOf": {"reference": "#"}}  # refers to its container: dom-3 holds
    assert contained(back, referenced=False) == []
    nested = {**org, "contained": [{"resourceType": "Organization", "id": "o2", "name": "x"}]}
    assert ("invariant", "Patient.contained[0].contained") in contained(nested)  # dom-2
    assert contained({**org, "meta": {"versionId": "1"}}) == [("invariant", "Patient.contained[0].meta.versionId")]
    stamped = {**org, "meta": {"lastUpdated": "2020-01-01T00:00:00Z"}}
    assert contained(stamped) == [("invariant", "Patient.contained[0].meta.lastUpdated")]  # dom-4
    labelled = {**org, "meta": {"security": [{"system": "http://x", "code": "R"}]}}
    assert contained(labelled) == [("invariant", "Patient.contained[0].meta.security")]  # dom-5
    in_bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "contained": [org]}}],
    }
    assert _issues(in_bundle) == [("invariant", "Bundle.entry[0].resource.contained[0]")]
