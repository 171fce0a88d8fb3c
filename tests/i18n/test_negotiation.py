"""Choosing the answer's language: Accept-Language (RFC 9110, RFC 4647 lookup) and ui_locales."""

from __future__ import annotations

import contextvars

import pytest

from fhir_server.i18n import _, available_languages, current_language, preferred_language, ui_language, use_language
from fhir_server.i18n.negotiation import choose_language, parse_accept_language


def test_the_server_has_english_spanish_and_german() -> None:
    assert available_languages()[0] == "en"
    assert {"de", "es"} <= set(available_languages())


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("de", "de"),
        ("DE", "de"),
        ("es-MX", "es"),
        ("es-419", "es"),
        ("de-CH-1996", "de"),
        ("zh-Hant-TW, es;q=0.5", "es"),
        ("fr", "en"),
        ("fr-CA, fr;q=0.9", "en"),
        ("fr, de;q=0.1", "de"),
        ("de;q=0.5, es;q=0.8", "es"),
        ("es;q=0.8, de;q=0.8", "es"),
        ("de;q=0.8, es;q=0.8", "de"),
        ("en;q=0.5, de", "de"),
        ("en, de", "en"),
        ("*", "en"),
        ("fr, *;q=0.1", "en"),
        ("en;q=0, *", "de"),
        ("es;q=0, es-MX", "en"),
        ("de;q=0", "en"),
        ("es;q=0, de;q=0, en;q=0, *", "en"),
        ("de;q=abc, es", "es"),
        ("de;q=2, es", "es"),
        ("de ; q=0.7 , es ; q=0.3", "de"),
        ("x-klingon, de;q=0.2", "de"),
        ("de-x-private", "de"),
        ("12, de;q=0.1", "de"),
        (",,;;, es", "es"),
    ],
)
def test_preferred_language(header: str | None, language: str) -> None:
    assert preferred_language(header) == language


def test_a_range_finds_a_more_specific_language_and_cuts_subtags_off() -> None:
    available = ("en", "pt-BR", "zh-Hant")
    assert choose_language([("pt", 1.0)], available, "en") == "pt-BR"
    assert choose_language([("zh-hant-tw", 1.0)], available, "en") == "zh-Hant"
    assert choose_language([("zh", 1.0)], available, "en") == "zh-Hant"
    assert choose_language([("pt-br", 0.0), ("pt", 1.0)], available, "en") == "en"
    assert choose_language([("fr", 1.0)], available, None) is None


def test_parse_accept_language_keeps_header_order_and_weights() -> None:
    assert parse_accept_language("de-CH, de;q=0.9, *;q=0.1, en;q=0") == [
        ("de-ch", 1.0),
        ("de", 0.9),
        ("*", 0.1),
        ("en", 0.0),
    ]
    assert len(parse_accept_language(", ".join(["fr"] * 1000))) == 32


def test_ui_locales_picks_the_first_available_tag_or_none() -> None:
    assert ui_language("fr-CA de es") == "de"
    assert ui_language("es-AR") == "es"
    assert ui_language("fr") is None
    assert ui_language("") is None and ui_language(None) is None
    assert ui_language("*") is None


def test_texts_are_english_outside_a_request_and_translated_in_one() -> None:
    assert _("Sign in") == "Sign in" and current_language() == "en"

    def in_german() -> tuple[str, str]:
        use_language("de")
        return _("Sign in"), current_language()

    assert contextvars.copy_context().run(in_german) == ("Anmelden", "de")
    assert _("Sign in") == "Sign in", "the language stays with its context"
