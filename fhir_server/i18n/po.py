"""Reading and writing gettext PO files, the catalogs' human-editable source.

https://www.gnu.org/software/gettext/manual/html_node/PO-Files.html

The server loads the `.po` files themselves (no compiled `.mo`), so a fresh clone, an
editable install and a wheel all run from the same file translators edit. Only what the
catalogs use is read: comments (`#`, `#.`, `#:`, `#,` flags), `msgctxt`, `msgid`, `msgstr`
and obsolete `#~` entries (kept, never served). Plural forms are refused: no message uses them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Entry", "PoError", "dump_po", "parse_po", "quote"]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"\s*$')
_KEYWORDS = ("msgctxt", "msgid", "msgstr")


class PoError(ValueError):
    """A PO file that cannot be read; the message names the line."""


@dataclass
class Entry:
    """One message: its id, its translation ("" when untranslated), and the comments around it."""

    msgid: str
    msgstr: str = ""
    msgctxt: str | None = None
    flags: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)  # the translators' own (`# ...`)
    extracted: list[str] = field(default_factory=list)  # from the code (`#. ...`)
    obsolete: bool = False
    line: int = 0

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def translated(self) -> bool:
        """Whether the server may serve `msgstr`: not empty, not fuzzy, not obsolete."""
        return bool(self.msgstr) and not self.fuzzy and not self.obsolete


def _unquote(body: str, line: int) -> str:
    out: list[str] = []
    chars = iter(body)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        escaped = next(chars, "")
        if escaped not in _ESCAPES:
            raise PoError(f"line {line}: unknown escape \\{escaped}")
        out.append(_ESCAPES[escaped])
    return "".join(out)


def quote(text: str) -> str:
    """`text` as one PO string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r")
    return '"' + escaped.replace("\n", "\\n") + '"'


def parse_po(text: str) -> list[Entry]:
    """The entries of a PO file, the header (msgid "") included; raise PoError on what it cannot read."""
    entries: list[Entry] = []
    pending = Entry("")  # comments and fields of the entry being read
    seen: dict[str, bool] = {}  # keyword -> given, for the entry being read
    current: str | None = None  # the keyword that continuation strings extend

    def finish() -> None:
        nonlocal pending, seen, current
        if "msgid" in seen:
            if "msgstr" not in seen:
                raise PoError(f"line {pending.line}: msgid without msgstr")
            entries.append(pending)
        elif seen:
            raise PoError(f"line {pending.line}: msgstr or msgctxt without msgid")
        pending, seen, current = Entry(""), {}, None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if not line:
                continue
        elif line.startswith("#"):
            if "msgstr" in seen:
                finish()
            kind, rest = line[1:2], line[2:].strip()
            if kind == ",":
                pending.flags.extend(flag.strip() for flag in rest.split(",") if flag.strip())
            elif kind == ":":
                pending.references.extend(rest.split())
            elif kind == ".":
                pending.extracted.append(rest)
            elif kind not in ("|",):  # `#|` previous msgid: dropped
                pending.comments.append(line[1:].removeprefix(" "))
            continue
        if not line:
            finish()
            continue
        if line.startswith('"'):
            if current is None:
                raise PoError(f"line {number}: a string outside an entry")
            setattr(pending, current, getattr(pending, current) + _string(line, number))
            continue
        keyword, _sep, rest = line.partition(" ")
        if keyword.startswith("msgstr[") or keyword == "msgid_plural":
            raise PoError(f"line {number}: plural forms are not supported")
        if keyword not in _KEYWORDS:
            raise PoError(f"line {number}: unexpected {keyword!r}")
        if keyword in ("msgctxt", "msgid") and "msgstr" in seen:
            finish()
        if keyword in seen:
            raise PoError(f"line {number}: {keyword} given twice")
        if not seen:
            pending.line = number
        pending.obsolete = pending.obsolete or obsolete
        seen[keyword] = True
        current = keyword
        setattr(pending, keyword, _string(rest.strip(), number))
    finish()
    return entries


def _string(token: str, line: int) -> str:
    match = _STRING.fullmatch(token)
    if match is None:
        raise PoError(f"line {line}: expected a quoted string, got {token!r}")
    return _unquote(match.group(1), line)


def dump_po(entries: Iterable[Entry]) -> str:
    """The PO text of `entries` (one string per field; `\\n` in a text starts a new line)."""
    blocks: list[str] = []
    for entry in entries:
        lines = [f"# {c}".rstrip() for c in entry.comments]
        lines += [f"#. {c}" for c in entry.extracted]
        lines += [f"#: {r}" for r in entry.references]
        if entry.flags:
            lines.append("#, " + ", ".join(entry.flags))
        prefix = "#~ " if entry.obsolete else ""
        if entry.msgctxt is not None:
            lines.append(f"{prefix}msgctxt {quote(entry.msgctxt)}")
        lines += _field(prefix + "msgid", entry.msgid)
        lines += _field(prefix + "msgstr", entry.msgstr)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _field(keyword: str, text: str) -> list[str]:
    parts = text.splitlines(keepends=True)
    if len(parts) <= 1:
        return [f"{keyword} {quote(text)}"]
    continuation = "#~ " if keyword.startswith("#~") else ""
    return [f'{keyword} ""', *(continuation + quote(p) for p in parts)]
