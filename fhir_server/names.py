"""How a person's name reads on a page, a letter or a label: the FHIR HumanName as people write it."""

from __future__ import annotations

from typing import Any


def display_name(resource: dict[str, Any]) -> str:
    """The first name of the resource as people write it ("Jane Doe"), or its id."""
    for name in resource.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        words = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
        text = " ".join(str(w) for w in words if w)
        if text:
            return text
    return str(resource.get("id", ""))
