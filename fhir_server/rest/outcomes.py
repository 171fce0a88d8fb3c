"""The one place that builds OperationOutcome resources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import FhirError, Issue


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue.to_json() for issue in issues]}


def error_outcome(exc: FhirError) -> dict[str, Any]:
    return operation_outcome(exc.issues)


def information_outcome(text: str) -> dict[str, Any]:
    return operation_outcome([Issue("information", "informational", text)])
