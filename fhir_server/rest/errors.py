"""Errors become OperationOutcome responses here, and nowhere else.

A FhirError carries its status and issues. Starlette's own HTTP errors (no route: 404, wrong
method: 405) and FastAPI's request validation errors are mapped to FHIR too. Anything else
is a fault of ours: 500, an OperationOutcome with the request id, the stack trace in the log
only (the request context middleware, middleware.py, catches it and sends
`unexpected_error_response`).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..errors import FhirError, Issue, MethodNotAllowed, ResourceNotFound
from ..i18n import _
from .outcomes import error_outcome, operation_outcome
from .responses import FhirResponse


async def on_fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return FhirResponse(error_outcome(exc), status_code=exc.status, headers=exc.headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: FhirError
    if exc.status_code == 405:
        error = MethodNotAllowed(
            _("{method} is not allowed on {path}.").format(method=request.method, path=request.url.path),
            headers=exc.headers,
        )
    elif exc.status_code == 404:
        error = ResourceNotFound(_("There is nothing at {path}.").format(path=request.url.path))
    else:
        error = FhirError(str(exc.detail))
        return FhirResponse(error_outcome(error), status_code=exc.status_code, headers=exc.headers)
    return FhirResponse(error_outcome(error), status_code=error.status, headers=error.headers)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [
        Issue("error", "invalid", str(err.get("msg", "")), ".".join(str(p) for p in err.get("loc", ())))
        for err in exc.errors()
    ]
    return FhirResponse(operation_outcome(issues), status_code=400)


def unexpected_error_response(request_id: str) -> Response:
    """The 500 for a fault of ours: the request id to quote, nothing of the fault itself.

    The request context middleware sends it (and logs the fault) for any exception that reaches it.
    """
    issue = Issue(
        "fatal", "exception", _("Internal server error (request id {request_id}).").format(request_id=request_id)
    )
    return FhirResponse(operation_outcome([issue]), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, on_fhir_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
