"""The input of the booking operations: URL parameters and a POSTed Parameters, with resources.

`rest/operations/parameters.py` reads scalar values only; `$hold` and `$book` also take an Appointment
(`appointment-resource`), so this reads the body once into both. A POSTed bare Appointment counts as
`appointment-resource`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from ..errors import InvalidRequest
from ..i18n import _
from ..rest.body import check_media_type, parse_body, read_bytes
from ..rest.context import settings_of

_SCALAR_PREFIX = "value"


@dataclass(frozen=True)
class Inputs:
    values: dict[str, list[str]]
    resources: dict[str, Any]

    def one(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None


def _scalar(parameter: dict[str, Any], position: int) -> str:
    for key, value in parameter.items():
        if not key.startswith(_SCALAR_PREFIX):
            continue
        if isinstance(value, dict):
            if "reference" in value:
                return str(value["reference"])
            if "code" in value:
                return f"{value['system']}|{value['code']}" if value.get("system") else str(value["code"])
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | int | float):
            return str(value)
    raise InvalidRequest(
        _("Parameter '{name}' has no value of a type this operation takes.").format(name=parameter.get("name")),
        expression=f"Parameters.parameter[{position}]",
    )


async def read_inputs(request: Request) -> Inputs:
    """The operation's inputs; raises InvalidRequest naming a malformed parameter."""
    values: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, []).append(value)
    resources: dict[str, Any] = {}
    if request.method != "POST":
        return Inputs(values, resources)
    raw = await read_bytes(request, settings_of(request).max_body_bytes)
    if not raw.strip():
        return Inputs(values, resources)
    body = parse_body(raw, check_media_type(request))
    if isinstance(body, dict) and body.get("resourceType") == "Appointment":
        return Inputs(values, {"appointment-resource": body})
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest(_("An operation takes a Parameters resource in the body."), expression="resourceType")
    parameters = body.get("parameter") or []
    for position, parameter in enumerate(parameters if isinstance(parameters, list) else []):
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise InvalidRequest(_("Each parameter needs a 'name'."), expression=f"Parameters.parameter[{position}]")
        if "resource" in parameter:
            resources[parameter["name"]] = parameter["resource"]
        else:
            values.setdefault(parameter["name"], []).append(_scalar(parameter, position))
    return Inputs(values, resources)
