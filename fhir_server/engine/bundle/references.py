"""Rewriting references inside a transaction. https://hl7.org/fhir/R4/http.html#trules

Entries name each other by `fullUrl` (`urn:uuid:...`, `urn:oid:...`, or an absolute URL);
once the server has chosen the ids, every matching reference in the Bundle is rewritten
to `Type/id`, however deeply nested (extensions included). Conditional references
(`Patient?identifier=sys|123`) are resolved by search: exactly one match, else 412.
Narrative is left as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Resolve = Callable[[str], Awaitable[str]]
"""Turns a conditional reference `Type?query` into `Type/id` (raises when it does not match exactly one)."""


async def rewrite_references(node: Any, mapping: dict[str, str], resolve: Resolve) -> Any:
    """A copy of `node` with mapped references replaced and conditional references resolved.

    The walk itself is synchronous (a resource has hundreds of nodes; a coroutine per node cost
    more than the rest of the transaction's own work); only the conditional references await.
    """
    resolved = {value: await resolve(value) for value in dict.fromkeys(_conditional(node, mapping))}
    return _rewrite(node, mapping, resolved)


def _conditional(node: Any, mapping: dict[str, str]) -> list[str]:
    """The conditional references (`Type?query`) in `node`, in document order, narrative left out."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, dict) and "div" in value:
                continue
            if key == "reference" and isinstance(value, str):
                if value not in mapping and "?" in value and not value.startswith(("urn:", "http://", "https://", "#")):
                    found.append(value)
            elif isinstance(value, dict | list):
                found += _conditional(value, mapping)
    elif isinstance(node, list):
        for item in node:
            found += _conditional(item, mapping)
    return found


def _rewrite(node: Any, mapping: dict[str, str], resolved: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "text" and isinstance(value, dict) and "div" in value:
                out[key] = value  # narrative links stay as they are
            elif key == "reference" and isinstance(value, str):
                out[key] = mapping.get(value) or resolved.get(value, value)
            else:
                out[key] = _rewrite(value, mapping, resolved)
        return out
    if isinstance(node, list):
        return [_rewrite(item, mapping, resolved) for item in node]
    if isinstance(node, str) and node in mapping:
        return mapping[node]  # uri/url/oid/uuid elements that name a Bundle entry
    return node
