"""The prescribing write rules, run on every write of a MedicationRequest (REST, Bundles, imports, HL7):
the life cycle of life_cycle.py and the content checks of validation.py."""

from __future__ import annotations

from ...engine.rules import WriteContext, write_rule
from ...errors import Issue, VersionConflict
from ...i18n import _
from .knowledge import current_knowledge
from .life_cycle import DRAFT, MOVES, being_signed, content, is_signed, leaves_draft_unsigned
from .transmission import queue_transmission
from .validation import check_prescription


def _conflict(message: str, expression: str) -> VersionConflict:
    return VersionConflict(message, issues=[Issue("error", "conflict", message, expression)])


@write_rule("prescription-life-cycle", ["MedicationRequest"])
async def prescription_life_cycle(context: WriteContext) -> None:
    """Refuse edits of signed prescriptions, activation without `$sign` and drafts with bad content."""
    current = context.current.resource() if context.current is not None and not context.current.deleted else None
    new = context.new
    reference = f"MedicationRequest/{context.resource_id}"
    if is_signed(current):
        assert current is not None
        if new is None:
            raise _conflict(_("A signed prescription cannot be deleted: set its status to cancelled or "
                              "entered-in-error."), "MedicationRequest")  # fmt: skip
        if content(new) != content(current) or not is_signed(new):
            raise _conflict(_("A signed prescription cannot be edited, only replaced: write a new "
                              "MedicationRequest naming it in priorPrescription."), "MedicationRequest")  # fmt: skip
        if new.get("status") not in MOVES.get(str(current.get("status")), set()):
            raise _conflict(_("A {old} prescription cannot become {new}.").format(
                old=current.get("status"), new=new.get("status")), "MedicationRequest.status")  # fmt: skip
        return
    if new is None:
        return
    signing = being_signed(reference)
    if leaves_draft_unsigned(current, new) and not signing:
        raise _conflict(_("A prescription becomes active only by signing it: POST {reference}/$sign.").format(
            reference=reference), "MedicationRequest.status")  # fmt: skip
    if new.get("status") == DRAFT or signing:
        in_commit = {w.record.reference: w.record.resource() for w in context.writes if not w.record.deleted}
        await check_prescription(current_knowledge(), context.store, new, complete=signing, in_commit=in_commit)
    if signing:
        document = await queue_transmission(context.store, reference, context.write.record.version_id, new)
        if document is not None:
            context.add_document(*document)
