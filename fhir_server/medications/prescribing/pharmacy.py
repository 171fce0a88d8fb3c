"""Pharmacies: an Organization with an active Endpoint of connection type `hl7-fhir-rest` whose address is
the pharmacy's FHIR base. A prescription goes to the first Organization of its
`dispenseRequest.performer` that has one; the Endpoint's `header` values (e.g. "Authorization: Bearer ...")
are sent with every request to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...storage import ResourceStore
from .lookup import read_reference

FHIR_REST = "hl7-fhir-rest"


@dataclass(frozen=True)
class Pharmacy:
    organization: str
    address: str
    headers: tuple[str, ...]


def _is_fhir_rest(endpoint: Mapping[str, Any]) -> bool:
    connection = endpoint.get("connectionType") or {}
    return (
        endpoint.get("status") == "active"
        and connection.get("code") == FHIR_REST
        and str(endpoint.get("address", "")).startswith(("http://", "https://"))
    )


async def pharmacy_of(store: ResourceStore, request: Mapping[str, Any]) -> Pharmacy | None:
    """The pharmacy `request` is to be sent to (see the module docstring); None when it names none."""
    performer = str(((request.get("dispenseRequest") or {}).get("performer") or {}).get("reference", ""))
    if not performer.startswith("Organization/"):
        return None
    organization = await read_reference(store, performer)
    for endpoint_ref in (organization or {}).get("endpoint") or []:
        endpoint = await read_reference(store, str((endpoint_ref or {}).get("reference", "")))
        if endpoint is not None and _is_fhir_rest(endpoint):
            return Pharmacy(performer, str(endpoint["address"]).rstrip("/"), tuple(endpoint.get("header") or ()))
    return None
