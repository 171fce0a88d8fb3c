"""The one message catalog for texts people read (gettext).

Every diagnostic, page text and CLI message goes through `_()`, so the server can
answer in the caller's language. The caller's language is a context variable set
per request from `Accept-Language`; catalogs live in `fhir_server/locale/`.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "fhir_server"

current_language: ContextVar[str] = ContextVar("current_language", default="en")


@lru_cache(maxsize=64)
def _translations(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)


def _(message: str) -> str:
    """Translate `message` into the current caller's language (English when unknown)."""
    return _translations(current_language.get()).gettext(message)


def preferred_language(accept_language: str | None) -> str:
    """Pick the first language tag of an `Accept-Language` header (RFC 9110 weights)."""
    if not accept_language:
        return "en"
    choices: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*" and weight > 0:
            choices.append((weight, tag.split("-")[0].lower()))
    choices.sort(key=lambda c: -c[0])
    return choices[0][1] if choices else "en"
