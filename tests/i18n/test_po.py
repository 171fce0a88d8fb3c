"""The PO reader and writer, and the catalogs built from them (fhir_server/i18n/po.py)."""

from __future__ import annotations

import pytest

from fhir_server.i18n import Catalog
from fhir_server.i18n.po import Entry, PoError, dump_po, parse_po

SAMPLE = r"""# A translator's note
msgid ""
msgstr ""
"Language: de\n"
"Content-Type: text/plain; charset=UTF-8\n"

#. from the code
#: fhir_server/rest/errors.py fhir_server/engine/read.py
#, python-brace-format
msgid "{type}/{id} was not found."
msgstr "{type}/{id} wurde nicht gefunden."

msgid ""
"A long message "
"on two lines with \"quotes\", a tab\t and a backslash \\"
msgstr "Eine lange Nachricht mit \"Anführungszeichen\", Tab\t und Backslash \\"

#, fuzzy
msgid "Sign in"
msgstr "Einloggen?"

msgid "Untranslated"
msgstr ""
#~ msgid "Gone"
#~ msgstr "Weg"
"""


def test_parse_reads_header_comments_flags_continuations_and_escapes() -> None:
    entries = parse_po(SAMPLE)
    header, found, long, fuzzy, empty, gone = entries
    assert header.msgid == "" and "Language: de\n" in header.msgstr and header.comments == ["A translator's note"]
    assert found.references == ["fhir_server/rest/errors.py", "fhir_server/engine/read.py"]
    assert found.extracted == ["from the code"] and found.flags == ["python-brace-format"]
    assert found.msgstr == "{type}/{id} wurde nicht gefunden." and found.translated
    assert long.msgid == 'A long message on two lines with "quotes", a tab\t and a backslash \\'
    assert long.msgstr.endswith("Backslash \\")
    assert fuzzy.fuzzy and not fuzzy.translated
    assert not empty.translated
    assert gone.obsolete and gone.msgid == "Gone" and not gone.translated
    assert found.line == 10


def test_dump_then_parse_gives_the_same_entries() -> None:
    entries = parse_po(SAMPLE)
    again = parse_po(dump_po(entries))
    assert [(e.msgid, e.msgstr, e.flags, e.references, e.obsolete) for e in again] == [
        (e.msgid, e.msgstr, e.flags, e.references, e.obsolete) for e in entries
    ]


def test_dump_writes_multiline_texts_one_line_each() -> None:
    text = dump_po([Entry("", "Language: es\nMIME-Version: 1.0\n"), Entry("a\nb", "c\nd", obsolete=True)])
    assert 'msgstr ""\n"Language: es\\n"\n"MIME-Version: 1.0\\n"' in text
    assert '#~ msgid ""\n#~ "a\\n"\n#~ "b"' in text
    parsed = [(e.msgid, e.msgstr) for e in parse_po(text)]
    assert parsed == [("", "Language: es\nMIME-Version: 1.0\n"), ("a\nb", "c\nd")]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('msgid "a"\n', "msgid without msgstr"),
        ('msgstr "a"\n', "without msgid"),
        ('msgid "a"\nmsgid_plural "as"\nmsgstr[0] "x"\n', "plural forms are not supported"),
        ('msgid "a"\nmsgstr "b\\q"\n', "unknown escape"),
        ('msgid "a\nmsgstr "b"\n', "expected a quoted string"),
        ('"stray"\n', "a string outside an entry"),
        ('msgid "a"\nmsgid "b"\nmsgstr ""\n', "msgid given twice"),
        ('msgid "a"\nmsgstr "b"\nmsgfoo "c"\n', "unexpected 'msgfoo'"),
    ],
)
def test_unreadable_files_are_refused_naming_the_line(text: str, problem: str) -> None:
    with pytest.raises(PoError, match=problem) as raised:
        parse_po(text)
    assert str(raised.value).startswith("line ")


def test_a_catalog_serves_translated_entries_only() -> None:
    catalog = Catalog(parse_po(SAMPLE))
    assert catalog.gettext("{type}/{id} was not found.") == "{type}/{id} wurde nicht gefunden."
    for english in ("Sign in", "Untranslated", "Gone", "Not in the file"):
        assert catalog.gettext(english) == english
    assert catalog.gettext("") == "", "the header is not a translation"
