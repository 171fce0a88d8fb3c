"""The server's own duties: search parameter refresh, the job workers, audit sealing."""

from __future__ import annotations

from datetime import timedelta

from ..audit.sealer import keep_audit_sealed
from ..engine.bulk_export import export_worker
from ..engine.bulk_import import import_worker
from ..engine.reindex import reindex_worker
from ..engine.search_parameters import keep_registry_fresh
from ..search.registry import default_registry
from .duty import Duty, DutyContext


async def _search_parameters(context: DutyContext) -> None:
    await keep_registry_fresh(context.database.resources, context.database.jobs, default_registry())


async def _reindex(context: DutyContext) -> None:
    await reindex_worker(context.database.resources, context.database.jobs)


async def _export(context: DutyContext) -> None:
    database, ttl = context.database, timedelta(seconds=context.settings.export_ttl_seconds)
    await export_worker(database.resources, database.jobs, database.files, ttl)


async def _import(context: DutyContext) -> None:
    await import_worker(context.database.resources, context.database.jobs, context.database.files)


async def _seal_audit(context: DutyContext) -> None:
    # the sealer name is the process's worker id, which its audit queue shares (see app.py)
    await keep_audit_sealed(context.database.audit, context.worker)


# Each runs continuously in every server process: the job workers claim jobs with their own leases,
# the sealer holds the audit chain head's lease, and every process keeps its own registry fresh.
CORE_DUTIES = (
    Duty("search-parameters", _search_parameters),
    Duty("reindex", _reindex),
    Duty("export", _export),
    Duty("import", _import),
    Duty("audit-seal", _seal_audit),
)
