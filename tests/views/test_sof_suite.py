"""The official SQL on FHIR v2 test suite (vendored in sof_suite/, MIT, from sql-on-fhir-v2), one case a test.

Each case runs its view over the file's resources with the engine's public API: `expect` rows
(compared as the suite does, in any order), `expectColumns` (the order of `columns`), or
`expectError` (an InvalidView or ViewRuntimeError while validating or making the rows). Every case
runs twice: with the direct accessors of views/fastpath.py, and with fhirpathpy alone.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fhir_server.errors import FhirError
from fhir_server.views import columns, fhirpath, validate_view, view_rows

SUITE = Path(__file__).parent / "sof_suite"


def _cases() -> list[Any]:
    cases = []
    for path in sorted(SUITE.glob("*.json")):
        suite = json.loads(path.read_text())
        for case in suite["tests"]:
            cases.append(pytest.param(suite["resources"], case, id=f"{path.stem}: {case['title']}"))
    return cases


CASES = _cases()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def test_the_whole_suite_is_here() -> None:
    assert len(CASES) == 134


@pytest.fixture(params=["fast paths", "fhirpathpy only"])
def evaluator(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "fhirpathpy only":
        monkeypatch.setattr(fhirpath, "fast_path", lambda _expression, _type: None)


@pytest.mark.parametrize(("resources", "case"), CASES)
def test_case(resources: list[dict[str, Any]], case: dict[str, Any], evaluator: None) -> None:
    view = case["view"]
    if case.get("expectError"):
        with pytest.raises(FhirError):
            validate_view(view)
            list(view_rows(view, resources))
        return
    validate_view(view)
    rows = [{name: _plain(value) for name, value in row.items()} for row in view_rows(view, resources)]
    if "expectColumns" in case:
        assert [column.name for column in columns(view)] == case["expectColumns"]
        assert all(list(row) == case["expectColumns"] for row in rows)
    assert sorted(map(_key, rows)) == sorted(map(_key, case["expect"]))
