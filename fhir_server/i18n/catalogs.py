"""Keep the catalogs in step with the code, with Babel: extract every message and compare.

    python -m fhir_server.i18n.catalogs check           # report; exit status 1 on any problem
    python -m fhir_server.i18n.catalogs update [LANG]   # add new messages (untranslated), retire old ones
    python -m fhir_server.i18n.catalogs update --from-json FILE ...  # and fill translations from JSON
    python -m fhir_server.i18n.catalogs init LANG       # start the catalog of a new language

Messages are the string literals passed to `_()` and `_n()` in the Python packages and the page
templates, found by Babel with the methods and paths of `babel.cfg` (so `pybabel extract -F
babel.cfg` finds the same). A call whose arguments are not literals (an f-string, a variable,
`"a" + b`) cannot be extracted, so it is a problem too: translate the literal, format afterwards.
Per language the check reports messages with no usable translation (absent, empty, fuzzy, or a
plural form missing), translations of messages the code no longer has, and translations whose
placeholders (`{name}`, `%s`) differ from the message's.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import PoFileError, read_po, write_po
from babel.util import pathmatch

from . import DEFAULT_LANGUAGE, DOMAIN, LOCALE_DIR, available_languages, catalog_path, forms, translated

ROOT = LOCALE_DIR.parent.parent
CONFIG = "babel.cfg"
KEYWORDS: dict[str, tuple[int, ...]] = {"_": (1,), "_n": (1, 2)}
"""The message functions and the positions of their message arguments (Babel's keyword specs)."""

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{[^{}]*\}|%%|%(?:\([^)]*\))?[-#0+]*\d*(?:\.\d+)?[sdifrx]")

MessageId = str | tuple[str, ...] | list[str]


@dataclass
class Extraction:
    """The messages of the code (a Babel template catalog) and the calls that are not literals."""

    template: Catalog
    problems: list[str] = field(default_factory=list)

    @property
    def messages(self) -> list[MessageId]:
        return [m.id for m in self.template if m.id]


def extract(root: Path = ROOT) -> Extraction:
    """Every message of the files `babel.cfg` under `root` names, in the order of the files and lines."""
    found = Extraction(Catalog(domain=DOMAIN, project="fhir-server", charset="utf-8"))
    with (root / CONFIG).open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    for name in _files(root):
        pattern, method = next(((p, m) for p, m in method_map if pathmatch(p, name)), ("", "ignore"))
        if method == "ignore":
            continue
        with (root / name).open("rb") as file:
            for line, function, arguments, comments in _method(method)(file, list(KEYWORDS), (), options_map[pattern]):
                _add(found, name, line, function, arguments if isinstance(arguments, tuple) else (arguments,), comments)
    return found


def _files(root: Path) -> Iterator[str]:
    """The files under `root`, relative and sorted, leaving out hidden and `_`-prefixed folders (like pybabel)."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith((".", "_")))
        for file in sorted(files):
            yield Path(folder, file).relative_to(root).as_posix()


def _method(method: str) -> Callable[..., Iterable[tuple[int, str, Any, list[str]]]]:
    module, _sep, function = method.partition(":")
    extractor: Callable[..., Iterable[tuple[int, str, Any, list[str]]]] = getattr(
        importlib.import_module(module), function
    )
    return extractor


def _add(
    found: Extraction, name: str, line: int, function: str, arguments: tuple[Any, ...], comments: list[str]
) -> None:
    spec = KEYWORDS[function]
    texts = [arguments[i - 1] if i <= len(arguments) else None for i in spec]
    literals = [t for t in texts if isinstance(t, str) and t]
    if len(literals) != len(spec) or (len(spec) == 1 and len(arguments) != 1):
        found.problems.append(f"{name}:{line}: {function}() needs {len(spec)} string literal(s) as its message")
        return
    message: MessageId = literals[0] if len(literals) == 1 else tuple(literals)
    braces = any(p.startswith("{") and p != "{{" for text in literals for p in placeholders(text))
    flags = ["python-brace-format"] if braces else []
    found.template.add(message, locations=[(name, None)], auto_comments=comments, flags=flags)  # type: ignore[list-item]


def placeholders(text: str) -> list[str]:
    """The format placeholders of `text` (`{name}`, `%s`, `%(name)d`), sorted; `{{`, `}}`, `%%` included."""
    return sorted(_PLACEHOLDER.findall(text))


@dataclass
class Report:
    """What is wrong with one language's catalog."""

    language: str
    missing: list[MessageId] = field(default_factory=list)
    obsolete: list[MessageId] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.obsolete or self.placeholders or self.errors)


def read_catalog(language: str, locale_dir: Path = LOCALE_DIR) -> Catalog:
    """The PO file of `language`, read by Babel; PoFileError (naming the line) when it is malformed."""
    with catalog_path(language, locale_dir).open("rb") as file:
        return read_po(file, domain=DOMAIN, abort_invalid=True)


def check_catalog(language: str, code: Extraction, locale_dir: Path = LOCALE_DIR) -> Report:
    report = Report(language)
    try:
        catalog = read_catalog(language, locale_dir)
    except (OSError, PoFileError, ValueError) as exc:
        report.errors.append(str(exc))
        return report
    if catalog.locale is None or str(catalog.locale).replace("_", "-").lower() != language.lower():
        report.errors.append(f"the header should say 'Language: {language}'")
    for wanted in code.template:
        if not wanted.id:
            continue
        entry = catalog.get(wanted.id)
        if entry is None or not _serves(entry, wanted, catalog.num_plurals):
            report.missing.append(wanted.id)
        elif not _same_placeholders(entry):
            report.placeholders.append(f"{entry.id!r} -> {entry.string!r}")
    report.obsolete = [m.id for m in catalog if m.id and code.template.get(m.id) is None]
    return report


def _serves(entry: Message, wanted: Message, plurals: int) -> bool:
    """Translated, and with one text per plural form of the language when the code counts."""
    if entry.pluralizable != wanted.pluralizable or not translated(entry):
        return False
    return not entry.pluralizable or len(forms(entry.string)) == plurals


def _same_placeholders(entry: Message) -> bool:
    """A plain text keeps its message's placeholders; each plural form keeps the singular's or the plural's."""
    allowed = [placeholders(text) for text in forms(entry.id)]
    if not entry.pluralizable:
        return [placeholders(text) for text in forms(entry.string)] == allowed
    return all(placeholders(form) in allowed for form in forms(entry.string))


def catalog_languages() -> list[str]:
    return [language for language in available_languages() if language != DEFAULT_LANGUAGE]


def update_catalog(
    language: str, code: Extraction, locale_dir: Path = LOCALE_DIR, filling: Mapping[str, Any] | None = None
) -> tuple[int, int, int]:
    """Bring a catalog in step with `code` (Babel's `Catalog.update`): (added, retired, filled).

    New messages come in untranslated, a reworded one with its old translation marked fuzzy, and
    gone ones become obsolete `#~` entries (kept for a translator). `filling` maps msgids to
    `{language: text}` (a list of texts, one per plural form, for a counted message) and fills
    the entries still untranslated.
    """
    path = catalog_path(language, locale_dir)
    catalog = read_catalog(language, locale_dir) if path.exists() else Catalog(locale=language.replace("-", "_"))
    before = {_key(m.id) for m in catalog if m.id}
    catalog.update(copy.deepcopy(code.template), update_creation_date=False)  # update adopts its messages
    now = {_key(m.id) for m in catalog if m.id}
    filled = _fill(catalog, language, filling or {})
    name = Locale.parse(catalog.locale).english_name
    catalog.header_comment = f"# {name} messages of fhir-server (README: Languages)."
    catalog.project, catalog.version, catalog.fuzzy = "fhir-server", metadata.version("fhir-server"), False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        write_po(file, catalog, width=0, include_lineno=False, sort_by_file=False)
    return len(now - before), len(before - now), filled


def _key(message_id: MessageId) -> str:
    return forms(message_id)[0]


def _fill(catalog: Catalog, language: str, filling: Mapping[str, Any]) -> int:
    filled = 0
    for message in catalog:
        text = filling.get(_key(message.id), {}).get(language) if message.id else None
        if text is None or translated(message):
            continue
        message.string = tuple(text) if message.pluralizable else str(text)
        message.flags.discard("fuzzy")
        filled += 1
    return filled


def _lines(report: Report) -> Iterator[str]:
    for title, items in (
        ("unreadable", report.errors),
        ("missing", report.missing),
        ("obsolete", report.obsolete),
        ("placeholders differ", report.placeholders),
    ):
        for item in items:
            yield f"{report.language}: {title}: {item}"


def _load_json(paths: list[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in paths:
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fhir_server.i18n.catalogs", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("check", help="report missing, obsolete and mismatched translations (the default)")
    update = commands.add_parser("update", help="add new messages to the catalogs and retire old ones")
    update.add_argument("languages", nargs="*", help="default: every catalog")
    update.add_argument(
        "--from-json",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help='fill untranslated entries from {"msgid": {"es": "...", "de": "..."}} files (later files win)',
    )
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
        filling = _load_json(args.from_json) if args.command == "update" else {}
        for language in languages:
            added, retired, filled = update_catalog(language, code, filling=filling)
            print(f"{catalog_path(language).relative_to(ROOT)}: {added} new, {retired} retired, {filled} filled")
        return 1 if code.problems else 0
    reports = [check_catalog(language, code) for language in catalog_languages()]
    for report in reports:
        for line in _lines(report):
            print(line)
        total = len(code.messages)
        print(f"{report.language}: {total - len(report.missing)} of {total} translated")
    return 0 if not code.problems and all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
