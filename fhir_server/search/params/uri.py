"""URI search values (search.html#uri): equality, `:below` (stored URI under the value) and `:above`."""

from __future__ import annotations

from typing import Any

from ..escaping import literal_pattern


def _ancestors(value: str) -> list[str]:
    """The value and each of its path prefixes, with and without a trailing slash, down to the authority."""
    scheme, separator, rest = value.partition("://")
    if not separator:
        return [value]
    segments = rest.rstrip("/").split("/")
    prefixes = [value]
    for end in range(len(segments), 0, -1):
        path = f"{scheme}://{'/'.join(segments[:end])}"
        prefixes.extend((path, path + "/"))
    return list(dict.fromkeys(prefixes))


def uri_condition(value: str, modifier: str | None, parameter: str) -> dict[str, Any]:
    """The entry condition on `u`: `:above` lists the value's ancestors so the index still answers it."""
    if modifier == "below":
        return {"u": {"$regex": literal_pattern(value, parameter, anchored=True)}}
    if modifier == "above":
        return {"u": {"$in": _ancestors(value)}}
    return {"u": value}
