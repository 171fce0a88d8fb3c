"""FHIRPath Patch: the spec's published test cases (fhir-path-tests), the supported path forms, each error."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.engine.patch import apply_fhirpath_patch
from fhir_server.errors import InvalidRequest, Unprocessable


def op(kind: str, path: str, /, **parts: Any) -> dict[str, Any]:
    """One `operation` parameter; `parts` maps a part name to its value[x] dict or sub-part list."""
    entries: list[dict[str, Any]] = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    for name, content in parts.items():
        entries.append({"name": name, **content})
    return {"name": "operation", "part": entries}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


def ids(*values: str) -> list[dict[str, str]]:
    return [{"system": "http://example.org", "value": v} for v in values]


def _patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "http://x", "value": "1"}, {"system": "http://y", "value": "2"}],
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}, {"use": "usual", "given": ["Jim"]}],
        "telecom": [{"system": "phone", "use": "home", "value": "1"}, {"system": "phone", "use": "work", "value": "2"}],
        "birthDate": "1974-12-25",
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                      "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
        "extension": [{"url": "http://e/a", "valueString": "a"}, {"url": "http://e/b", "valueCode": "b"}],
        "contact": [{"name": {"text": "a name"}, "gender": "male"}],
    }  # fmt: skip


# --- the spec's test cases (fhir-test-cases r5/patch/fhir-path-tests.xml), as JSON --------------------

SPEC_CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = [
    ("Replace Primitive", {"birthDate": "1920-01-01"},
     [op("replace", "Patient.birthDate", value={"valueDate": "1930-01-01"})], {"birthDate": "1930-01-01"}),
    ("Delete Primitive", {"birthDate": "1920-01-01"}, [op("delete", "Patient.birthDate")], {}),
    ("Add Primitive", {},
     [op("add", "Patient", name={"valueString": "birthDate"}, value={"valueDate": "1930-01-01"})],
     {"birthDate": "1930-01-01"}),
    ("Replace Nested Primitive #1", {"contact": [{"name": {"text": "a name"}, "gender": "male"}]},
     [op("replace", "Patient.contact[0].gender", value={"valueCode": "female"})],
     {"contact": [{"name": {"text": "a name"}, "gender": "female"}]}),
    ("Replace Nested Primitive #2", {"contact": [{"name": {"text": "a name"}, "gender": "male"}]},
     [op("replace", "Patient.contact[0].name.text", value={"valueString": "the name"})],
     {"contact": [{"name": {"text": "the name"}, "gender": "male"}]}),
    ("Delete Nested Primitive #1", {"contact": [{"name": {"text": "a name"}, "gender": "male"}]},
     [op("delete", "Patient.contact[0].gender")], {"contact": [{"name": {"text": "a name"}}]}),
    ("Delete Nested Primitive #2", {"contact": [{"name": {"text": "a name"}, "gender": "male"}]},
     [op("delete", "Patient.contact[0].name.text")], {"contact": [{"gender": "male"}]}),
    ("Add Nested Primitive", {"contact": [{"name": {"text": "a name"}}]},
     [op("add", "Patient.contact[0]", name={"valueString": "gender"}, value={"valueCode": "male"})],
     {"contact": [{"name": {"text": "a name"}, "gender": "male"}]}),
    ("Add Complex", {},
     [op("add", "Patient", name={"valueString": "maritalStatus"}, value={"valueCodeableConcept": {"text": "married"}})],
     {"maritalStatus": {"text": "married"}}),
    ("Replace Complex", {"maritalStatus": {"id": "1", "text": "married"}},
     [op("replace", "Patient.maritalStatus", value={"valueCodeableConcept": {"id": "2", "text": "not married"}})],
     {"maritalStatus": {"id": "2", "text": "not married"}}),
    ("Delete Complex", {"maritalStatus": {"text": "married"}}, [op("delete", "Patient.maritalStatus")], {}),
    ("Add Anonymous Type", {},
     [op("add", "Patient", name={"valueString": "contact"},
         value={"part": [{"name": "name", "valueHumanName": {"text": "a name"}}]})],
     {"contact": [{"name": {"text": "a name"}}]}),
    ("Delete Anonymous Type", {"contact": [{"name": {"text": "a name"}}]}, [op("delete", "Patient.contact[0]")], {}),
    ("List unchanged, contents changed",
     {"identifier": [{"id": "a", **ids("value 1")[0]}, {"id": "b", **ids("value 2")[0]}]},
     [op("replace", "Patient.identifier[0].value", value={"valueString": "value 2"}),
      op("replace", "Patient.identifier[1].value", value={"valueString": "value 1"})],
     {"identifier": [{"id": "a", **ids("value 2")[0]}, {"id": "b", **ids("value 1")[0]}]}),
    ("Add to list", {"identifier": ids("value 1", "value 2")},
     [op("insert", "Patient.identifier", index={"valueInteger": 2}, value={"valueIdentifier": ids("value 3")[0]})],
     {"identifier": ids("value 1", "value 2", "value 3")}),
    ("Insert in list #1", {"identifier": ids("value 1", "value 2")},
     [op("insert", "Patient.identifier", index={"valueInteger": 1}, value={"valueIdentifier": ids("value 3")[0]})],
     {"identifier": ids("value 1", "value 3", "value 2")}),
    ("Insert in list #2", {"identifier": ids("value 1", "value 2")},
     [op("insert", "Patient.identifier", index={"valueInteger": 0}, value={"valueIdentifier": ids("value 3")[0]})],
     {"identifier": ids("value 3", "value 1", "value 2")}),
    ("Delete from List #1", {"identifier": ids("value 1", "value 2", "value 3")},
     [op("delete", "Patient.identifier[0]")], {"identifier": ids("value 2", "value 3")}),
    ("Delete from List #2", {"identifier": ids("value 1", "value 2", "value 3")},
     [op("delete", "Patient.identifier[1]")], {"identifier": ids("value 1", "value 3")}),
    ("Delete from List #3", {"identifier": ids("value 1", "value 2", "value 3")},
     [op("delete", "Patient.identifier[2]")], {"identifier": ids("value 1", "value 2")}),
    ("Reorder List #1", {"identifier": ids("value 1", "value 2", "value 3", "value 4")},
     [op("move", "Patient.identifier", source={"valueInteger": 3}, destination={"valueInteger": 1})],
     {"identifier": ids("value 1", "value 4", "value 2", "value 3")}),
    ("Reorder List #2", {"identifier": ids("value 1", "value 2", "value 3", "value 4")},
     [op("move", "Patient.identifier", source={"valueInteger": 3}, destination={"valueInteger": 0})],
     {"identifier": ids("value 4", "value 1", "value 2", "value 3")}),
    ("Reorder List #3", {"identifier": ids("value 1", "value 2", "value 3", "value 4")},
     [op("move", "Patient.identifier", source={"valueInteger": 3}, destination={"valueInteger": 2})],
     {"identifier": ids("value 1", "value 2", "value 4", "value 3")}),
    ("Reorder List #4", {"identifier": ids("value 1", "value 2", "value 3", "value 4")},
     [op("move", "Patient.identifier", source={"valueInteger": 0}, destination={"valueInteger": 3})],
     {"identifier": ids("value 2", "value 3", "value 4", "value 1")}),
    ("Reorder List #5", {"identifier": ids("value 1", "value 2", "value 3", "value 4")},
     [op("move", "Patient.identifier", source={"valueInteger": 1}, destination={"valueInteger": 0}),
      op("move", "Patient.identifier", source={"valueInteger": 2}, destination={"valueInteger": 1})],
     {"identifier": ids("value 2", "value 3", "value 1", "value 4")}),
    ("Reorder List #6", {"identifier": ids("value 1", "value 2", "value 3", "value 4")},
     [op("move", "Patient.identifier", source={"valueInteger": 3}, destination={"valueInteger": d}) for d in (0, 1, 2)],
     {"identifier": ids("value 4", "value 3", "value 2", "value 1")}),
    ("Operation on missing element #2", {},
     [op("add", "Patient", name={"valueString": "identifier"}, value={"valueIdentifier": ids("value 3")[0]})],
     {"identifier": ids("value 3")}),
    ("Full Resource (name part)", {"name": [{"use": "official", "family": "Chalmers"}, {"use": "usual"}]},
     [op("replace", "Patient.name[0].family", value={"valueString": "Chalmers1"})],
     {"name": [{"use": "official", "family": "Chalmers1"}, {"use": "usual"}]}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "before", "operations", "after"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_spec_case(name: str, before: dict[str, Any], operations: list[dict[str, Any]], after: dict[str, Any]) -> None:
    resource = {"resourceType": "Patient", **before}
    assert apply_fhirpath_patch(resource, patch(*operations)) == {"resourceType": "Patient", **after}


def test_spec_case_operation_on_missing_element() -> None:
    resource = {"resourceType": "Patient", "identifier": [{"use": "official", "value": "123"}]}
    path = "Patient.identifier.where(use = 'official').period"
    with pytest.raises(Unprocessable, match="matched no element") as caught:
        apply_fhirpath_patch(resource, patch(op("add", path, name={"valueString": "end"}, value={"valueDate": "2021"})))
    assert caught.value.issues[0].expression == "Parameters.parameter[0]"


# --- path forms --------------------------------------------------------------------------------------


def test_where_on_identifier_system_then_value() -> None:
    path = "Patient.identifier.where(system='http://x').value"
    patched = apply_fhirpath_patch(_patient(), patch(op("replace", path, value={"valueString": "9"})))
    assert [i["value"] for i in patched["identifier"]] == ["9", "2"]


def test_where_on_telecom_use_deletes_only_that_entry() -> None:
    patched = apply_fhirpath_patch(_patient(), patch(op("delete", "Patient.telecom.where(use='home')")))
    assert patched["telecom"] == [{"system": "phone", "use": "work", "value": "2"}]


def test_indexed_list_of_primitives() -> None:
    patched = apply_fhirpath_patch(_patient(), patch(
        op("replace", "Patient.name[0].given[1]", value={"valueString": "J."}),
        op("insert", "Patient.name[0].given", index={"valueInteger": 0}, value={"valueString": "Dr"}),
        op("add", "Patient.name[1]", name={"valueString": "given"}, value={"valueString": "Jimmy"}),
    ))  # fmt: skip
    assert patched["name"][0]["given"] == ["Dr", "Peter", "J."]
    assert patched["name"][1]["given"] == ["Jim", "Jimmy"]


def test_coding_index_on_observation() -> None:
    codings = [{"system": "http://loinc.org", "code": "1"}, {"system": "http://x", "code": "2"}]
    observation = {"resourceType": "Observation", "status": "final", "code": {"coding": codings}}
    patched = apply_fhirpath_patch(observation, patch(op("delete", "Observation.code.coding[1]")))
    assert patched["code"]["coding"] == [{"system": "http://loinc.org", "code": "1"}]


def test_extension_by_url_with_where_and_extension_function() -> None:
    patched = apply_fhirpath_patch(_patient(), patch(
        op("replace", "Patient.extension.where(url='http://e/a').value", value={"valueString": "A"}),
        op("delete", "Patient.extension('http://e/b')"),
    ))  # fmt: skip
    assert patched["extension"] == [{"url": "http://e/a", "valueString": "A"}]


def test_where_criteria_see_choice_elements() -> None:
    patched = apply_fhirpath_patch(_patient(), patch(op("delete", "Patient.extension.where(value = 'b')")))
    assert [e["url"] for e in patched["extension"]] == ["http://e/a"]


def test_contact_name_and_first_last() -> None:
    resource = _patient()
    resource["contact"].append({"name": {"text": "second"}})
    patched = apply_fhirpath_patch(resource, patch(
        op("replace", "Patient.contact[0].name", value={"valueHumanName": {"family": "Doe"}}),
        op("replace", "Patient.contact.last().name.text", value={"valueString": "2nd"}),
        op("replace", "Patient.name.first().family", value={"valueString": "C"}),
    ))  # fmt: skip
    assert patched["contact"] == [{"name": {"family": "Doe"}, "gender": "male"}, {"name": {"text": "2nd"}}]
    assert patched["name"][0]["family"] == "C"


def test_choice_element_by_base_name_replaced_with_another_type() -> None:
    resource = {"resourceType": "Patient", "deceasedBoolean": False, "_deceasedBoolean": {"id": "x"}}
    patched = apply_fhirpath_patch(resource, patch(op("replace", "Patient.deceased", value={"valueDateTime": "2020"})))
    assert patched == {"resourceType": "Patient", "deceasedDateTime": "2020"}
    add = op("add", "Patient", name={"valueString": "deceased"}, value={"valueBoolean": True})
    added = apply_fhirpath_patch({"resourceType": "Patient"}, patch(add))
    assert added == {"resourceType": "Patient", "deceasedBoolean": True}


def test_path_without_the_resource_type() -> None:
    patched = apply_fhirpath_patch(_patient(), patch(op("delete", "birthDate")))
    assert "birthDate" not in patched


def test_path_for_another_resource_type_matches_nothing() -> None:
    assert apply_fhirpath_patch(_patient(), patch(op("delete", "Observation.status"))) == _patient()


# --- primitive extensions (`_x` siblings) --------------------------------------------------------------


def test_delete_and_replace_primitive_drop_its_extension() -> None:
    deleted = apply_fhirpath_patch(_patient(), patch(op("delete", "Patient.birthDate")))
    assert "birthDate" not in deleted and "_birthDate" not in deleted
    replaced = apply_fhirpath_patch(_patient(), patch(op("replace", "Patient.birthDate", value={"valueDate": "1975"})))
    assert replaced["birthDate"] == "1975" and "_birthDate" not in replaced


def test_primitive_value_carries_its_extension() -> None:
    value = {"valueDate": "1975", "_valueDate": {"id": "bd"}}
    replaced = apply_fhirpath_patch(_patient(), patch(op("replace", "Patient.birthDate", value=value)))
    assert replaced["_birthDate"] == {"id": "bd"}


def test_list_of_primitives_keeps_its_extension_list_aligned() -> None:
    resource = {"resourceType": "Patient", "name": [{"given": ["a", "b", "c"], "_given": [None, {"id": "b"}, None]}]}
    inserted = apply_fhirpath_patch(resource, patch(
        op("insert", "Patient.name[0].given", index={"valueInteger": 0}, value={"valueString": "z"})))  # fmt: skip
    assert inserted["name"][0] == {"given": ["z", "a", "b", "c"], "_given": [None, None, {"id": "b"}, None]}
    deleted = apply_fhirpath_patch(resource, patch(op("delete", "Patient.name[0].given[1]")))
    assert deleted["name"][0] == {"given": ["a", "c"]}
    moved = apply_fhirpath_patch(resource, patch(
        op("move", "Patient.name[0].given", source={"valueInteger": 1}, destination={"valueInteger": 2})))  # fmt: skip
    assert moved["name"][0] == {"given": ["a", "c", "b"], "_given": [None, None, {"id": "b"}]}


# --- semantics ---------------------------------------------------------------------------------------


def test_delete_of_nothing_is_not_an_error() -> None:
    assert apply_fhirpath_patch(_patient(), patch(op("delete", "Patient.gender"))) == _patient()


def test_add_appends_to_an_existing_list_and_builds_lists_from_parts() -> None:
    telecom = {"name": "telecom", "valueContactPoint": {"system": "phone", "value": "3"}}
    patched = apply_fhirpath_patch(_patient(), patch(
        op("add", "Patient", name={"valueString": "identifier"}, value={"valueIdentifier": {"value": "3"}}),
        op("add", "Patient", name={"valueString": "contact"},
           value={"part": [{"name": "gender", "valueCode": "female"}, telecom]}),
    ))  # fmt: skip
    assert [i["value"] for i in patched["identifier"]] == ["1", "2", "3"]
    assert patched["contact"][1] == {"gender": "female", "telecom": [{"system": "phone", "value": "3"}]}


def test_add_a_contained_resource() -> None:
    part = {"name": "value", "resource": {"resourceType": "Organization", "id": "o1"}}
    operation = op("add", "Patient", name={"valueString": "contained"})
    operation["part"].append(part)
    patched = apply_fhirpath_patch(_patient(), patch(operation))
    assert patched["contained"] == [{"resourceType": "Organization", "id": "o1"}]


def test_operations_apply_in_order() -> None:
    patched = apply_fhirpath_patch(_patient(), patch(
        op("add", "Patient", name={"valueString": "gender"}, value={"valueCode": "male"}),
        op("replace", "Patient.gender", value={"valueCode": "female"}),
    ))  # fmt: skip
    assert patched["gender"] == "female"


def test_input_and_patch_are_never_mutated_even_on_failure() -> None:
    resource = _patient()
    original = copy.deepcopy(resource)
    value = {"valueHumanName": {"family": "New"}}
    add = op("add", "Patient", name={"valueString": "name"}, value=value)
    document = patch(add, op("replace", "Patient.gender", value={"valueCode": "x"}))
    with pytest.raises(Unprocessable):
        apply_fhirpath_patch(resource, document)
    assert resource == original
    patched = apply_fhirpath_patch(resource, patch(document["parameter"][0]))
    patched["name"][2]["family"] = "Changed"
    assert value == {"valueHumanName": {"family": "New"}}
    assert resource == original


# --- malformed patch documents: 400 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message", "expression"),
    [
        ([], "must be a Parameters resource", None),
        ({"resourceType": "Patient"}, "must be a Parameters resource", None),
        ({"resourceType": "Parameters", "parameter": []}, "holds no operation", "Parameters"),
        (patch({"name": "op", "part": []}), "must be an 'operation'", "Parameters.parameter[0]"),
        (patch(op("delete", "Patient.a"), {"name": "operation"}), "must be an 'operation'", "Parameters.parameter[1]"),
        (patch(op("upsert", "Patient.a")), "Unknown FHIRPath Patch operation type 'upsert'", "Parameters.parameter[0]"),
        (patch({"name": "operation", "part": [{"name": "path", "valueString": "Patient"}]}), "Part 'type'", None),
        (patch(op("delete", "Patient.a", colour={"valueString": "x"})), "Unknown or repeated operation part", None),
        (patch(op("delete", "Patient.a", path={"valueString": "x"})), "Unknown or repeated operation part", None),
        (patch(op("add", "Patient", value={"valueString": "x"})), "lacks the part 'name'", None),
        (patch(op("add", "Patient", name={"valueString": "gender"})), "lacks the part 'value'", None),
        (patch(op("replace", "Patient.gender")), "lacks the part 'value'", None),
        (patch(op("insert", "Patient.name", value={"valueString": "x"})), "lacks the part 'index'", None),
        (patch(op("move", "Patient.name", source={"valueInteger": 0})), "lacks the part 'destination'", None),
        (patch(op("insert", "Patient.name", value={"valueString": "x"}, index={"valueString": "1"})), "integer", None),
        (
            patch(op("move", "Patient.name", source={"valueBoolean": True}, destination={"valueInteger": 0})),
            "Part 'source' must hold one integer",
            None,
        ),
        (patch(op("replace", "Patient.gender", value={"name": "value"})), "needs exactly one value", None),
        (patch(op("delete", "Patient.name.select(given)")), "Unsupported FHIRPath Patch path", None),
        (patch(op("delete", "Patient.name.where()")), "Unsupported", None),
        (patch(op("delete", "Patient.name | Patient.address")), "Unsupported", None),
        (patch(op("delete", "Patient.name.where(use='x'")), "Unbalanced parenthesis", None),
        (patch(op("delete", "Patient.name.where(frobnicate())")), "Cannot evaluate where", "Parameters.parameter[0]"),
        (
            patch(op("insert", "Patient.name[0]", value={"valueString": "x"}, index={"valueInteger": 0})),
            "must end with a list element name",
            "Parameters.parameter[0]",
        ),
        (
            patch(op("add", "Patient", name={"valueString": "contact"}, value={"part": [{"valueString": "x"}]})),
            "needs a name",
            None,
        ),
    ],
)
def test_malformed_patch_is_invalid_request(document: Any, message: str, expression: str | None) -> None:
    with pytest.raises(InvalidRequest, match=message.replace("(", r"\(").replace("[", r"\[")) as caught:
        apply_fhirpath_patch(_patient(), document)
    assert caught.value.status == 400
    if expression is not None:
        assert caught.value.issues[0].expression == expression


# --- well-formed operations that do not fit the resource: 422 ------------------------------------------


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        ([op("replace", "Patient.gender", value={"valueCode": "male"})], "'Patient.gender' matched no element"),
        ([op("replace", "Patient.telecom.where(use='mobile')", value={"valueString": "x"})], "matched no element"),
        ([op("delete", "Patient.identifier")], "matched 2 elements; 'delete' needs exactly one"),
        ([op("replace", "Patient.name.given", value={"valueString": "x"})], "matched 3 elements"),
        ([op("add", "Patient.name", name={"valueString": "text"}, value={"valueString": "x"})], "matched 2 elements"),
        ([op("add", "Patient.birthDate", name={"valueString": "id"}, value={"valueString": "x"})], "is a primitive"),
        ([op("add", "Patient", name={"valueString": "birthDate"}, value={"valueDate": "2000"})], "already has a value"),
        ([op("delete", "Patient")], "resource itself"),
        ([op("replace", "Patient", value={"valueString": "x"})], "resource itself"),
        (
            [op("insert", "Patient.identifier", index={"valueInteger": 3}, value={"valueIdentifier": {}})],
            "out of range",
        ),
        (
            [op("insert", "Patient.identifier", index={"valueInteger": -1}, value={"valueIdentifier": {}})],
            "out of range",
        ),
        ([op("insert", "Patient.birthDate", index={"valueInteger": 0}, value={"valueDate": "2000"})], "is not a list"),
        (
            [op("insert", "Patient.name.given", index={"valueInteger": 0}, value={"valueString": "x"})],
            "'Patient.name.given' matched 2 elements",
        ),
        (
            [op("move", "Patient.identifier", source={"valueInteger": 2}, destination={"valueInteger": 0})],
            "out of range for 'Patient.identifier', which has 2 items",
        ),
        (
            [op("move", "Patient.identifier", source={"valueInteger": 0}, destination={"valueInteger": 2})],
            "out of range",
        ),
        ([op("move", "Patient.address", source={"valueInteger": 0}, destination={"valueInteger": 0})], "out of range"),
    ],
)
def test_unapplicable_operation_is_unprocessable(operations: list[dict[str, Any]], message: str) -> None:
    document = patch(op("delete", "Patient.gender"), *operations)
    with pytest.raises(Unprocessable, match=message.replace("(", r"\(").replace("[", r"\[")) as caught:
        apply_fhirpath_patch(_patient(), document)
    assert caught.value.status == 422
    assert caught.value.issues[0].expression == "Parameters.parameter[1]"


def test_empty_parameters_changes_nothing() -> None:
    """The spec's "No Difference" test case."""
    patient = {"resourceType": "Patient", "id": "p", "gender": "male"}
    assert apply_fhirpath_patch(patient, {"resourceType": "Parameters"}) == patient
