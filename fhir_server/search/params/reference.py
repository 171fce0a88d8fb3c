"""Reference search values (search.html#reference): `id`, `Type/id`, absolute URLs, versions, canonicals.

Local references are stored as `r` = "Type/id", so a bare id becomes an `$in` over the
parameter's target types (equalities the search keys answer). Chains are
resolved by the engine, not here.
"""

from __future__ import annotations

import re
from typing import Any

from ...errors import InvalidRequest
from ...i18n import _
from ..escaping import split_escaped
from .token import invalid, token_condition

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_LOCAL = re.compile(r"(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/(?P<version>[^/]+))?")


def is_type_modifier(modifier: str) -> bool:
    """`subject:Patient` names a resource type, where other modifiers are lower case."""
    return modifier[:1].isupper() and modifier.isalpha()


def _local(value: str, parameter: str, targets: tuple[str, ...]) -> dict[str, Any]:
    match = _LOCAL.fullmatch(value)
    if match is None:
        raise invalid(value, parameter, _("'[Type/]id', an absolute URL or 'url|version'"))
    if targets and match["type"] not in targets:
        raise InvalidRequest(
            _("Parameter '{parameter}' cannot refer to a {type}; allowed: {targets}.").format(
                parameter=parameter, type=match["type"], targets=", ".join(targets)
            ),
            expression=parameter,
        )
    condition: dict[str, Any] = {"r": f"{match['type']}/{match['id']}"}
    if match["version"]:
        condition["rv"] = match["version"]
    return condition


def reference_condition(
    value: str, parameter: str, modifier: str | None, targets: tuple[str, ...], base_url: str | None
) -> dict[str, Any]:
    """The entry condition for one reference value with no modifier, `:identifier` or `:[type]`."""
    if modifier == "identifier":
        return {"ri": True, **token_condition(value, parameter)}
    if base_url and value.startswith(base_url.rstrip("/") + "/"):
        value = value[len(base_url.rstrip("/")) + 1 :]
    if modifier is not None:  # a type modifier: `subject:Patient=123` means Patient/123
        return _local(value if "/" in value else f"{modifier}/{value}", parameter, (modifier,))
    if "://" in value or value.startswith(("urn:", "#")):
        url, *version = split_escaped(value, "|")
        if len(version) > 1:
            raise invalid(value, parameter, _("'url|version'"))
        history = re.fullmatch(r"(?P<url>.+)/_history/(?P<version>[^/]+)", url)
        if history and not version:
            url, version = history["url"], [history["version"]]
        return {"r": url, "rv": version[0]} if version else {"r": url}
    if "/" in value:
        return _local(value, parameter, targets)
    if not _ID.fullmatch(value):
        raise invalid(value, parameter, _("'[Type/]id', an absolute URL or 'url|version'"))
    if targets:
        return {"r": {"$in": [f"{target}/{value}" for target in targets]}}
    return {"r": {"$regex": f"^[A-Za-z]+/{re.escape(value)}$"}}
