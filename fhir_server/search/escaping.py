"""Splitting search values on separators a client may escape. https://hl7.org/fhir/R4/search.html#escaping"""

from __future__ import annotations


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
