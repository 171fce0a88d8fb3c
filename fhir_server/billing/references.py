"""Small readers of FHIR references and identifiers shared by charges and claims."""

from __future__ import annotations

from typing import Any

from ..storage import ResourceStore


def reference_of(value: Any) -> str | None:
    """The `reference` of a Reference, or None."""
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) and reference else None


def identifier(resource: dict[str, Any] | None, system: str) -> str | None:
    """The value of the resource's first identifier in `system`."""
    for item in (resource or {}).get("identifier") or []:
        if isinstance(item, dict) and item.get("system") == system and item.get("value"):
            return str(item["value"])
    return None


def codes(concept: Any, system: str) -> list[str]:
    """The codes of a CodeableConcept in `system`."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [
        str(c["code"]) for c in codings or [] if isinstance(c, dict) and c.get("system") == system and c.get("code")
    ]


async def resolve(store: ResourceStore, reference: str | None, *types: str) -> dict[str, Any] | None:
    """The current resource a relative reference (`Organization/1`) names, when of one of `types`."""
    if not reference or reference.count("/") != 1:
        return None
    resource_type, resource_id = reference.split("/")
    if types and resource_type not in types:
        return None
    stored = await store.get(resource_type, resource_id)
    return None if stored is None or stored.deleted else stored.resource()
