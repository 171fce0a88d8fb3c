"""Structured dosage (R4 Dosage + Timing): what a prescription must say, the human sig printed on paper,
and the daily amount of each ingredient the dose range check compares. https://hl7.org/fhir/R4/dosage.html
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ...i18n import _

_PER_DAY = {"s": Decimal(86400), "min": Decimal(1440), "h": Decimal(24), "d": Decimal(1), "wk": 1 / Decimal(7)}
"""Periods per day of the Timing units a daily amount can be computed for (months and years vary)."""
_MASS_MG = {"mg": Decimal(1), "g": Decimal(1000), "ug": Decimal("0.001"), "mcg": Decimal("0.001")}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def dose_quantity(dosage: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first doseAndRate's doseQuantity, None when there is none."""
    for dose_and_rate in dosage.get("doseAndRate") or []:
        quantity = (dose_and_rate or {}).get("doseQuantity")
        if isinstance(quantity, Mapping):
            return quantity
    return None


def dosage_problem(dosage: Any, where: str) -> tuple[str, str] | None:
    """What is missing from one dosageInstruction of a prescription, and where; None when it is complete."""
    if not isinstance(dosage, Mapping):
        return _("A dosage instruction is required."), where
    quantity = dose_quantity(dosage)
    value = _number((quantity or {}).get("value"))
    if value is None or value <= 0:
        return _("The dose must be a quantity greater than 0."), f"{where}.doseAndRate[0].doseQuantity.value"
    timing = dosage.get("timing")
    repeat = (timing or {}).get("repeat") if isinstance(timing, Mapping) else None
    if isinstance(timing, Mapping) and timing.get("code"):
        return None
    if not isinstance(repeat, Mapping):
        return _("The dosage needs a timing (Timing.repeat or Timing.code)."), f"{where}.timing"
    frequency, period = _number(repeat.get("frequency", 1)), _number(repeat.get("period"))
    if frequency is None or frequency <= 0 or period is None or period <= 0 or not repeat.get("periodUnit"):
        return (_("The timing needs a frequency, a period greater than 0 and a period unit."),
                f"{where}.timing.repeat")  # fmt: skip
    return None


def daily_mg(dosage: Mapping[str, Any], strength_mg: Decimal) -> tuple[Decimal, Decimal] | None:
    """(single dose, daily amount) in mg of one ingredient of `strength_mg` per unit; None when the dosage
    does not allow computing it (no mass unit and no strength, a period in months)."""
    quantity = dose_quantity(dosage) or {}
    value = _number(quantity.get("value"))
    unit = str(quantity.get("code") or quantity.get("unit") or "")
    if value is None:
        return None
    if unit in _MASS_MG:
        single = value * _MASS_MG[unit]
    elif strength_mg > 0:
        single = value * strength_mg  # a count of units: tablets, capsules
    else:
        return None
    repeat = ((dosage.get("timing") or {}).get("repeat")) or {}
    frequency = _number(repeat.get("frequencyMax", repeat.get("frequency", 1)))
    period = _number(repeat.get("period"))
    per_day = _PER_DAY.get(str(repeat.get("periodUnit", "")))
    if frequency is None or period is None or period <= 0 or per_day is None:
        return None
    return single, single * frequency * per_day / period


def sig_text(dosage: Mapping[str, Any]) -> str:
    """The instruction as a person reads it: Dosage.text when given, else built from the structure."""
    if dosage.get("text"):
        return str(dosage["text"])
    parts: list[str] = []
    quantity = dose_quantity(dosage)
    if quantity:
        parts.append(f"{quantity.get('value', '')} {quantity.get('unit') or quantity.get('code') or ''}".strip())
    route = dosage.get("route") or {}
    route_text = route.get("text") or next(
        (c.get("display") for c in route.get("coding") or [] if c.get("display")), None
    )
    if route_text:
        parts.append(str(route_text))
    repeat = ((dosage.get("timing") or {}).get("repeat")) or {}
    if repeat.get("period"):
        parts.append(
            _("{frequency} time(s) every {period} {unit}").format(
                frequency=repeat.get("frequency", 1), period=repeat["period"], unit=repeat.get("periodUnit", "")
            )
        )
    if dosage.get("asNeededBoolean"):
        parts.append(_("as needed"))
    return ", ".join(parts)
