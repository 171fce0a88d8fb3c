"""A prescription's life cycle: draft -> active (only by `$sign`) -> completed / stopped / cancelled /
entered-in-error, and what each state lets a write change.

A MedicationRequest becomes a prescription of this server when it is written as a `draft`; `$sign` makes
it `active` and tags it signed (`meta.tag` SIGNED). A signed prescription cannot be edited or deleted on
any write path: only its status moves on (and statusReason with it); a change of anything else is a new
prescription (a renewal names the old one in `priorPrescription`). A MedicationRequest written directly
in another status (an imported history, a record of a prescription from elsewhere) is kept as a record:
it was never signed here, so it cannot be signed, transmitted or printed.

Only the `$sign` operation can make the signed version: it runs its transaction inside `signing(reference)`,
a context of the server's own code that no request can set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

SIGNED_TAG = {"system": "urn:fhir-server:prescribing", "code": "signed", "display": "Signed prescription"}
DRAFT = "draft"
FINAL = ("completed", "stopped", "cancelled", "entered-in-error")
MOVES = {
    "active": {"active", "on-hold", *FINAL},
    "on-hold": {"active", "on-hold", *FINAL},
    "completed": {"completed", "entered-in-error"},
    "stopped": {"stopped", "entered-in-error"},
    "cancelled": {"cancelled", "entered-in-error"},
    "entered-in-error": {"entered-in-error"},
}
"""Status of a signed prescription → the statuses a write may give it."""
_UNSIGNED_ENDS = {DRAFT, "cancelled", "entered-in-error"}
"""What a write may make of a draft without signing it."""

_signing: ContextVar[str | None] = ContextVar("fhir_server_prescription_signing", default=None)


@contextmanager
def signing(reference: str) -> Iterator[None]:
    """Writes in this block may make `reference` ("MedicationRequest/id") signed and active."""
    token = _signing.set(reference)
    try:
        yield
    finally:
        _signing.reset(token)


def being_signed(reference: str) -> bool:
    return _signing.get() == reference


def is_signed(resource: Mapping[str, Any] | None) -> bool:
    tags = ((resource or {}).get("meta") or {}).get("tag") or []
    return any(t.get("system") == SIGNED_TAG["system"] and t.get("code") == SIGNED_TAG["code"] for t in tags)


def content(resource: Mapping[str, Any]) -> dict[str, Any]:
    """What signing fixes: everything but the server's meta, the narrative and the status."""
    return {k: v for k, v in resource.items() if k not in ("meta", "text", "status", "statusReason")}


def leaves_draft_unsigned(current: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether `new` would make a draft (or a new resource) signed or active without `$sign`."""
    if is_signed(new):
        return True
    was_draft = current is not None and current.get("status") == DRAFT
    return was_draft and new.get("status") not in _UNSIGNED_ENDS
