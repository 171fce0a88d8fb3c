"""Parse a search query string once, into a typed request. https://hl7.org/fhir/R4/search.html

Parameters this server does not know are collected, not fatal: they are left out of the
self link (search.html#errors), unless the client asked for `Prefer: handling=strict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import InvalidRequest
from ..i18n import _

SEARCH_PARAMETERS = ("_id", "_lastUpdated")
"""The parameters every resource type can be searched by (more arrive with full search)."""

RESULT_PARAMETERS = ("_count", "_summary", "_total", "_cursor")
IGNORED_PARAMETERS = ("_format", "_pretty")
"""Accepted and harmless: the answer is always JSON, and formatting is the client's business."""


class Filter(NamedTuple):
    """One search parameter occurrence: a comma means OR, a repeated parameter means AND."""

    code: str
    modifier: str | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class SearchRequest:
    resource_type: str
    filters: tuple[Filter, ...]
    count: int
    cursor: str | None = None
    summary_count: bool = False
    total: str = "accurate"
    unknown: tuple[str, ...] = ()


def _split_values(raw: str) -> tuple[str, ...]:
    """Split on commas that are not escaped with a backslash (search.html#escaping)."""
    values, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    values.append("".join(current))
    return tuple(values)


def parse_count(raw: str, default: int, maximum: int, parameter: str = "_count") -> int:
    """A page size: a non-negative integer, capped at `maximum`."""
    if not raw:
        return default
    if not raw.isdigit():
        raise InvalidRequest(
            _("'{value}' is not a valid value for '{parameter}': a whole number is expected.").format(
                value=raw[:40], parameter=parameter
            ),
            expression=parameter,
        )
    return min(int(raw), maximum)


def parse_search_request(
    resource_type: str, query: Sequence[tuple[str, str]], *, default_count: int, max_count: int, strict: bool
) -> SearchRequest:
    """Turn query pairs into a SearchRequest; raise InvalidRequest for a malformed or (strict) unknown parameter."""
    filters: list[Filter] = []
    unknown: list[str] = []
    count, cursor, summary_count, total = default_count, None, False, "accurate"
    for name, raw in query:
        code, _sep, modifier = name.partition(":")
        if code in SEARCH_PARAMETERS:
            if modifier:
                unknown.append(name)
                continue
            filters.append(Filter(code, None, _split_values(raw)))
        elif code == "_count":
            count = parse_count(raw, default_count, max_count)
        elif code == "_cursor":
            cursor = raw
        elif code == "_summary" and raw in ("count", "false"):
            summary_count = raw == "count"
        elif code == "_total" and raw in ("none", "estimate", "accurate"):
            total = raw
        elif code in IGNORED_PARAMETERS:
            continue
        else:
            unknown.append(name)
    if strict and unknown:
        raise InvalidRequest(
            _("Unknown or unsupported search parameters: {names}.").format(names=", ".join(sorted(set(unknown)))),
            expression=unknown[0],
        )
    return SearchRequest(resource_type, tuple(filters), count, cursor, summary_count, total, tuple(unknown))
