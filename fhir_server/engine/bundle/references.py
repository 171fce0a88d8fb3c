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
    """A copy of `node` with mapped references replaced and conditional references resolved."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "text" and isinstance(value, dict) and "div" in value:
                out[key] = value  # narrative links stay as they are
            elif key == "reference" and isinstance(value, str):
                out[key] = await _reference(value, mapping, resolve)
            else:
                out[key] = await rewrite_references(value, mapping, resolve)
        return out
    if isinstance(node, list):
        return [await rewrite_references(item, mapping, resolve) for item in node]
    if isinstance(node, str) and node in mapping:
        return mapping[node]  # uri/url/oid/uuid elements that name a Bundle entry
    return node


async def _reference(value: str, mapping: dict[str, str], resolve: Resolve) -> str:
    if value in mapping:
        return mapping[value]
    if "?" in value and not value.startswith(("urn:", "http://", "https://", "#")):
        return await resolve(value)
    return value
