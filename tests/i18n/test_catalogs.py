"""The catalogs against the code: every message translated in every language, placeholders kept.

These fail when a `_()` message is added or reworded without its translations; run
`python -m fhir_server.i18n.catalogs update`, translate the new entries, and check again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from fhir_server.i18n import catalog_path, forms
from fhir_server.i18n.catalogs import (
    ROOT,
    Extraction,
    catalog_languages,
    check_catalog,
    extract,
    main,
    placeholders,
    update_catalog,
)


@pytest.fixture(scope="module")
def code() -> Extraction:
    return extract()


def test_every_message_of_the_code_is_a_literal(code: Extraction) -> None:
    assert code.problems == []
    assert len(code.messages) > 400
    assert "{type}/{id} was not found." in code.messages, "from the Python code"
    assert "Sign in" in code.messages and "Username" in code.messages, "from the templates too"
    assert "Value must be a JSON boolean (true or false)" in code.messages, "from profiles/"
    assert "'{value}' is not in table 0001 (administrative sex)" in code.messages, "HL7 mapping texts too"
    assert ("{count:,} resource", "{count:,} resources") in code.messages, "counted texts"


def test_pybabel_extract_with_babel_cfg_finds_the_same_messages(code: Extraction, tmp_path: Path) -> None:
    template = tmp_path / "fhir_server.pot"
    command = [str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg"]
    command += ["--no-default-keywords", "-k", "_", "-k", "_n:1,2", "-o", str(template), "."]
    subprocess.run(command, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    with template.open("rb") as file:
        found = [m.id for m in read_po(file) if m.id]
    assert sorted(map(str, found)) == sorted(map(str, code.messages))


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
    shutil.copy(ROOT / "babel.cfg", root / "babel.cfg")
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
        'a = _(f"Hello {name}")\nb = _(name)\nc = _("a" + name)\nd = _("ok")\ne = _("")\nf = _("x", "y")\n'
        'g = _n("{n} file", "{n} files", len(name))\nh = _n("one", name, 2)\ni = _n("one", "two")\n',
        '{{ _("Fine") }}\n{{ _(title) }}\n{{ _n("a page", "{n} pages", n) }}\n',
    )
    found = extract(tmp_path)
    assert found.messages == ["ok", ("{n} file", "{n} files"), "Fine", ("a page", "{n} pages")]
    lines = [problem.split(": ")[0] for problem in found.problems]
    assert lines == [
        "fhir_server/module.py:4",
        "fhir_server/module.py:5",
        "fhir_server/module.py:6",
        "fhir_server/module.py:8",
        "fhir_server/module.py:9",
        "fhir_server/module.py:11",
        "fhir_server/module.py:12",
        "fhir_server/pages/templates/page.html:2",
    ]


def _entries(path: Path) -> dict[str, tuple[object, bool]]:
    with path.open("rb") as file:
        catalog = read_po(file)
    found = {forms(m.id)[0]: (m.string, False) for m in catalog if m.id}
    return found | {forms(m.id)[0]: (m.string, True) for m in catalog.obsolete.values()}


def test_update_adds_new_messages_retires_gone_ones_and_check_reports_them(tmp_path: Path) -> None:
    _tree(tmp_path, 'from fhir_server.i18n import _\na = _("Old {name}")\nb = _("Kept")\n')
    locale = tmp_path / "locale"
    assert update_catalog("fr", extract(tmp_path), locale) == (2, 0, 0)
    path = catalog_path("fr", locale)
    text = path.read_text().replace('msgid "Old {name}"\nmsgstr ""', 'msgid "Old {name}"\nmsgstr "Vieux {nom}"')
    path.write_text(text.replace('msgid "Kept"\nmsgstr ""', 'msgid "Kept"\nmsgstr "Gardé"'))
    report = check_catalog("fr", extract(tmp_path), locale)
    assert report.missing == [] and report.placeholders == ["'Old {name}' -> 'Vieux {nom}'"]

    (tmp_path / "fhir_server" / "module.py").write_text('from fhir_server.i18n import _\nb = _("Kept")\nc = _("New")\n')
    code = extract(tmp_path)
    assert check_catalog("fr", code, locale).obsolete == ["Old {name}"]
    assert update_catalog("fr", code, locale) == (1, 1, 0)
    entries = _entries(path)
    assert entries["Old {name}"] == ("Vieux {nom}", True), "kept, obsolete, for a translator"
    assert entries["Kept"] == ("Gardé", False) and entries["New"] == ("", False)
    assert '#: fhir_server/module.py\nmsgid "Kept"' in path.read_text(), "files, not lines: fewer conflicts"
    header = path.read_text().split("\n\n")[0]
    assert '"Language: fr\\n"' in header and '"Plural-Forms: nplurals=3; plural=(n == 0 || n == 1) ? 0' in header
    report = check_catalog("fr", code, locale)
    assert report.missing == ["New"] and report.obsolete == [] and report.placeholders == []


def test_fuzzy_entries_and_missing_plural_forms_are_untranslated(tmp_path: Path) -> None:
    _tree(tmp_path, 'from fhir_server.i18n import _, _n\na = _("Sign in")\nb = _n("{n} file", "{n} files", 3)\n')
    locale = tmp_path / "locale"
    update_catalog("de", extract(tmp_path), locale)
    path = catalog_path("de", locale)
    text = path.read_text().replace('msgid "Sign in"\nmsgstr ""', '#, fuzzy\nmsgid "Sign in"\nmsgstr "Einloggen?"')
    path.write_text(text.replace('msgstr[0] ""', 'msgstr[0] "{n} Datei"'))
    report = check_catalog("de", extract(tmp_path), locale)
    assert report.missing == ["Sign in", ("{n} file", "{n} files")]

    path.write_text(path.read_text().replace('msgstr[1] ""', 'msgstr[1] "{count} Dateien"'))
    report = check_catalog("de", extract(tmp_path), locale)
    assert report.missing == ["Sign in"]
    assert report.placeholders == ["('{n} file', '{n} files') -> ('{n} Datei', '{count} Dateien')"]


def test_update_fills_untranslated_entries_from_json(tmp_path: Path) -> None:
    _tree(tmp_path, 'from fhir_server.i18n import _, _n\na = _("Sign in {name}")\nb = _n("{n} file", "{n} files", 3)\n')
    locale = tmp_path / "locale"
    filling = {
        "Sign in {name}": {"de": "{name} anmelden", "es": "Entrar {name}"},
        "{n} file": {"de": ["{n} Datei", "{n} Dateien"]},
        "Not in the code": {"de": "Nicht im Code"},
    }
    code = extract(tmp_path)
    assert update_catalog("de", code, locale, filling) == (2, 0, 2)
    assert check_catalog("de", code, locale).ok
    assert update_catalog("es", code, locale, filling) == (2, 0, 1), "no German leaks into Spanish"
    assert _entries(catalog_path("es", locale))["{n} file"] == (("", "", ""), False)
    entries = _entries(catalog_path("de", locale))
    assert entries["{n} file"] == (("{n} Datei", "{n} Dateien"), False)
    assert "Not in the code" not in entries
    json_file = tmp_path / "t.json"
    json_file.write_text(json.dumps({"Sign in {name}": {"de": "Anders {name}"}}))
    assert update_catalog("de", extract(tmp_path), locale, json.loads(json_file.read_text()))[2] == 0, "kept"
