"""An operation's input parameters: https://hl7.org/fhir/R4/operations.html#request

An operation is invoked by GET with URL parameters or by POST with a Parameters resource (URL
parameters, if any, count too). Handlers read both as one list of (name, value) pairs.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from ...errors import InvalidRequest
from ...i18n import _
from ..body import check_media_type, parse_body, read_bytes
from ..context import settings_of

_SCALARS = (
    "valueString", "valueCode", "valueId", "valueUri", "valueCanonical", "valueUrl", "valueInstant",
    "valueDateTime", "valueDate", "valueInteger", "valuePositiveInt", "valueUnsignedInt", "valueBoolean",
    "valueDecimal",
)  # fmt: skip


def parameter_value(parameter: dict[str, Any], position: int) -> str:
    """A Parameters.parameter value as it would be written in a URL."""
    for key in _SCALARS:
        if key in parameter:
            value = parameter[key]
            return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(parameter.get("valueCoding"), dict):
        coding = parameter["valueCoding"]
        system, code = coding.get("system"), coding.get("code")
        return f"{system}|{code}" if system else str(code or "")
    if isinstance(parameter.get("valueReference"), dict):
        return str(parameter["valueReference"].get("reference", ""))
    raise InvalidRequest(
        _("Parameter '{name}' has no value of a type this operation takes.").format(name=parameter.get("name")),
        expression=f"Parameters.parameter[{position}]",
    )


Given = tuple[str, dict[str, Any], int]
"""A parameter as given: its name, the Parameters.parameter (a URL one as a valueString) and its position."""


async def given_parameters(request: Request) -> list[Given]:
    """Each URL parameter and, for a POST, each parameter of the Parameters resource in the body."""
    found = [(name, {"name": name, "valueString": value}, 0) for name, value in request.query_params.multi_items()]
    if request.method != "POST":
        return found
    raw = await read_bytes(request, settings_of(request).max_body_bytes)
    if not raw.strip():
        return found
    body = parse_body(raw, check_media_type(request))
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest(_("An operation takes a Parameters resource in the body."), expression="resourceType")
    parameters = body.get("parameter") or []
    if not isinstance(parameters, list):
        raise InvalidRequest(_("'parameter' must be a list."), expression="Parameters.parameter")
    for position, parameter in enumerate(parameters):
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise InvalidRequest(_("Each parameter needs a 'name'."), expression=f"Parameters.parameter[{position}]")
        found.append((parameter["name"], parameter, position))
    return found


async def operation_query(request: Request) -> list[tuple[str, str]]:
    """The URL parameters, and for a POST those of the Parameters resource in the body, as URL text."""
    given = await given_parameters(request)
    return [(name, parameter_value(parameter, position)) for name, parameter, position in given]
