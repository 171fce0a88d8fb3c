"""Every duty of the project, in one place: the server (app.py) and `fhir-server mllp` run this list,
each taking the duties that apply to it (`runner.applicable`)."""

from __future__ import annotations

from adapters.hl7v2.duties import HL7_DUTIES

from ..medications.prescribing.duties import PRESCRIBING_DUTIES
from ..medications.stock.duties import STOCK_DUTIES
from ..messaging.duties import MESSAGING_DUTIES
from ..reminders.duties import REMINDER_DUTIES
from ..reports.duties import REPORT_DUTIES
from ..scheduling.duties import SCHEDULING_DUTIES
from ..views.duties import VIEW_DUTIES
from .core import CORE_DUTIES
from .duty import Duty

DUTIES: tuple[Duty, ...] = (
    *CORE_DUTIES,
    *HL7_DUTIES,
    *STOCK_DUTIES,
    *PRESCRIBING_DUTIES,
    *SCHEDULING_DUTIES,
    *REPORT_DUTIES,
    *VIEW_DUTIES,
    *MESSAGING_DUTIES,
    *REMINDER_DUTIES,
)
