"""The fee schedule: one ChargeItemDefinition per billing code and effective period.

An entry's `url` is `urn:fhir-server:fee-schedule:{code}` (codes.FEE_SCHEDULE), its `code` holds
that code (CPT, HCPCS or a local system), `effectivePeriod` when it applies, and one propertyGroup
per price level whose single priceComponent (type `base`) is coded with the price-level system
(`standard`, `self-pay`, or a payer `Organization/{id}`) and carries the amount (Money). Entries of
one code may not overlap in time on a level they both price (the write rule refuses it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..codes import FEE_SCHEDULE, PRICE_LEVEL, SELF_PAY, STANDARD
from ..dates import in_period

Find = Callable[[str, Sequence[tuple[str, str]], int], Awaitable[list[dict[str, Any]]]]
"""Search current resources: type, criteria as in a URL, limit (a rule's or an operation's search)."""

MAX_ENTRIES_PER_CODE = 100
"""Entries of one code looked at (one per effective period; a practice has a few)."""


@dataclass(frozen=True)
class Price:
    """A level's base price in one entry: `path` is where it is (for messages)."""

    level: str
    amount: dict[str, Any]
    path: str


def fee_url(code: str) -> str:
    return FEE_SCHEDULE + code


def is_fee_entry(definition: dict[str, Any]) -> bool:
    url = definition.get("url")
    return isinstance(url, str) and url.startswith(FEE_SCHEDULE)


def prices(definition: dict[str, Any]) -> Iterator[Price]:
    """Every level-coded base price of an entry, with its FHIRPath."""
    for g, group in enumerate(definition.get("propertyGroup") or []):
        for c, component in enumerate(group.get("priceComponent") or []):
            for coding in (component.get("code") or {}).get("coding") or []:
                if coding.get("system") == PRICE_LEVEL and coding.get("code"):
                    path = f"ChargeItemDefinition.propertyGroup[{g}].priceComponent[{c}]"
                    yield Price(coding["code"], component.get("amount") or {}, path)


@dataclass(frozen=True)
class Priced:
    """The fee schedule's answer for one code: the coding charged, the amount and the entry used."""

    coding: dict[str, Any]
    amount: dict[str, Any]
    canonical: str


def _level_amount(definition: dict[str, Any], payer: str | None) -> dict[str, Any] | None:
    levels = {price.level: price.amount for price in prices(definition)}
    if payer is None:
        return levels.get(SELF_PAY) or levels.get(STANDARD)
    return levels.get(payer) or levels.get(STANDARD)


async def price_of(find: Find, codings: Sequence[dict[str, Any]], day: date, payer: str | None) -> Priced | None:
    """The price of the first of `codings` the schedule has an entry for on `day`, at the level of
    `payer` (an Organization reference; None: self-pay). None when no coding is in the schedule."""
    for coding in codings:
        code = coding.get("code")
        if not isinstance(code, str) or not code:
            continue
        entries = await find(
            "ChargeItemDefinition", [("url", fee_url(code)), ("status", "active")], MAX_ENTRIES_PER_CODE
        )
        for definition in entries:
            if not in_period(day, definition.get("effectivePeriod")):
                continue
            amount = _level_amount(definition, payer)
            if amount is not None:
                version = definition.get("version")
                canonical = definition["url"] + (f"|{version}" if version else "")
                return Priced(coding, amount, canonical)
    return None
