"""Transaction Bundle assembly: deterministic fullUrls and conditional create/update entries.

Every entry is keyed by one business identifier (`system|value`). Entries reference each other by
their `urn:uuid:` fullUrl, which the server rewrites to the matched or the new resource — that is the
transaction-safe form of a conditional reference (`Patient?identifier=...`), which the server would
resolve only against already stored data and so could not name a Patient created by the same Bundle.
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


def conditional_reference(resource_type: str, identifier: dict[str, Any]) -> str:
    """A conditional reference `Type?identifier=system|value` (resolved against stored data only)."""
    return f"{resource_type}?{identifier_query(identifier)}"


@dataclass
class Transaction:
    """Entries of a transaction Bundle; one entry per (type, key identifier) — later puts replace earlier ones."""

    entries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def _add(self, resource: dict[str, Any], key: dict[str, Any], request: dict[str, Any]) -> str:
        rtype = resource["resourceType"]
        query = identifier_query(key)
        full_url = f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{rtype}?{query}')}"
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

    def has(self, resource_type: str, key: dict[str, Any]) -> bool:
        """Whether an entry for this resource type and key exists already."""
        return (resource_type, identifier_query(key)) in self.entries

    def bundle(self) -> dict[str, Any]:
        """The transaction Bundle."""
        return {"resourceType": "Bundle", "type": "transaction", "entry": list(self.entries.values())}


def ref(full_url: str, display: str | None = None) -> dict[str, Any]:
    """A Reference to a Bundle entry."""
    out: dict[str, Any] = {"reference": full_url}
    if display:
        out["display"] = display
    return out
