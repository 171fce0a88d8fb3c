"""Transaction Bundle assembly: deterministic fullUrls and conditional create/update entries.

Every entry is keyed by one business identifier (`system|value`). Entries reference each other by
their `urn:uuid:` fullUrl, which the server rewrites to the matched or the new resource — that is the
transaction-safe form of a conditional reference (`Patient?identifier=...`), which the server would
resolve only against already stored data and so could not name a Patient created by the same Bundle.

Resources that only this adapter writes (DiagnosticReport, Observation and Specimen under the
`urn:hl7v2:` keys) live at an id derived from their key (`own`): the server finds them all with
one read by id instead of one search per entry (a result message has ten or more), and two
messages racing for one collide on its version instead of creating it twice. Patients, Encounters,
orders and review Tasks may come from elsewhere (REST, ADT, outbound orders) or be changed by
people, so they stay conditional.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

_NAMESPACE = uuid.UUID("6f1c2a4e-2f87-4a53-9d59-6b1a3f0c7e21")


def escape_token(text: str) -> str:
    """A token search value with FHIR search escapes (`\\ , $ |`)."""
    for ch in ("\\", ",", "$", "|"):
        text = text.replace(ch, "\\" + ch)
    return text


def identifier_query(identifier: dict[str, Any]) -> str:
    """`identifier=system|value`, escaped and URL-encoded."""
    token = escape_token(identifier.get("system", "")) + "|" + escape_token(identifier["value"])
    return "identifier=" + quote(token, safe="|:/")


@dataclass
class Transaction:
    """Entries of a transaction Bundle; one entry per (type, key identifier) — later puts replace earlier ones."""

    entries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def _add(self, resource: dict[str, Any], key: dict[str, Any], request: dict[str, Any]) -> str:
        rtype = resource["resourceType"]
        query = identifier_query(key)
        full_url = f"urn:uuid:{key_id(rtype, key)}"
        entry = {"fullUrl": full_url, "resource": resource, "request": request}
        self.entries[(rtype, query)] = entry
        return full_url

    def create(self, resource: dict[str, Any], key: dict[str, Any]) -> str:
        """A conditional create (`ifNoneExist` on `key`): a stored match is left as it is. Returns the fullUrl."""
        query = identifier_query(key)
        return self._add(resource, key, {"method": "POST", "url": resource["resourceType"], "ifNoneExist": query})

    def update(self, resource: dict[str, Any], key: dict[str, Any]) -> str:
        """A conditional update (`PUT Type?identifier=...`): updates the match or creates. Returns the fullUrl."""
        url = f"{resource['resourceType']}?{identifier_query(key)}"
        return self._add(resource, key, {"method": "PUT", "url": url})

    def own(self, resource: dict[str, Any], key: dict[str, Any]) -> str:
        """An update at the id derived from `key` (`PUT Type/<id>`, created when absent). Returns the fullUrl."""
        resource["id"] = key_id(resource["resourceType"], key)
        return self._add(resource, key, {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"})

    def has(self, resource_type: str, key: dict[str, Any]) -> bool:
        """Whether an entry for this resource type and key exists already."""
        return (resource_type, identifier_query(key)) in self.entries

    def bundle(self) -> dict[str, Any]:
        """The transaction Bundle."""
        return {"resourceType": "Bundle", "type": "transaction", "entry": list(self.entries.values())}


def key_id(resource_type: str, key: dict[str, Any]) -> str:
    """A stable id for the resource of this type with this key identifier (a name-based UUID)."""
    return str(uuid.uuid5(_NAMESPACE, f"{resource_type}?{identifier_query(key)}"))


def ref(full_url: str, display: str | None = None) -> dict[str, Any]:
    """A Reference to a Bundle entry."""
    out: dict[str, Any] = {"reference": full_url}
    if display:
        out["display"] = display
    return out
