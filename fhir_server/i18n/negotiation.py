"""Choosing the language of an answer among the catalogs the server has.

`Accept-Language` (RFC 9110 §12.5.4) lists language ranges with weights. Each range, best
weight first (header order among equals), is looked up as RFC 4647 §3.4 describes: the range
itself, a more specific language the server has (`pt` finds `pt-BR`), then the range with its
last subtags cut off (`es-MX` finds `es`). `*` stands for the server's default language. A
range with `q=0` excludes the languages it matches. When nothing matches the server answers in
its default language (English) anyway: a text in English serves better than a 406.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

__all__ = ["choose_language", "parse_accept_language", "parse_ui_locales"]

_RANGE = re.compile(r"\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
_MAX_RANGES = 32  # a longer header is cut here: nobody prefers a 33rd language


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """The language ranges of an `Accept-Language` header with their weights, in header order.

    Malformed ranges and weights are skipped, as if they had not been sent.

    >>> parse_accept_language("de-CH, de;q=0.9, *;q=0.1")
    [('de-ch', 1.0), ('de', 0.9), ('*', 0.1)]
    """
    ranges: list[tuple[str, float]] = []
    for part in (header or "").split(",")[:_MAX_RANGES]:
        tag, *params = (p.strip() for p in part.split(";"))
        if not _RANGE.fullmatch(tag):
            continue
        weight: float | None = 1.0
        for param in params:
            name, _sep, value = param.partition("=")
            if name.strip().lower() == "q":
                weight = _weight(value.strip())
        if weight is not None:
            ranges.append((tag.lower(), weight))
    return ranges


def _weight(value: str) -> float | None:
    try:
        weight = float(value)
    except ValueError:
        return None
    return weight if 0.0 <= weight <= 1.0 else None


def parse_ui_locales(value: str | None) -> list[tuple[str, float]]:
    """OpenID Connect `ui_locales`: space-separated BCP 47 tags, most preferred first, as ranges of weight 1."""
    return [(tag.lower(), 1.0) for tag in (value or "").split()[:_MAX_RANGES] if tag != "*" and _RANGE.fullmatch(tag)]


def choose_language(ranges: Sequence[tuple[str, float]], available: Collection[str], default: str | None) -> str | None:
    """The available language that serves `ranges` best, else `default`.

    `available` holds BCP 47 tags as the catalogs name them (`de`, `pt-BR`); the answer is one
    of them, spelled the same way, or `default`.
    """
    by_lower = {tag.lower(): tag for tag in available}
    excluded = [r for r, q in ranges if q == 0 and r != "*"]

    def allowed(tag: str) -> bool:
        return not any(tag == x or tag.startswith(x + "-") for x in excluded)

    for wanted, _q in sorted((rq for rq in ranges if rq[1] > 0), key=lambda rq: -rq[1]):
        if wanted == "*":
            others = [t for t in sorted(by_lower) if allowed(t)]
            if default is not None and default.lower() in others:
                return default
            if others:
                return by_lower[others[0]]
            continue
        found = _lookup(wanted, [t for t in by_lower if allowed(t)])
        if found is not None:
            return by_lower[found]
    return default


def _lookup(wanted: str, tags: list[str]) -> str | None:
    if wanted in tags:
        return wanted
    narrower = sorted(t for t in tags if t.startswith(wanted + "-"))
    if narrower:
        return narrower[0]
    subtags = wanted.split("-")
    while len(subtags) > 1:
        subtags.pop()
        if len(subtags[-1]) == 1:  # a singleton (`x`, `u`) means nothing without what follows it
            subtags.pop()
        if "-".join(subtags) in tags:
            return "-".join(subtags)
    return None
