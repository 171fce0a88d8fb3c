"""The catalogs against the code: every message translated in every language, placeholders kept.

These fail when a `_()` message is added or reworded without its translations; run
`python -m fhir_server.i18n.catalogs update`, translate the new entries, and check again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_server.i18n import catalog_path
from fhir_server.i18n.catalogs import (
    Extraction,
    catalog_languages,
    check_catalog,
    extract,
    main,
    placeholders,
    update_catalog,
)
from fhir_server.i18n.po import parse_po


@pytest.fixture(scope="module")
def code() -> Extraction:
    return extract()


def test_every_message_of_the_code_is_a_literal(code: Extraction) -> None:
    assert code.problems == []
    assert len(code.messages) > 400
    assert "{type}/{id} was not found." in code.messages, "from the Python code"
    assert "Sign in" in code.messages and "Username" in code.messages, "from the templates too"
    assert "Value must be a JSON boolean (true or false)" in code.messages, "from profiles/"


@pytest.mark.parametrize("language", ["es", "de"])
def test_the_catalog_translates_every_message_and_keeps_its_placeholders(code: Extraction, language: str) -> None:
    assert language in catalog_languages()
    report = check_catalog(language, code)
    assert report.errors == []
    assert report.missing == [], f"untranslated in {language}: run python -m fhir_server.i18n.catalogs update"
    assert report.placeholders == []
    assert report.obsolete == []


def test_the_check_command_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "de: " in out and "es: " in out and "missing" not in out


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("{type}/{id} was not found.", ["{id}", "{type}"]),
        ("{seconds:.1f} s, {name!r}", ["{name!r}", "{seconds:.1f}"]),
        ("%s of %(count)d, 50 % more, 100%%", ["%%", "%(count)d", "%s"]),
        ("literal {{braces}}", ["{{", "}}"]),
        ("nothing", []),
    ],
)
def test_placeholders(text: str, found: list[str]) -> None:
    assert placeholders(text) == found


def _tree(root: Path, python: str, template: str = "") -> None:
    for package in ("fhir_server", "adapters", "profiles", "terminology"):
        (root / package).mkdir(parents=True, exist_ok=True)
    (root / "fhir_server" / "module.py").write_text(python)
    templates = root / "fhir_server" / "pages" / "templates"
    templates.mkdir(parents=True)
    (templates / "page.html").write_text(template)


def test_non_literal_calls_are_reported_with_their_place(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        'from fhir_server.i18n import _\n\nname = "x"\n'
        'a = _(f"Hello {name}")\nb = _(name)\nc = _("a" + name)\nd = _("ok")\ne = _("")\nf = _("x", "y")\n',
        '{{ _("Fine") }}\n{{ _(title) }}\n',
    )
    found = extract(tmp_path)
    assert list(found.messages) == ["ok", "Fine"]
    lines = [problem.split(": ")[0] for problem in found.problems]
    assert lines == [
        "fhir_server/module.py:4",
        "fhir_server/module.py:5",
        "fhir_server/module.py:6",
        "fhir_server/module.py:8",
        "fhir_server/module.py:9",
        "fhir_server/pages/templates/page.html:2",
    ]


def test_update_adds_new_messages_retires_gone_ones_and_check_reports_them(tmp_path: Path) -> None:
    _tree(tmp_path, 'from fhir_server.i18n import _\na = _("Old {name}")\nb = _("Kept")\n')
    locale = tmp_path / "locale"
    assert update_catalog("fr", extract(tmp_path), locale) == (2, 0)
    path = catalog_path("fr", locale)
    text = path.read_text().replace('msgid "Old {name}"\nmsgstr ""', 'msgid "Old {name}"\nmsgstr "Vieux {nom}"')
    path.write_text(text.replace('msgid "Kept"\nmsgstr ""', 'msgid "Kept"\nmsgstr "Gardé"'))
    report = check_catalog("fr", extract(tmp_path), locale)
    assert report.missing == [] and report.placeholders == ["'Old {name}' -> 'Vieux {nom}'"]

    (tmp_path / "fhir_server" / "module.py").write_text('from fhir_server.i18n import _\nb = _("Kept")\nc = _("New")\n')
    code = extract(tmp_path)
    assert check_catalog("fr", code, locale).obsolete == ["Old {name}"]
    assert update_catalog("fr", code, locale) == (1, 1)
    entries = {e.msgid: e for e in parse_po(path.read_text())}
    assert entries["Old {name}"].obsolete and entries["Old {name}"].msgstr == "Vieux {nom}", "kept for a translator"
    assert entries["Kept"].msgstr == "Gardé" and entries["New"].msgstr == ""
    assert entries["Kept"].references == ["fhir_server/module.py"]
    assert "Language: fr\n" in entries[""].msgstr
    report = check_catalog("fr", code, locale)
    assert report.missing == ["New"] and report.obsolete == [] and report.placeholders == []
