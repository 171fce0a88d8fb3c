"""`fhir-server audit verify`: check that no sealed audit record was edited, removed or slipped in."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from pymongo import AsyncMongoClient

from ..cli_database import add_database_options, running_database
from ..config import Settings
from ..errors import StorageUnavailable
from ..i18n import _
from ..storage.audit import ChainReport, MongoAuditLog


def add_audit_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add `audit verify` to the `fhir-server` sub-commands."""
    audit = subparsers.add_parser("audit", help=_("Check the audit log."))
    actions = audit.add_subparsers(dest="audit_action", required=True)
    verify = actions.add_parser("verify", help=_("Recompute the audit log's hash chain and report any tampering."))
    add_database_options(verify)
    audit.set_defaults(handler=run_audit)
    return audit


def run_audit(args: dict[str, Any]) -> int:
    """Verify the chain; exit 0 when intact, 1 when tampered with or the database is unreachable."""
    settings = Settings.from_env(**{k: args.get(k) for k in ("data_dir", "mongodb_uri", "database")})
    try:
        with running_database(settings) as ready:
            report = asyncio.run(_verify(ready))
    except StorageUnavailable as exc:
        print(_("audit verify failed: {reason}").format(reason=exc))
        return 1
    print(
        _("{sealed:,} sealed records, {unsealed:,} not sealed yet; chain head {seq} {hash}").format(
            sealed=report.sealed, unsealed=report.unsealed, seq=report.head_seq, hash=report.head_hash
        )
    )
    for problem in report.problems:
        print(_("TAMPERED: {problem}").format(problem=problem))
    print(_("The audit log is intact.") if report.intact else _("The audit log was tampered with."))
    return 0 if report.intact else 1


async def _verify(settings: Settings) -> ChainReport:
    assert settings.mongodb_uri, "inside running_database()"
    async with AsyncMongoClient[dict[str, Any]](settings.mongodb_uri, tz_aware=True) as client:
        return await MongoAuditLog(client, settings.database).verify()
