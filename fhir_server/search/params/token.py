"""Token search values (search.html#token): `code`, `system|code`, `|code`, `system|`.

Values arrive split on unescaped commas with the other backslash escapes kept, so `\\|`,
`\\$` and `\\\\` are resolved here, after splitting on the unescaped separators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import InvalidRequest
from ...i18n import _
from ..escaping import literal_pattern, split_escaped
from ..normalize import normalize_string

ValueSetCodes = Callable[[str], list[tuple[str | None, str]]]
"""Expands a value set URL into (system, code) pairs; system None means any system."""


def invalid(value: str, parameter: str, expected: str) -> InvalidRequest:
    """A 400 for a malformed value, naming the parameter and the expected form."""
    return InvalidRequest(
        _("'{value}' is not a valid value for parameter '{parameter}': expected {expected}.").format(
            value=value[:80], parameter=parameter, expected=expected
        ),
        expression=parameter,
    )


def parse_token(value: str, parameter: str) -> tuple[str | None, str | None, bool]:
    """(system, code, system given): `|code` gives ("", code, True), `code` gives (None, code, False)."""
    parts = split_escaped(value, "|")
    if len(parts) == 1:
        return None, parts[0], False
    if len(parts) != 2 or parts == ["", ""]:
        raise invalid(value, parameter, _("'[system|]code' or 'system|'"))
    system, code = parts
    return system, code or None, True


def token_condition(value: str, parameter: str) -> dict[str, Any]:
    """The entry condition for a plain token value."""
    system, code, has_system = parse_token(value, parameter)
    condition: dict[str, Any] = {}
    if has_system:
        condition["s"] = system or None
    if code is not None:
        condition["c"] = code
    return condition


def text_condition(value: str, parameter: str) -> dict[str, Any]:
    """`:text`: the normalized display/text starts with the normalized value."""
    return {"t": {"$regex": literal_pattern(normalize_string(value), parameter, anchored=True)}}


def of_type_condition(value: str, parameter: str) -> dict[str, Any]:
    """`:of-type` on an Identifier: `system|code|value`, the type coding and the identifier value."""
    parts = split_escaped(value, "|")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise invalid(value, parameter, _("'system|code|value'"))
    system, code, identifier = parts
    return {"ts": system or None, "tc": code, "c": identifier}


def in_condition(url: str, parameter: str, value_set_codes: ValueSetCodes | None) -> dict[str, Any]:
    """`:in`: the code is one of the value set's codes (grouped by system to keep the query small)."""
    if value_set_codes is None:
        raise InvalidRequest(
            _("The modifiers ':in' and ':not-in' are not supported for parameter '{parameter}'.").format(
                parameter=parameter
            ),
            expression=parameter,
        )
    by_system: dict[str | None, list[str]] = {}
    for system, code in value_set_codes(url):
        by_system.setdefault(system or None, []).append(code)
    alternatives = [
        {"c": {"$in": codes}} if system is None else {"s": system, "c": {"$in": codes}}
        for system, codes in by_system.items()
    ]
    if not alternatives:
        return {"c": {"$in": []}}
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
