"""Splitting search values on separators a client may escape. https://hl7.org/fhir/R4/search.html#escaping"""

from __future__ import annotations

import re

from ..errors import InvalidRequest, Issue
from ..i18n import _

MAX_REGEX_BYTES = 32_764
"""MongoDB refuses a longer regular expression pattern (error 51091); a longer value is refused first."""


def split_unescaped(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not escaped with a backslash.

    The escape of the separator itself is removed; every other escape (`\\|`, `\\$`, `\\\\`) is
    kept for the parser of each part, which knows what its own separators are.
    """
    return _split(text, separator, keep_other_escapes=True)


def split_escaped(text: str, separator: str) -> list[str]:
    """Split on `separator` where not backslash-escaped, then drop the escapes (`\\x` -> `x`)."""
    return _split(text, separator, keep_other_escapes=False)


def _split(text: str, separator: str, *, keep_other_escapes: bool) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char if keep_other_escapes and char != separator else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def literal_pattern(text: str, parameter: str, *, anchored: bool) -> str:
    """A regular expression matching `text` literally (at the start when `anchored`); 400 when the
    database would refuse it as too long."""
    pattern = ("^" if anchored else "") + re.escape(text)
    size = len(pattern.encode())
    if size > MAX_REGEX_BYTES:
        message = _("The value of '{parameter}' is too long to search for ({size} bytes).").format(
            parameter=parameter, size=size
        )
        raise InvalidRequest(message, issues=[Issue("error", "too-long", message, parameter)])
    return pattern
