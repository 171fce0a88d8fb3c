"""ORM^O01 / OML^O21: ORC + OBR → ServiceRequest, order-group OBX → supportingInfo Observations.

IG segment maps ORC[ServiceRequest] and OBR[ServiceRequest]. Placer and filler numbers identify the order:
the conditional key is the placer number (else the filler number), so an ORU naming the same order finds it.
"""

from __future__ import annotations

from typing import Any

from fhir_server.i18n import _

from .bundle import Transaction, ref
from .datatypes import coded, datetime_of, ei
from .encounter import add_encounter
from .model import Context
from .observation import build_observation, notes_of
from .patient import add_patient
from .segments import Message, OrderGroup, Segment, Value, order_groups
from .specimen import add_specimens
from .tables import ORDER_CONTROL_STATUS, ORDER_STATUS

PLACER_SYSTEM = "urn:hl7v2:placer-order"
FILLER_SYSTEM = "urn:hl7v2:filler-order"
OBX_SYSTEM = "urn:hl7v2:obx"


def _number(segments: list[tuple[Segment | None, int]], kind: str, system: str) -> dict[str, Any] | None:
    for seg, n in segments:
        value = seg.first(n) if seg is not None else None
        if value is not None and (ident := ei(value, kind)):
            ident.setdefault("system", system)
            return ident
    return None


def order_numbers(group: OrderGroup) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Placer (OBR-2, else ORC-2) and filler (OBR-3, else ORC-3) order numbers as Identifiers."""
    placer = _number([(group.obr, 2), (group.orc, 2)], "PLAC", PLACER_SYSTEM)
    filler = _number([(group.obr, 3), (group.orc, 3)], "FILL", FILLER_SYSTEM)
    return placer, filler


def message_key(message: Message, index: int) -> dict[str, Any]:
    """A last-resort key for an order without numbers: `<MSH-10>-<group index>` (not stable across messages)."""
    msh = message.first("MSH")
    control = msh.c(10) if msh is not None else ""
    return {"system": "urn:hl7v2:message-order", "value": f"{control or 'no-control-id'}-{index}"}


def order_code(group: OrderGroup, ctx: Context) -> dict[str, Any] | None:
    """OBR-4 (universal service identifier) as a CodeableConcept."""
    if group.obr is None:
        return None
    return coded(group.obr.first(4), ctx, group.obr.loc(4))


def _person(value: Value | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = " ".join(p for p in (value.c(3), value.c(2), value.c(1) if not value.c(2) else "") if p)
    return {"display": text} if text else None


def build_service_request(
    group: OrderGroup, ids: list[dict[str, Any]], status: str, patient_url: str, ctx: Context
) -> dict[str, Any]:
    """The ServiceRequest of an order group (identifiers, status, code, subject, authoredOn, requester, notes)."""
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": ids,
        "status": status,
        "intent": "order",
        "subject": ref(patient_url),
    }
    if code := order_code(group, ctx):
        request["code"] = code
    if group.orc is not None and (when := datetime_of(group.orc.c(9), ctx, group.orc.loc(9))):
        request["authoredOn"] = when
    requester = _person(group.orc.first(12) if group.orc is not None else None)
    requester = requester or _person(group.obr.first(16) if group.obr is not None else None)
    if requester:
        request["requester"] = requester
    if notes := notes_of(group.notes):
        request["note"] = notes
    return request


def order_status(group: OrderGroup, ctx: Context) -> str:
    """ORC-5 (table 0038), else ORC-1 (table 0119) → ServiceRequest.status; 'unknown' otherwise."""
    if group.orc is None:
        return "active"
    status, control = group.orc.c(5).upper(), group.orc.c(1).upper()
    if status in ORDER_STATUS:
        return ORDER_STATUS[status]
    if status:
        ctx.warn("103", group.orc.loc(5), _("'{value}' is not in table 0038 (order status)").format(value=status))
    if control in ORDER_CONTROL_STATUS:
        return ORDER_CONTROL_STATUS[control]
    ctx.warn(
        "103" if control else "101",
        group.orc.loc(1),
        _("ORC-1 order control '{control}' is not mapped").format(control=control),
    )
    return "unknown"


def add_observations(
    group: OrderGroup, key_value: str, subject: str, encounter: str | None, ctx: Context, tx: Transaction
) -> list[str]:
    """Updates at ids derived from their keys (`<key>-<OBX-3 code>-<OBX-4>` under urn:hl7v2:obx) for the OBX."""
    urls: list[str] = []
    seen: set[str] = set()
    fallback = datetime_of(group.obr.c(7), ctx, group.obr.loc(7)) if group.obr is not None else None
    for result in group.results:
        obs = build_observation(result, ctx, fallback)
        if obs is None:
            continue
        obx = result.obx
        code = obx.c(3, 1) or obx.c(3, 4) or obs["code"].get("text", "")
        value = f"{key_value}-{code}-{obx.c(4)}"
        if value in seen:
            value += f"-{obx.c(1) or obx.set_id}"
        seen.add(value)
        obs["identifier"] = [{"system": OBX_SYSTEM, "value": value}]
        obs["subject"] = ref(subject)
        if encounter:
            obs["encounter"] = ref(encounter)
        urls.append(tx.own(obs, obs["identifier"][0]))
    return list(dict.fromkeys(urls))


def map_order(message: Message, ctx: Context) -> Transaction | None:
    """An ORM^O01 or OML^O21 message as a transaction; None when the patient can't be identified."""
    tx = Transaction()
    patient = add_patient(message, ctx, tx, update=False)
    if patient is None:
        return None
    encounter = add_encounter(message.first("PV1"), patient, "unknown", ctx, tx, update=False)
    for index, group in enumerate(order_groups(message), 1):
        placer, filler = order_numbers(group)
        ids = [i for i in (placer, filler) if i]
        if not ids:
            where = group.orc.loc(2) if group.orc is not None else "ORC"
            ctx.warn("101", where, _("the order has neither a placer nor a filler order number"))
            ids = [message_key(message, index)]
        key = ids[0]
        request = build_service_request(group, ids, order_status(group, ctx), patient, ctx)
        if encounter:
            request["encounter"] = ref(encounter)
        if specimens := add_specimens(group.specimens, patient, key["value"], ctx, tx):
            request["specimen"] = [ref(u) for u in specimens]
        if answers := add_observations(group, key["value"], patient, encounter, ctx, tx):
            request["supportingInfo"] = [ref(u) for u in answers]
        tx.update(request, key)
    return tx
