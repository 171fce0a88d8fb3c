"""Every duty of the project, in one place: the server (app.py) and `fhir-server mllp` run this list,
each taking the duties that apply to it (`runner.applicable`)."""

from __future__ import annotations

from adapters.hl7v2.duties import HL7_DUTIES

from ..medications.stock.duties import STOCK_DUTIES
from .core import CORE_DUTIES
from .duty import Duty

DUTIES: tuple[Duty, ...] = (*CORE_DUTIES, *HL7_DUTIES, *STOCK_DUTIES)
