"""Keep the materialized views fresh in the background, so a report asked for after many writes
answers without first reading them all. Only views already materialized (a report ran once) are
refreshed: a server whose reports are never run builds nothing."""

from __future__ import annotations

import logging

from ..duties.duty import Duty, DutyContext
from ..errors import FhirError
from .catalog import all_reports

logger = logging.getLogger(__name__)


async def refresh_report_views(context: DutyContext) -> None:
    """One round: refresh each materialized view of each report once; a broken one is logged, not fatal."""
    from .materialize import materializer_for  # imported on first use: pyarrow adds a tenth of a second to every start

    store = context.database.resources
    materializer = materializer_for(store, context.settings)
    seen: set[str] = set()
    for report in (await all_reports(store)).values():
        for view in report.views.values():
            path = materializer.path(view)
            if path.name in seen or not path.exists():
                continue
            seen.add(path.name)
            try:
                await materializer.refresh(view)
            except FhirError as exc:
                logger.warning("Report %s: a view could not be refreshed: %s", report.name, exc)


REPORT_DUTIES = (Duty("refresh-report-views", refresh_report_views, every=60),)
