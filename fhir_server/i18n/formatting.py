"""Dates, times, numbers and money written the way the reader's language writes them (CLDR, through Babel).

Texts go through `_()`; values (and lists of words) go through these functions, with the language the request
negotiated (`current_language()`), so a German reader sees `03.02.1980` and `1.234,50 €` where
an English one sees `Feb 3, 1980` and `€1,234.50`. FHIR values may be given as their JSON
text: a date may be partial (`1980`, `1980-02`), and a dateTime with a time of day carries its
own UTC offset, which is kept unless a `zone` is asked for. Amounts are exact decimals and
stay exact: nothing is rounded to fit a format (`0.125` USD shows all three digits).
https://hl7.org/fhir/R4/datatypes.html#date, https://cldr.unicode.org/
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from copy import copy
from datetime import date, datetime, tzinfo
from decimal import Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel import dates as cldr_dates
from babel import lists as cldr_lists
from babel import numbers as cldr_numbers

__all__ = ["format_date", "format_datetime", "format_decimal", "format_list", "format_money"]

_FALLBACK = "en"
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_WIDE = Context(prec=80)
"""Babel rounds in the current decimal context (28 digits by default); FHIR decimals may have 34 and more."""


@lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    """The CLDR locale of a BCP 47 tag (`de`, `pt-BR`); English for a tag CLDR does not know."""
    try:
        return Locale.parse(language, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(_FALLBACK)


def format_date(value: date | str, language: str) -> str:
    """A date in the medium width of `language` (`Feb 3, 1980`, `03.02.1980`, `3 feb 1980`).

    A FHIR date text may be partial: a year alone stays a year, a year and month shows both
    (`Feb 1980`). A dateTime text is cut to its calendar date. Raise ValueError for text that
    is no FHIR date.
    """
    locale = _locale(language)
    if isinstance(value, str):
        partial = _PARTIAL_DATE.fullmatch(value)
        if partial is not None:
            year, month = partial.groups()
            first_day = date(int(year), int(month or 1), 1)
            return cldr_dates.format_skeleton("yMMM" if month else "y", first_day, locale=locale)
        value = _moment(value).date() if "T" in value else date.fromisoformat(value)
    return cldr_dates.format_date(value, "medium", locale=locale)


def format_datetime(value: datetime | str, language: str, zone: tzinfo | None = None) -> str:
    """A moment as a medium date and a short time of day (`May 5, 2024, 10:00 AM`, `05.05.2024, 10:00`).

    The time is shown at the value's own UTC offset, or in `zone` when given. A FHIR dateTime
    without a time of day is a (possibly partial) date and shown as one. Raise ValueError for
    text that is no FHIR dateTime, or a datetime without an offset (its moment is unknown).
    """
    if isinstance(value, str):
        if "T" not in value:
            return format_date(value, language)
        value = _moment(value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()} has no UTC offset")
    if zone is not None:
        value = value.astimezone(zone)
    locale = _locale(language)
    day = cldr_dates.format_date(value.date(), "medium", locale=locale)
    time = cldr_dates.format_time(value, "short", tzinfo=value.tzinfo, locale=locale)
    pattern = str(locale.datetime_formats["medium"]).replace("'", "")
    return pattern.replace("{1}", day).replace("{0}", time)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z") + "+00:00" if text.endswith("Z") else text)


def format_decimal(value: Decimal | int | str, language: str) -> str:
    """A number with the grouping and decimal sign of `language`, every given digit kept (`1.234,50`).

    FHIR decimals carry their precision in their trailing zeros (`1.50` is not `1.5`), so the
    locale's pattern is used with exactly the value's own number of decimals.
    """
    number, locale = _exact(value), _locale(language)
    decimals = max(0, -int(number.as_tuple().exponent))
    pattern = copy(locale.decimal_formats[None])
    pattern.frac_prec = (decimals, decimals)
    with localcontext(_WIDE):
        return pattern.apply(number, locale, decimal_quantization=False)


def format_money(amount: Decimal | int | str, currency: str, language: str) -> str:
    """An amount in an ISO 4217 currency as `language` writes it (`€1,234.50`, `1.234,50 €`).

    At least the currency's usual number of decimals is shown, more when the amount has them.
    Raise ValueError for a currency that is not three capital letters.
    """
    if not _CURRENCY.fullmatch(currency):
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code")
    with localcontext(_WIDE):
        return cldr_numbers.format_currency(
            _exact(amount), currency, locale=_locale(language), decimal_quantization=False
        )


def format_list(items: Sequence[str], language: str) -> str:
    """Items joined as `language` lists them: `see, add and change`, `sehen, hinzufügen und ändern`."""
    return cldr_lists.format_list(list(items), locale=_locale(language)) if items else ""


def _exact(value: Decimal | int | str) -> Decimal:
    """`value` as a Decimal; a float is refused, as it would already have lost digits."""
    if isinstance(value, float | bool):
        raise TypeError(f"an exact decimal is needed, not {type(value).__name__}")
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number
