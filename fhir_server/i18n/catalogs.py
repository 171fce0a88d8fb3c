"""Keep the catalogs in step with the code: extract every `_()` message and compare.

    python -m fhir_server.i18n.catalogs check           # report; exit status 1 on any problem
    python -m fhir_server.i18n.catalogs update [LANG]   # add new messages (untranslated), retire old ones
    python -m fhir_server.i18n.catalogs init LANG       # start the catalog of a new language

Messages are the string literals passed to `_()` in the Python packages and the page
templates. A call whose
argument is not one literal (an f-string, a variable, `"a" + b`) cannot be extracted, so it is a
problem too: translate the literal, format afterwards. Per language the check reports messages
with no usable translation (absent, empty or fuzzy), translations of messages the code no longer
has, and translations whose placeholders (`{name}`, `%s`) differ from the message's.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment
from jinja2.ext import extract_from_ast

from . import DEFAULT_LANGUAGE, LOCALE_DIR, available_languages, catalog_path
from .po import Entry, dump_po, parse_po

ROOT = LOCALE_DIR.parent.parent
PACKAGES = ("fhir_server", "adapters", "profiles", "terminology")
TEMPLATES = "fhir_server/pages/templates"
FUNCTIONS = ("_",)

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{[^{}]*\}|%%|%(?:\([^)]*\))?[-#0+]*\d*(?:\.\d+)?[sdifrx]")


@dataclass
class Extraction:
    """The messages of the code (msgid -> the files using it, in order) and the calls that are not literals."""

    messages: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, message: str, where: str) -> None:
        files = self.messages.setdefault(message, [])
        if where not in files:
            files.append(where)


def extract(root: Path = ROOT) -> Extraction:
    """Every message of the packages and templates under `root`, in the order the files and lines give."""
    found = Extraction()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            _extract_python(path, path.relative_to(root).as_posix(), found)
    for path in sorted((root / TEMPLATES).rglob("*.html")):
        _extract_template(path, path.relative_to(root).as_posix(), found)
    return found


def _extract_python(path: Path, name: str, found: Extraction) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=name)
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
    for node in calls:
        function = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if function not in FUNCTIONS:
            continue
        argument = node.args[0] if len(node.args) == 1 and not node.keywords else None
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str) and argument.value:
            found.add(argument.value, name)
        else:
            found.problems.append(f"{name}:{node.lineno}: {function}() needs one string literal: {ast.unparse(node)}")


def _extract_template(path: Path, name: str, found: Extraction) -> None:
    template = Environment().parse(path.read_text(encoding="utf-8"), name=name)
    for line, function, message in extract_from_ast(template, gettext_functions=("_",)):
        if isinstance(message, str) and message:
            found.add(message, name)
        else:
            found.problems.append(f"{name}:{line}: {function}() needs one string literal")


def placeholders(text: str) -> list[str]:
    """The format placeholders of `text` (`{name}`, `%s`, `%(name)d`), sorted; `{{`, `}}`, `%%` included."""
    return sorted(_PLACEHOLDER.findall(text))


@dataclass
class Report:
    """What is wrong with one language's catalog."""

    language: str
    missing: list[str] = field(default_factory=list)
    obsolete: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.obsolete or self.placeholders or self.errors)


def check_catalog(language: str, code: Extraction, locale_dir: Path = LOCALE_DIR) -> Report:
    report = Report(language)
    try:
        entries = parse_po(catalog_path(language, locale_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.errors.append(str(exc))
        return report
    header = next((e for e in entries if e.msgid == "" and not e.obsolete), None)
    stated = re.search(r"^Language:\s*(\S+)", header.msgstr if header else "", re.MULTILINE)
    if stated is None or stated.group(1).replace("_", "-").lower() != language.lower():
        report.errors.append(f"the header should say 'Language: {language}'")
    active = [e for e in entries if e.msgid and not e.obsolete]
    twice = [msgid for msgid, n in Counter(e.msgid for e in active).items() if n > 1]
    report.errors += [f"translated twice: {msgid!r}" for msgid in twice]
    translated = {e.msgid: e for e in active if e.translated}
    report.missing = [m for m in code.messages if m not in translated]
    report.obsolete = [e.msgid for e in active if e.msgid not in code.messages]
    for entry in translated.values():
        if placeholders(entry.msgid) != placeholders(entry.msgstr):
            report.placeholders.append(f"{entry.msgid!r} -> {entry.msgstr!r}")
    return report


def catalog_languages() -> list[str]:
    return [language for language in available_languages() if language != DEFAULT_LANGUAGE]


def update_catalog(language: str, code: Extraction, locale_dir: Path = LOCALE_DIR) -> tuple[int, int]:
    """Bring a catalog in step with `code`: new messages untranslated, gone ones obsolete. (added, retired)."""
    path = catalog_path(language, locale_dir)
    entries = parse_po(path.read_text(encoding="utf-8")) if path.exists() else []
    header = next((e for e in entries if e.msgid == "" and not e.obsolete), None) or _header(language)
    known = {e.msgid: e for e in entries if e.msgid and e.msgctxt is None}
    updated: list[Entry] = [header]
    added = 0
    for message, files in code.messages.items():
        entry = known.pop(message, None)
        if entry is None:
            entry, added = Entry(message), added + 1
        entry.obsolete, entry.references = False, files
        entry.flags = [f for f in entry.flags if not f.endswith("-format")] + _format_flags(message)
        updated.append(entry)
    retired = 0
    for entry in known.values():
        if entry.msgstr or entry.comments:  # keep what a translator wrote, for a reworded message
            retired += not entry.obsolete
            entry.obsolete, entry.references = True, []
            updated.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_po(updated), encoding="utf-8")
    return added, retired


def _format_flags(message: str) -> list[str]:
    """gettext's flags telling editors and msgfmt which placeholders to keep."""
    found = placeholders(message)
    flags = []
    if any(p.startswith("{") and p != "{{" for p in found):
        flags.append("python-brace-format")
    if any(p.startswith("%") and p != "%%" for p in found):
        flags.append("python-format")
    return flags


def _header(language: str) -> Entry:
    fields = {
        "Project-Id-Version": "fhir-server",
        "Language": language,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    return Entry("", "".join(f"{k}: {v}\n" for k, v in fields.items()))


def _lines(report: Report) -> Iterator[str]:
    for title, items in (
        ("unreadable", report.errors),
        ("missing", report.missing),
        ("obsolete", report.obsolete),
        ("placeholders differ", report.placeholders),
    ):
        for item in items:
            yield f"{report.language}: {title}: {item}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fhir_server.i18n.catalogs", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("check", help="report missing, obsolete and mismatched translations (the default)")
    update = commands.add_parser("update", help="add new messages to the catalogs and retire old ones")
    update.add_argument("languages", nargs="*", help="default: every catalog")
    init = commands.add_parser("init", help="start the catalog of a new language")
    init.add_argument("language", help="a BCP 47 tag: fr, pt-BR")
    args = parser.parse_args(argv)
    code = extract()
    for problem in code.problems:
        print(f"not extractable: {problem}")
    if args.command in ("update", "init"):
        languages = [args.language] if args.command == "init" else args.languages or catalog_languages()
        if args.command == "init" and catalog_path(args.language).exists():
            parser.error(f"{catalog_path(args.language)} exists; use update")
        for language in languages:
            added, retired = update_catalog(language, code)
            print(f"{catalog_path(language).relative_to(ROOT)}: {added} new, {retired} retired")
        return 1 if code.problems else 0
    reports = [check_catalog(language, code) for language in catalog_languages()]
    for report in reports:
        for line in _lines(report):
            print(line)
        print(f"{report.language}: {len(code.messages) - len(report.missing)} of {len(code.messages)} translated")
    return 0 if not code.problems and all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
