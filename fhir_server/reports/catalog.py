"""Every report the server knows: the shipped ones and those administrators stored as Libraries."""

from __future__ import annotations

from ..errors import ResourceNotFound
from ..i18n import _
from ..storage import ResourceStore
from .model import Report
from .shipped import shipped_reports
from .stored import stored_reports


async def all_reports(store: ResourceStore) -> dict[str, Report]:
    """The reports by name: shipped first, then stored ones (whose names never clash with shipped ones)."""
    reports = dict(shipped_reports())
    for report in await stored_reports(store):
        reports.setdefault(report.name, report)
    return reports


async def find_report(store: ResourceStore, name: str) -> Report:
    """The report named `name`, or ResourceNotFound (404)."""
    report = (await all_reports(store)).get(name)
    if report is None:
        raise ResourceNotFound(_("There is no report named '{name}'.").format(name=name[:64]))
    return report
