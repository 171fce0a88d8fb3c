"""Every `$operation` the server serves: add a declaration here (declaration.py shows how)."""

from __future__ import annotations

from ...billing.accounts.operations import AGING, BALANCE
from ...billing.accounts.statement import STATEMENT
from ...billing.charges.operations import CHARGE_LINE
from ...billing.claims.eligibility_operations import ELIGIBILITY_OPERATIONS
from ...billing.claims.operations import CLAIM_OPERATIONS
from ...billing.payments.operations import IMPORT_835
from ...medications.prescribing.operations import PRINT, SIGN
from ...medications.stock.operations import STOCK_OPERATIONS
from ...reminders.calendar_token import CALENDAR_TOKEN
from ...reports.operations import REPORT, REPORTS
from ...scheduling.operations import SCHEDULING_OPERATIONS
from ...views.export_routes import VIEW_EXPORT_OPERATION
from ...views.operations import VIEW_RUN
from ..bulk import EXPORT_GROUP, EXPORT_PATIENT, EXPORT_SYSTEM, IMPORT_OPERATION
from ..docref import DOCREF
from ..everything import EVERYTHING
from ..reindex import REINDEX
from .declaration import Operation

OPERATIONS: tuple[Operation, ...] = (
    EVERYTHING,
    DOCREF,
    EXPORT_SYSTEM,
    EXPORT_PATIENT,
    EXPORT_GROUP,
    IMPORT_OPERATION,
    REINDEX,
    REPORT,
    REPORTS,
    VIEW_RUN,
    VIEW_EXPORT_OPERATION,
    *SCHEDULING_OPERATIONS,
    CALENDAR_TOKEN,
    SIGN,
    PRINT,
    *STOCK_OPERATIONS,
    CHARGE_LINE,
    *CLAIM_OPERATIONS,
    *ELIGIBILITY_OPERATIONS,
    BALANCE,
    AGING,
    STATEMENT,
    IMPORT_835,
)
"""Ids are unique; at most one declaration serves a code at a level on a type (checked at import)."""


def _check(operations: tuple[Operation, ...]) -> None:
    ids = [operation.id for operation in operations]
    if len(set(ids)) != len(ids):
        raise ValueError(f"OperationDefinition ids repeat: {sorted(ids)}")
    seen: set[tuple[str, str, str]] = set()
    for operation in operations:
        for level in operation.levels:
            for resource_type in operation.resource_types or ("",):
                key = (operation.code, level, resource_type)
                if key in seen:
                    raise ValueError(f"${operation.code} is declared twice at {level} level on {resource_type}")
                seen.add(key)


_check(OPERATIONS)
