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

    The walk itself is synchronous and done once (a resource has hundreds of nodes; a coroutine per
    node cost more than the rest of the transaction's own work): it notes where the conditional
    references are, and only their resolution awaits, in document order.
    """
    conditional: list[dict[str, Any]] = []
    copy = _rewrite(node, mapping, conditional)
    resolved = {value: await resolve(value) for value in dict.fromkeys(held["reference"] for held in conditional)}
    for held in conditional:
        held["reference"] = resolved[held["reference"]]
    return copy


def _is_conditional(reference: str) -> bool:
    """`Type?query`: a search that must find the one resource meant."""
    return "?" in reference and not reference.startswith(("urn:", "http://", "https://", "#"))


def _rewrite(node: Any, mapping: dict[str, str], conditional: list[dict[str, Any]]) -> Any:
    """A copy of `node` with mapped references replaced; the copied objects holding a conditional reference
    are added to `conditional`, in document order (narrative left out)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "text" and isinstance(value, dict) and "div" in value:
                out[key] = value  # narrative links stay as they are
            elif key == "reference" and isinstance(value, str):
                if value in mapping:
                    out[key] = mapping[value]
                else:
                    out[key] = value
                    if _is_conditional(value):
                        conditional.append(out)
            else:
                out[key] = _rewrite(value, mapping, conditional)
        return out
    if isinstance(node, list):
        return [_rewrite(item, mapping, conditional) for item in node]
    if isinstance(node, str) and node in mapping:
        return mapping[node]  # uri/url/oid/uuid elements that name a Bundle entry
    return node
