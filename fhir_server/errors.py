"""Errors that end as an OperationOutcome. Every layer imports this module; it imports nothing.

FhirError
 ├── InvalidRequest        400 invalid     (bad JSON, bad resource, id mismatch, bad parameter)
 │    ├── InvalidResource   400 processing/structure/... (validation issues, one per problem)
 │    └── TooCostly         400 too-costly  (a search over the server's limits or its time limit)
 ├── Unauthorized          401 login
 ├── Forbidden             403 forbidden
 ├── ResourceNotFound      404 not-found   (unknown id, unknown type, unknown version)
 ├── MethodNotAllowed      405 not-supported
 ├── NotAcceptable         406 not-supported (a response format the server cannot produce)
 ├── VersionConflict       409 conflict
 ├── ResourceDeleted       410 deleted
 ├── PreconditionFailed    412 conflict    (stale If-Match)
 ├── PayloadTooLarge       413 too-costly
 ├── UnsupportedMediaType  415 not-supported
 ├── Unprocessable         422 processing
 └── StorageUnavailable    503 transient
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: what is wrong and where (a FHIRPath expression)."""

    severity: str  # fatal | error | warning | information
    code: str  # an IssueType code: invalid, structure, required, value, code-invalid, ...
    diagnostics: str
    expression: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = [self.expression]
        return out


class FhirError(Exception):
    """Base of every error that ends as an OperationOutcome."""

    status: ClassVar[int] = 500
    issue_code: ClassVar[str] = "exception"

    def __init__(
        self,
        diagnostics: str,
        *,
        expression: str | None = None,
        headers: Mapping[str, str] | None = None,
        issues: Sequence[Issue] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.headers = dict(headers or {})
        self.issues: list[Issue] = list(issues or [Issue("error", self.issue_code, diagnostics, expression)])


class InvalidRequest(FhirError):
    status, issue_code = 400, "invalid"


class InvalidResource(InvalidRequest):
    """A resource that is not valid R4; `issues` lists every problem found."""

    issue_code = "processing"


class TooCostly(InvalidRequest):
    """A request the server will not run: over a documented limit (search values, depth, time)."""

    issue_code = "too-costly"


class Unauthorized(FhirError):
    status, issue_code = 401, "login"


class Forbidden(FhirError):
    status, issue_code = 403, "forbidden"


class ResourceNotFound(FhirError):
    status, issue_code = 404, "not-found"


class MethodNotAllowed(FhirError):
    status, issue_code = 405, "not-supported"


class NotAcceptable(FhirError):
    status, issue_code = 406, "not-supported"


class VersionConflict(FhirError):
    status, issue_code = 409, "conflict"


class ResourceDeleted(FhirError):
    status, issue_code = 410, "deleted"


class PreconditionFailed(FhirError):
    status, issue_code = 412, "conflict"


class PayloadTooLarge(FhirError):
    status, issue_code = 413, "too-costly"


class UnsupportedMediaType(FhirError):
    status, issue_code = 415, "not-supported"


class Unprocessable(FhirError):
    status, issue_code = 422, "processing"


class StorageUnavailable(FhirError):
    status, issue_code = 503, "transient"
