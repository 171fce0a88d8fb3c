"""One PaymentReconciliation per remittance: an 835's check or EFT (payer id / trace number) is imported once.

The rule locks the remittance's identifier before looking for another PaymentReconciliation with it, so
of two imports of the same file at once the second is retried after the first commits, finds it and is
refused with AlreadyImported (the import answers that nothing changed). The ClaimResponses and Tasks of
the import are in the same transaction, so they are written once too, without a search of their own.
"""

from __future__ import annotations

from typing import Any

from ...engine.rules.registry import WriteContext, write_rule
from ...errors import VersionConflict
from ...i18n import _

REMITTANCE_SYSTEM = "urn:fhir-server:billing:x12-835"
"""Identifier system of what an 835 creates; values `<payer id>/<trace>` and `<payer id>/<trace>/<claim n>`."""


class AlreadyImported(VersionConflict):
    """A PaymentReconciliation with this remittance's identifier exists."""


def remittance_key(resource: dict[str, Any]) -> str | None:
    """The remittance identifier of a PaymentReconciliation an 835 import wrote, None for any other."""
    for identifier in resource.get("identifier", []):
        if isinstance(identifier, dict) and identifier.get("system") == REMITTANCE_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None


@write_rule("billing-one-import-per-remittance", ["PaymentReconciliation"], ["create", "update", "patch"])
async def one_import_per_remittance(context: WriteContext) -> None:
    reconciliation = context.new
    key = remittance_key(reconciliation) if reconciliation is not None else None
    if key is None:
        return
    await context.lock(f"billing/remittance/{key}")
    found = await context.find("PaymentReconciliation", [("identifier", f"{REMITTANCE_SYSTEM}|{key}")], 2)
    if any(record.id != context.resource_id for record in found):
        raise AlreadyImported(_("The remittance {key} was imported before.").format(key=key))
