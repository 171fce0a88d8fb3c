"""The OperationDefinition resource of a declared operation (R4 operationdefinition.html)."""

from __future__ import annotations

from typing import Any

from ... import __version__
from .declaration import INSTANCE, SYSTEM, TYPE, Operation, Parameter


def _parameter(parameter: Parameter) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": parameter.name,
        "use": parameter.use,
        "min": parameter.min,
        "max": parameter.max,
        "documentation": parameter.documentation,
    }
    if parameter.type:
        out["type"] = parameter.type
    if parameter.parts:
        out["part"] = [_parameter(part) for part in parameter.parts]
    return out


def operation_definition(operation: Operation, base: str) -> dict[str, Any]:
    """What `GET [base]/OperationDefinition/{operation.id}` answers."""
    definition: dict[str, Any] = {
        "resourceType": "OperationDefinition",
        "id": operation.id,
        "url": operation.canonical(base),
        "version": __version__,
        "name": "".join(word[:1].upper() + word[1:] for word in operation.id.replace("-", " ").split()),
        "title": operation.title,
        "status": "active",
        "kind": "operation",
        "publisher": "fhir-server",
        "description": operation.description,
        "affectsState": operation.affects_state,
        "code": operation.code,
        "system": SYSTEM in operation.levels,
        "type": TYPE in operation.levels,
        "instance": INSTANCE in operation.levels,
        "parameter": [_parameter(parameter) for parameter in operation.parameters],
    }
    if operation.resource_types:
        definition["resource"] = list(operation.resource_types)
    return {key: value for key, value in definition.items() if value != []}
