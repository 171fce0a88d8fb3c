"""`fhir-server audit verify` and `audit anchor`: check the sealed audit log, export its head to keep elsewhere.

Exit codes: 0 intact (verify) or anchor exported; 1 tampering found; 2 the check could not be made
(database unreachable, audit key missing or another one, anchor file unreadable or not valid).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ..cli_database import add_database_options, running_database
from ..config import Settings
from ..errors import StorageUnavailable
from ..i18n import _, _n
from ..storage.audit import ChainReport, MongoAuditLog
from ..storage.audit_seal import AuditUncheckable
from ..storage.audit_verify import read_anchor
from ..storage.database import Database
from .key import load_audit_key

INTACT, TAMPERED, UNCHECKED = 0, 1, 2

_T = TypeVar("_T")


def add_audit_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add `audit verify` and `audit anchor` to the `fhir-server` sub-commands."""
    audit = subparsers.add_parser("audit", help=_("Check the audit log."))
    actions = audit.add_subparsers(dest="audit_action", required=True)
    verify = actions.add_parser("verify", help=_("Recompute the audit log's hash chain and report any tampering."))
    verify.add_argument(
        "--anchor", type=Path, metavar="FILE",
        help=_("Also check against an anchor saved by `audit anchor`: reports records removed since."),
    )  # fmt: skip
    add_database_options(verify)
    anchor = actions.add_parser("anchor", help=_("Print the audit log's chain head, signed, to keep elsewhere."))
    anchor.add_argument("--out", type=Path, metavar="FILE", help=_("Write the anchor to this file instead."))
    add_database_options(anchor)
    audit.set_defaults(handler=run_audit)
    return audit


def run_audit(args: dict[str, Any]) -> int:
    """Run `audit verify` or `audit anchor` (see the module's exit codes)."""
    settings = Settings.from_env(**{k: args.get(k) for k in ("data_dir", "mongodb_uri", "database")})
    if args["audit_action"] == "anchor":
        return _anchor(settings, args.get("out"))
    return _verify(settings, args.get("anchor"))


def _run(settings: Settings, work: Callable[[MongoAuditLog], Awaitable[_T]]) -> _T:
    """`work` on the audit log of `settings` (the embedded database started for it if need be)."""
    key = load_audit_key(settings, create=False)

    async def connected(ready: Settings) -> _T:
        assert ready.mongodb_uri, "inside running_database()"
        async with Database.open(ready, key, indexes=False) as database:
            return await work(database.audit)

    with running_database(settings) as ready:
        return asyncio.run(connected(ready))


def _verify(settings: Settings, anchor_file: Path | None) -> int:
    try:
        raw = anchor_file.read_bytes() if anchor_file is not None else None
    except OSError as exc:
        print(_("audit verify failed: {reason}").format(reason=exc))
        return UNCHECKED

    async def check(log: MongoAuditLog) -> ChainReport:
        anchor = read_anchor(log.key, raw, log.database_name) if raw is not None else None
        return await log.verify(anchor)

    try:
        report = _run(settings, check)
    except (StorageUnavailable, AuditUncheckable) as exc:
        print(_("audit verify failed: {reason}").format(reason=exc))
        return UNCHECKED
    print(
        _("{sealed} ({legacy:,} of them sealed without a key), {unsealed:,} not sealed yet; chain head {seq} {hash}")
        .format(
            sealed=_n("{count:,} sealed record", "{count:,} sealed records", report.sealed).format(count=report.sealed),
            legacy=report.legacy, unsealed=report.unsealed,
            seq=report.head_seq, hash=report.head_hash,
        )
    )  # fmt: skip
    for problem in report.problems:
        print(_("TAMPERED: {problem}").format(problem=problem))
    print(_("The audit log is intact.") if report.intact else _("The audit log was tampered with."))
    return INTACT if report.intact else TAMPERED


def _anchor(settings: Settings, out: Path | None) -> int:
    try:
        anchor = _run(settings, MongoAuditLog.anchor)
    except (StorageUnavailable, AuditUncheckable) as exc:
        print(_("audit anchor failed: {reason}").format(reason=exc))
        return UNCHECKED
    text = orjson.dumps(anchor, option=orjson.OPT_INDENT_2).decode() + "\n"
    if out is None:
        print(text, end="")
        return INTACT
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(_("audit anchor failed: {reason}").format(reason=exc))
        return UNCHECKED
    print(_("Anchor of record {seq} written to {path}.").format(seq=anchor["seq"], path=out))
    return INTACT
