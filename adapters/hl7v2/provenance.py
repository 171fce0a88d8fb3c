"""One Provenance per processed message, written in the message's own transaction.

It follows the v2-to-FHIR IG's MSH[Provenance-Source] and MSH[Provenance-Transformation] maps,
kept to one cheap resource: `target` = every resource of the message's transaction (created,
updated, or found by a conditional create, like a known Patient: which one it was is only known
after the commit, and the Provenance is part of it), `entity` (role source) = the stored message
(its `hl7_messages` id, MSH-9 and MSH-10), `agent` = the sending application and facility
(MSH-3/MSH-4), `activity` = the v2-to-FHIR transformation. So `Provenance?target=Observation/123`
says which message a result came from, and the admin message log (`admin.py`) says what became of
a message. Provenance has no identifier in R4: a reprocessed message gets a second one, as it is a
second transformation.
https://build.fhir.org/ig/HL7/v2-to-fhir/ConceptMap-segment-msh-source-to-provenance.html
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir_server.engine import search_type
from fhir_server.search.registry import default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import ResourceStore

from .access import HL7_POLICY
from .header import Header
from .mapping.bundle import escape_token

MESSAGE_SYSTEM = "urn:hl7v2:message"
"""Identifier system of a stored message (value: its `hl7_messages` id)."""
SENDER_SYSTEM = "urn:hl7v2:sending-application"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def provenance_entry(bundle: dict[str, Any], message_id: str, header: Header, recorded: datetime) -> dict[str, Any]:
    """The POST entry of the Provenance for `bundle`'s resources (referenced by their fullUrls)."""
    targets = [{"reference": entry["fullUrl"]} for entry in bundle.get("entry", []) if entry.get("fullUrl")]
    sender = " ".join(
        p for p in (header.sending_app, f"({header.sending_facility})" if header.sending_facility else "") if p
    )
    provenance = {
        "resourceType": "Provenance",
        "target": targets,
        "recorded": recorded.isoformat(timespec="milliseconds"),
        "activity": {
            "coding": [
                {"system": LIFECYCLE, "code": "transform", "display": "Transform/Translate Record Lifecycle Event"}
            ],
            "text": "v2-FHIR transformation",
        },
        "agent": [
            {
                "type": {"coding": [{"system": PARTICIPANT, "code": "author", "display": "Author"}]},
                "who": {
                    "identifier": {"system": SENDER_SYSTEM, "value": header.sending_app or "unknown"},
                    "display": sender or "unknown",
                },
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": MESSAGE_SYSTEM, "value": message_id},
                    "display": f"HL7 v2 {header.message_type} {header.control_id}",
                },
            }
        ],
    }
    return {"resource": provenance, "request": {"method": "POST", "url": "Provenance"}}


async def written_by(store: ResourceStore, message_id: str) -> list[str] | None:
    """What the committed transaction of stored message `message_id` wrote (its Provenance's targets and the
    Provenance), or None when no transaction of it committed."""
    query = [("entity:identifier", f"{MESSAGE_SYSTEM}|{escape_token(message_id)}"), ("_total", "none")]
    request = parse_search_request("Provenance", query, default_registry(), default_count=1, max_count=1, strict=True)
    records = (await search_type(store, HL7_POLICY, request)).page.records
    if not records:
        return None
    provenance = records[0]
    targets = [t["reference"] for t in provenance.resource().get("target", []) if "reference" in t]
    return [*targets, f"{provenance.reference}/_history/{provenance.version_id}"]
