"""The views' background work: the `$viewdefinition-export` job worker, in every server process."""

from __future__ import annotations

from datetime import timedelta

from ..duties.duty import Duty, DutyContext
from .export import view_export_worker


async def _export(context: DutyContext) -> None:
    database, ttl = context.database, timedelta(seconds=context.settings.export_ttl_seconds)
    await view_export_worker(database.resources, database.jobs, database.files, ttl)


VIEW_DUTIES = (Duty("viewdefinition-export", _export),)
