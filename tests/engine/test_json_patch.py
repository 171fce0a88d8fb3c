"""JSON Patch (RFC 6902): every operation, the RFC's Appendix A examples, and each error class."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.engine.patch import apply_json_patch
from fhir_server.errors import InvalidRequest, Unprocessable


def _patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "active": True,
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
        "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "a@b"}],
    }


# --- RFC 6902 Appendix A -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "patch", "expected"),
    [
        # A.1 adding an object member
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
        # A.2 adding an array element
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        # A.3 removing an object member
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        # A.4 removing an array element
        ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
        # A.5 replacing a value
        (
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        # A.6 moving a value
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        # A.7 moving an array element
        (
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
        ),
        # A.8 testing a value: success
        (
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
            {"baz": "qux", "foo": ["a", 2, "c"]},
        ),
        # A.10 adding a nested member object
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        # A.11 ignoring unrecognized elements
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
        # A.14 ~ escape ordering
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
        # A.16 adding an array value
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
    ],
)
def test_rfc6902_appendix_a_examples(document: dict[str, Any], patch: list[Any], expected: dict[str, Any]) -> None:
    assert apply_json_patch(document, patch) == expected


def test_rfc6902_a9_failed_test_is_unprocessable() -> None:
    with pytest.raises(Unprocessable, match="test failed"):
        apply_json_patch({"baz": "qux", "foo": ["a", 2, "c"]}, [{"op": "test", "path": "/baz", "value": "bar"}])


def test_rfc6902_a12_adding_to_a_nonexistent_target_is_unprocessable() -> None:
    with pytest.raises(Unprocessable, match="does not exist"):
        apply_json_patch({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}])


def test_rfc6902_a15_comparing_strings_and_numbers() -> None:
    with pytest.raises(Unprocessable):
        apply_json_patch({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}])


# --- FHIR resources --------------------------------------------------------------------------------


def test_add_replace_remove_on_a_patient() -> None:
    patched = apply_json_patch(
        _patient(),
        [
            {"op": "add", "path": "/birthDate", "value": "1974-12-25"},
            {"op": "replace", "path": "/name/0/family", "value": "Chalmers1"},
            {"op": "remove", "path": "/name/0/given/1"},
            {"op": "add", "path": "/name/0/given/0", "value": "Jim"},
        ],
    )
    assert patched["birthDate"] == "1974-12-25"
    assert patched["name"] == [{"family": "Chalmers1", "given": ["Jim", "Peter"]}]


def test_copy_and_move() -> None:
    patched = apply_json_patch(
        _patient(),
        [
            {"op": "copy", "from": "/telecom/0", "path": "/telecom/-"},
            {"op": "move", "from": "/telecom/1", "path": "/telecom/0"},
        ],
    )
    assert [t["value"] for t in patched["telecom"]] == ["a@b", "1", "1"]


def test_copied_value_is_independent_of_its_source() -> None:
    patched = apply_json_patch(
        _patient(),
        [
            {"op": "copy", "from": "/name/0", "path": "/name/-"},
            {"op": "replace", "path": "/name/1/family", "value": "X"},
        ],
    )
    assert [n["family"] for n in patched["name"]] == ["Chalmers", "X"]


def test_move_onto_itself_changes_nothing() -> None:
    assert apply_json_patch(_patient(), [{"op": "move", "from": "/active", "path": "/active"}]) == _patient()


def test_escaped_pointer_tokens() -> None:
    patched = apply_json_patch({"resourceType": "Basic", "a/b": 1, "m~n": 2}, [
        {"op": "replace", "path": "/a~1b", "value": 3},
        {"op": "remove", "path": "/m~0n"},
    ])  # fmt: skip
    assert patched == {"resourceType": "Basic", "a/b": 3}


def test_test_op_compares_json_values_not_python_values() -> None:
    apply_json_patch({"a": 1, "o": {"x": [1, {"y": None}]}}, [
        {"op": "test", "path": "/a", "value": 1.0},
        {"op": "test", "path": "/o", "value": {"x": [1, {"y": None}]}},
    ])  # fmt: skip
    with pytest.raises(Unprocessable):
        apply_json_patch({"active": True}, [{"op": "test", "path": "/active", "value": 1}])
    with pytest.raises(Unprocessable):
        apply_json_patch({"a": [1, 2]}, [{"op": "test", "path": "/a", "value": [1, 2, 3]}])


def test_replace_whole_document() -> None:
    assert apply_json_patch(_patient(), [{"op": "replace", "path": "", "value": {"resourceType": "Patient"}}]) == {
        "resourceType": "Patient"
    }


def test_input_and_patch_are_never_mutated_even_on_failure() -> None:
    resource, value = _patient(), {"family": "New"}
    original = copy.deepcopy(resource)
    patch = [{"op": "add", "path": "/name/-", "value": value}, {"op": "remove", "path": "/nothing"}]
    with pytest.raises(Unprocessable):
        apply_json_patch(resource, patch)
    assert resource == original
    patched = apply_json_patch(resource, patch[:1])
    patched["name"][1]["family"] = "Changed"
    assert value == {"family": "New"}
    assert resource == original


def test_empty_patch_returns_an_equal_copy() -> None:
    resource = _patient()
    patched = apply_json_patch(resource, [])
    assert patched == resource
    assert patched is not resource


# --- malformed patch documents: 400 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"op": "add", "path": "/a", "value": 1}, "JSON array"),
        ("nonsense", "JSON array"),
        ([42], "not a JSON object"),
        ([{"op": "frobnicate", "path": "/a"}], "unknown op 'frobnicate'"),
        ([{"path": "/a", "value": 1}], "unknown op"),
        ([{"op": "add", "value": 1}], "lacks the member 'path'"),
        ([{"op": "add", "path": "/a"}], "lacks the member 'value'"),
        ([{"op": "replace", "path": "/a"}], "lacks the member 'value'"),
        ([{"op": "test", "path": "/a"}], "lacks the member 'value'"),
        ([{"op": "move", "path": "/a"}], "lacks the member 'from'"),
        ([{"op": "copy", "path": "/a"}], "lacks the member 'from'"),
        ([{"op": "remove", "path": "a"}], "not a JSON pointer"),
        ([{"op": "remove", "path": 7}], "not a JSON pointer"),
        ([{"op": "remove", "path": "/a~2b"}], "bad '~' escape"),
        ([{"op": "copy", "from": "name", "path": "/a"}], "not a JSON pointer"),
        ([{"op": "move", "from": "/name", "path": "/name/0"}], "its own child"),
    ],
)
def test_malformed_patch_is_invalid_request(patch: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        apply_json_patch(_patient(), patch)
    assert caught.value.status == 400
    assert not isinstance(caught.value, Unprocessable)


def test_malformed_operation_later_in_the_list_fails_before_anything_is_applied() -> None:
    with pytest.raises(InvalidRequest, match="operation 1"):
        apply_json_patch(_patient(), [{"op": "remove", "path": "/nothing"}, {"op": "nope"}])


# --- well-formed patches that do not fit: 422 --------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ([{"op": "remove", "path": "/birthDate"}], "'/birthDate' does not exist"),
        ([{"op": "replace", "path": "/birthDate", "value": "2000"}], "does not exist"),
        ([{"op": "remove", "path": "/name/5"}], "does not exist"),
        ([{"op": "remove", "path": "/name/01"}], "does not exist"),
        ([{"op": "remove", "path": "/name/-"}], "does not exist"),
        ([{"op": "add", "path": "/name/2", "value": {}}], "out of range"),
        ([{"op": "add", "path": "/name/x", "value": {}}], "out of range"),
        ([{"op": "add", "path": "/active/x", "value": 1}], "not an object or array"),
        ([{"op": "move", "from": "/missing", "path": "/a"}], "'/missing' does not exist"),
        ([{"op": "copy", "from": "/missing", "path": "/a"}], "does not exist"),
        ([{"op": "test", "path": "/active", "value": False}], "test failed"),
        ([{"op": "test", "path": "/missing", "value": 1}], "does not exist"),
        ([{"op": "remove", "path": ""}], "whole resource"),
        ([{"op": "replace", "path": "", "value": [1]}], "not a JSON object"),
    ],
)
def test_unapplicable_patch_is_unprocessable(patch: Any, message: str) -> None:
    with pytest.raises(Unprocessable, match=message) as caught:
        apply_json_patch(_patient(), patch)
    assert caught.value.status == 422
    assert caught.value.issues[0].code == "processing"
