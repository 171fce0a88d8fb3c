"""The HL7 v2 adapter's duties: recovery of messages left `received` by a process that died (`recovery.py`)."""

from __future__ import annotations

from fhir_server.duties.duty import MLLP, Duty, DutyContext

from .listener import ListenerSettings, new_pipeline
from .recovery import recover_messages


async def _recover(context: DutyContext) -> None:
    listener = ListenerSettings.from_settings(context.settings)
    await recover_messages(new_pipeline(context.database, listener))


# Wherever a listener runs (`serve --mllp-port` or `fhir-server mllp`); each message is claimed with its own lease.
HL7_DUTIES = (Duty("hl7-recovery", _recover, needs=frozenset({MLLP})),)
