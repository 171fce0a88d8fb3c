"""Money as FHIR writes it: an exact decimal value and an ISO 4217 currency.

Values are the FhirDecimal read from the JSON (`1.10` keeps its text) or a Decimal computed from
them; a binary float never enters (a float in a price is refused by `money_value`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

_CURRENCY = re.compile(r"[A-Z]{3}")


def money_value(money: Any) -> Decimal | None:
    """Money.value as a Decimal, None when absent or not a decimal (an int is exact and accepted)."""
    if not isinstance(money, dict):
        return None
    value = money.get("value")
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        return None
    return value if isinstance(value, Decimal) else Decimal(value)


def currency_of(money: Any) -> str | None:
    """Money.currency when it is an ISO 4217 code (three capitals), else None."""
    currency = money.get("currency") if isinstance(money, dict) else None
    return currency if isinstance(currency, str) and _CURRENCY.fullmatch(currency) else None


def times(value: Decimal, quantity: Decimal) -> Decimal:
    """`value` for `quantity` units; one unit keeps the price exactly as written."""
    return value if quantity == 1 else value * quantity
