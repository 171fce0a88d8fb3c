"""Which message an order needs: the ORC-1 order control (HL7 v2.5.1 table 0119) for a ServiceRequest version.

What the lab sees of a ServiceRequest (`LAB_VISIBLE`, the elements the message carries): code,
priority, occurrenceDateTime / occurrencePeriod, subject, requester, specimen, the note texts and
the ask-at-order-entry answers (supportingInfo, by reference); and its status, `active` or
`on-hold`. Anything else (identifiers, the placer number the sender adds, a display text, meta,
an edited Observation behind an unchanged reference) changes nothing for the lab.

Two decisions, made at two moments:
- `queued_control`, in the write observer (the transaction of the version): whether the version
  needs a message and what it asks for. The first `active` version: `NW`; `revoked` /
  `entered-in-error` / deleted after that: `CA`; `active` -> `on-hold`: `HD`; back to `active`:
  `RL`; a change of what the lab sees: `XO`; anything else: nothing. After a cancellation nothing
  more is queued (a revoked order made active again needs a new ServiceRequest); a change of
  performer is not followed either (the order stays with the lab it went to).
- `settle_control`, in the sender, once every earlier message of the order is settled: what is
  really sent, from what the lab acknowledged. A lab that never took the order gets `NW` for an
  `active` version (an update before the first message left replaces it) and nothing for one on
  hold or cancelled; `HD`/`RL` only when the lab's hold state differs; `XO` only when what the
  lab sees differs from the last message it took; otherwise nothing (`withdrawn`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fhir_server.i18n import _
from fhir_server.storage.hl7_outbox import ACKNOWLEDGED, CANCEL, CHANGE, HOLD, NEW_ORDER, RELEASE, OutboxEntry

ACTIVE, ON_HOLD = "active", "on-hold"
CANCELLED = ("revoked", "entered-in-error")
LAB_VISIBLE = (
    "code", "priority", "occurrenceDateTime", "occurrencePeriod", "subject", "requester", "specimen", "note",
    "supportingInfo",
)  # fmt: skip


def lab_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a ServiceRequest that goes into the message (status aside)."""
    view = {name: body[name] for name in LAB_VISIBLE if body.get(name) not in (None, "", [], {})}
    if "note" in view:
        view["note"] = [n.get("text") for n in view["note"] if isinstance(n, dict) and n.get("text")]
    return view


def queued_control(
    body: Mapping[str, Any] | None, earlier: Sequence[OutboxEntry], last_queued: Mapping[str, Any] | None
) -> str | None:
    """The control a new version asks for (None: no message).

    :param body: the new version (None: deleted)
    :param earlier: the order's entries so far, oldest first
    :param last_queued: the version of the newest of them (None when unreadable)
    """
    if any(e.control == CANCEL for e in earlier):
        return None
    status = None if body is None else body.get("status")
    if body is None or status in CANCELLED:
        return CANCEL if earlier else None
    if not earlier:
        return NEW_ORDER if status == ACTIVE else None
    if status not in (ACTIVE, ON_HOLD):
        return None
    before = (last_queued or {}).get("status")
    if status == ON_HOLD and before != ON_HOLD:
        return HOLD
    if status == ACTIVE and before == ON_HOLD:
        return RELEASE
    if last_queued is None or lab_view(body) != lab_view(last_queued):
        return CHANGE
    return None


def last_taken(earlier: Sequence[OutboxEntry]) -> OutboxEntry | None:
    """The newest message the lab acknowledged that carried the order (any but a cancel)."""
    taken = [e for e in earlier if e.status == ACKNOWLEDGED and e.control != CANCEL]
    return taken[-1] if taken else None


def settle_control(
    control: str,
    earlier: Sequence[OutboxEntry],
    body: Mapping[str, Any] | None,
    taken: Mapping[str, Any] | None,
) -> tuple[str | None, str]:
    """The control to send for an entry whose earlier messages are all settled, or (None, why not).

    :param control: what the version asked for (`queued_control`)
    :param earlier: the order's earlier entries, oldest first, all settled
    :param body: the entry's ServiceRequest version (None for a deletion)
    :param taken: the version of `last_taken(earlier)`, the order as the lab has it
    """
    acknowledged = [e for e in earlier if e.status == ACKNOWLEDGED]
    at_lab = any(e.control == NEW_ORDER for e in acknowledged)
    if control == CANCEL:
        return (CANCEL, "") if at_lab else (None, _("The lab never took the order."))
    status = (body or {}).get("status")
    if not at_lab:
        if status == ACTIVE:
            return NEW_ORDER, ""
        return None, _("The lab never took the order, and this version does not ask for it.")
    held = False
    for entry in acknowledged:
        if entry.control in (NEW_ORDER, HOLD, RELEASE):
            held = entry.control == HOLD
    if status == ON_HOLD and not held:
        return HOLD, ""
    if status == ACTIVE and held:
        return RELEASE, ""
    if status in (ACTIVE, ON_HOLD) and body is not None and (taken is None or lab_view(body) != lab_view(taken)):
        return CHANGE, ""
    return None, _("Nothing the lab sees changed since the last message it took.")
