"""Which ConceptMap targets count as translations of a code (terminology/translation.py)."""

from __future__ import annotations

from typing import Any

from terminology.translation import translations

LOCAL = "urn:hl7v2:coding-system:L"
LOINC = "http://loinc.org"


def _map(elements: list[dict[str, Any]], status: str = "active", source: str = LOCAL) -> dict[str, Any]:
    return {
        "resourceType": "ConceptMap",
        "status": status,
        "group": [{"source": source, "target": LOINC, "element": elements}],
    }


def test_only_targets_as_broad_or_as_exact_as_the_source_count_and_the_closest_wins() -> None:
    glucose = [
        {"code": "2339-0", "equivalence": "wider"},
        {"code": "2345-7", "equivalence": "equivalent", "display": "Glucose"},
    ]
    elements = [
        {"code": "GLU", "target": glucose},
        {"code": "NA", "target": [{"code": "2951-2"}]},  # no equivalence: read as equivalent
        {"code": "K", "target": [{"code": "2823-3", "equivalence": "narrower"}]},
        {
            "code": "CL",
            "target": [{"code": "2075-0", "equivalence": "inexact"}, {"code": "x", "equivalence": "unmatched"}],
        },
        {"code": "CA", "target": [{"code": "17861-6", "equivalence": "subsumes"}]},
    ]
    found = translations(
        [_map(elements), _map([{"code": "K", "target": [{"code": "6298-4"}]}], status="retired")], LOCAL
    )
    assert found == {
        "GLU": {"system": LOINC, "code": "2345-7", "display": "Glucose"},
        "NA": {"system": LOINC, "code": "2951-2"},
        "CA": {"system": LOINC, "code": "17861-6"},
    }
    assert translations([_map(elements, source="urn:hl7v2:coding-system:OTHER")], LOCAL) == {}
