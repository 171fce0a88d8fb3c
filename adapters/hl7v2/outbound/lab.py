"""Which labs take orders over MLLP, read from their Organization and Endpoint resources.

A lab is an Organization whose `endpoint` names an active Endpoint with connectionType
`hl7v2-mllp` (http://terminology.hl7.org/CodeSystem/endpoint-connection-type) and address
`mllp://host:port` (`mllps://` for TLS). The message is chosen by a payloadType coding of HL7
table 0354 (http://terminology.hl7.org/CodeSystem/v2-0354): `OML_O21` (the default) or
`ORM_O01`. `Endpoint.header` entries `MSH-n: value` set MSH-3, 4, 5, 6, 11 and 12 (sending and
receiving application and facility, processing id, version; version 2.5.1 by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fhir_server.i18n import _

CONNECTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
CONNECTION_CODE = "hl7v2-mllp"
STRUCTURE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0354"
STRUCTURES = {"OML_O21": ("OML", "O21"), "ORM_O01": ("ORM", "O01")}
VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8")
HEADER_FIELDS = {3: "sending_app", 4: "sending_facility", 5: "receiving_app", 6: "receiving_facility",
                 11: "processing_id", 12: "version"}  # fmt: skip


class LabConfigError(ValueError):
    """An Endpoint that claims to be an MLLP lab but cannot be used; the text says what to fix."""


@dataclass(frozen=True)
class Lab:
    """Where and how to send a lab's orders."""

    organization: str
    endpoint: str
    host: str
    port: int
    tls: bool
    structure: str = "OML_O21"
    version: str = "2.5.1"
    sending_app: str = "FHIR-SERVER"
    sending_facility: str = ""
    receiving_app: str = ""
    receiving_facility: str = ""
    processing_id: str = "P"

    @property
    def message_type(self) -> tuple[str, str]:
        """MSH-9.1 and MSH-9.2, e.g. ("OML", "O21")."""
        return STRUCTURES[self.structure]


def is_mllp(endpoint: Mapping[str, Any]) -> bool:
    """Whether an Endpoint is an active HL7 v2 MLLP connection."""
    kind = endpoint.get("connectionType") or {}
    return (
        endpoint.get("status") == "active"
        and kind.get("code") == CONNECTION_CODE
        and kind.get("system", CONNECTION_SYSTEM) == CONNECTION_SYSTEM
    )


def endpoint_references(organization: Mapping[str, Any]) -> list[str]:
    """The relative `Endpoint/id` references of an Organization, in order."""
    out = []
    for reference in organization.get("endpoint") or ():
        value = str((reference or {}).get("reference", ""))
        if value.startswith("Endpoint/") and value.count("/") == 1:
            out.append(value)
    return out


def lab_of(organization: str, endpoint_reference: str, endpoint: Mapping[str, Any]) -> Lab:
    """The Lab an MLLP Endpoint describes. Raises LabConfigError naming the element to fix."""
    address = str(endpoint.get("address", ""))
    parts = urlsplit(address)
    if parts.scheme not in ("mllp", "mllps") or not parts.hostname:
        raise LabConfigError(
            _("{endpoint}: Endpoint.address '{address}' is not mllp://host:port or mllps://host:port.").format(
                endpoint=endpoint_reference, address=address
            )
        )
    try:
        port = parts.port or 2575
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise LabConfigError(
            _("{endpoint}: Endpoint.address '{address}' has no valid port.").format(
                endpoint=endpoint_reference, address=address
            )
        )
    settings: dict[str, Any] = {"structure": _structure(endpoint_reference, endpoint)}
    settings.update(_header_fields(endpoint_reference, endpoint))
    lab = Lab(organization, endpoint_reference, parts.hostname, port, parts.scheme == "mllps", **settings)
    if lab.version not in VERSIONS:
        raise LabConfigError(
            _("{endpoint}: HL7 version '{version}' (MSH-12) is not one of {versions}.").format(
                endpoint=endpoint_reference, version=lab.version, versions=", ".join(VERSIONS)
            )
        )
    if lab.structure == "OML_O21" and lab.version < "2.4":
        raise LabConfigError(
            _("{endpoint}: OML^O21 needs HL7 version 2.4 or later; use ORM_O01 for {version}.").format(
                endpoint=endpoint_reference, version=lab.version
            )
        )
    return lab


def _structure(reference: str, endpoint: Mapping[str, Any]) -> str:
    for concept in endpoint.get("payloadType") or ():
        for coding in (concept or {}).get("coding") or ():
            if coding.get("system") != STRUCTURE_SYSTEM:
                continue
            code = str(coding.get("code", ""))
            if code not in STRUCTURES:
                raise LabConfigError(
                    _("{endpoint}: payloadType {code} is not OML_O21 or ORM_O01.").format(endpoint=reference, code=code)
                )
            return code
    return "OML_O21"


def _header_fields(reference: str, endpoint: Mapping[str, Any]) -> dict[str, str]:
    """Endpoint.header entries `MSH-n: value` as Lab fields."""
    out: dict[str, str] = {}
    for header in endpoint.get("header") or ():
        name, sep, value = str(header).partition(":")
        number = name.strip().upper().removeprefix("MSH-")
        if not sep or not number.isdigit() or int(number) not in HEADER_FIELDS:
            raise LabConfigError(
                _("{endpoint}: Endpoint.header '{header}' is not 'MSH-n: value' for MSH-3, 4, 5, 6, 11 or 12.").format(
                    endpoint=reference, header=header
                )
            )
        out[HEADER_FIELDS[int(number)]] = value.strip()
    return out
