"""FHIR Money read and written exactly: a Decimal amount (never a float) and its ISO 4217 currency.

https://hl7.org/fhir/R4/datatypes.html#Money. Sums run in a context wide enough that adding two
amounts never rounds (`Inexact` is trapped), so `1.10 + 0` is `1.10` and `100.00 - 100.00` is `0.00`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Context, Decimal, Inexact, Rounded
from typing import Any

from ...decimals import FhirDecimal
from ...errors import InvalidRequest
from ...i18n import _

CURRENCY = re.compile(r"[A-Z]{3}")
ZERO = Decimal(0)
_EXACT = Context(prec=400, traps=[Inexact, Rounded])


def total(amounts: Iterable[Decimal]) -> Decimal:
    """The exact sum of `amounts` (0 for none)."""
    result = ZERO
    for amount in amounts:
        result = _EXACT.add(result, amount)
    return result


def read_money(value: Any, where: str) -> tuple[Decimal, str]:
    """(amount, currency) of the Money at `where` (a FHIRPath); InvalidRequest naming it when either is missing."""
    if not isinstance(value, dict):
        raise InvalidRequest(
            _("{where} is required: an amount with its currency.").format(where=where), expression=where
        )
    amount = value.get("value")
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise InvalidRequest(_("{where} has no amount.").format(where=where), expression=f"{where}.value")
    currency = value.get("currency")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise InvalidRequest(
            _("{where} needs a currency (an ISO 4217 code such as USD).").format(where=where),
            expression=f"{where}.currency",
        )
    return Decimal(amount), currency


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    """A FHIR Money whose value is written exactly as `amount`'s digits."""
    return {"value": FhirDecimal(json_number(amount)), "currency": currency}


def json_number(amount: Decimal) -> str:
    """`amount` as JSON number text, its digits kept (`-0.50`, `12.10`; never an exponent)."""
    return f"{amount:f}"
