"""A PO file read by Babel and served (fhir_server/i18n: read_translations, _n)."""

from __future__ import annotations

import contextvars
from pathlib import Path

import pytest
from babel.messages.pofile import PoFileError

from fhir_server.i18n import _n, counts, read_translations, use_language

SAMPLE = r"""msgid ""
msgstr ""
"Language: de\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"
"Content-Type: text/plain; charset=UTF-8\n"

#, python-brace-format
msgid "{type}/{id} was not found."
msgstr "{type}/{id} wurde nicht gefunden."

#, fuzzy
msgid "Sign in"
msgstr "Einloggen?"

msgid "Untranslated"
msgstr ""

msgid "{count} file"
msgid_plural "{count} files"
msgstr[0] "{count} Datei"
msgstr[1] "{count} Dateien"

msgid "{count} half"
msgid_plural "{count} halves"
msgstr[0] "{count} Hälfte"
msgstr[1] ""

#~ msgid "Gone"
#~ msgstr "Weg"
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "fhir_server.po"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


def test_a_catalog_serves_translated_entries_only(sample: Path) -> None:
    catalog = read_translations(sample, "de")
    assert catalog.gettext("{type}/{id} was not found.") == "{type}/{id} wurde nicht gefunden."
    for english in ("Sign in", "Untranslated", "Gone", "Not in the file"):
        assert catalog.gettext(english) == english
    assert catalog.gettext("") != "", "gettext's header entry, as everywhere"


def test_plural_forms_follow_the_header_and_a_half_translated_entry_stays_english(sample: Path) -> None:
    catalog = read_translations(sample, "de")
    assert [catalog.ngettext("{count} file", "{count} files", n) for n in (0, 1, 2)] == [
        "{count} Dateien",
        "{count} Datei",
        "{count} Dateien",
    ]
    assert catalog.ngettext("{count} half", "{count} halves", 1) == "{count} half"
    assert catalog.ngettext("{count} half", "{count} halves", 3) == "{count} halves"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('msgid "a"\nmsgstr "b"\nmsgfoo "c"\n', "Unknown or misformatted keyword on 2"),
        ('msgid "a"\nmsgstr "b"\n\nmsgid "c"\n', "missing msgstr for msgid 'c'"),
        ('"stray"\n', "not in msgid, msgstr or msgctxt"),
    ],
)
def test_a_malformed_catalog_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "broken.po"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PoFileError, match=problem):
        read_translations(path, "de")


def test_n_picks_the_form_for_the_count_in_the_callers_language() -> None:
    singular, plural = "{count:,} resource", "{count:,} resources"
    assert _n(singular, plural, 1) == singular and _n(singular, plural, 0) == plural, "English outside a request"
    assert [counts.resources(n) for n in (1, 2000)] == ["1 resource", "2,000 resources"]

    def in_language(language: str) -> list[str]:
        use_language(language)
        return [counts.resources(n) for n in (1, 2, 1_000_000)]

    assert contextvars.copy_context().run(in_language, "de") == ["1 Ressource", "2 Ressourcen", "1,000,000 Ressourcen"]
    spanish = contextvars.copy_context().run(in_language, "es")
    assert spanish == ["1 recurso", "2 recursos", "1,000,000 de recursos"], "CLDR's three Spanish forms"
    assert counts.resources(1) == "1 resource", "the language stays with its context"
