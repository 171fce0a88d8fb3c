"""Dates, date-times, numbers and money in the reader's language (CLDR through Babel), and what is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fhir_server.i18n.formatting import format_date, format_datetime, format_decimal, format_list, format_money

BERLIN_SUMMER = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "language", "shown"),
    [
        ("1980-02-03", "en", "Feb 3, 1980"),
        ("1980-02-03", "es", "3 feb 1980"),
        ("1980-02-03", "de", "03.02.1980"),
        (date(1980, 2, 3), "de", "03.02.1980"),
        ("1980-02", "en", "Feb 1980"),
        ("1980-02", "de", "Feb. 1980"),
        ("1980", "es", "1980"),
        ("2024-05-05T23:30:00-05:00", "de", "05.05.2024"),  # the date where it was written
        ("1980-02-03", "pt-BR", "3 de fev. de 1980"),
        ("1980-02-03", "xx-unknown", "Feb 3, 1980"),  # a language CLDR lacks: English
    ],
)
def test_dates_as_the_reader_writes_them(value: date | str, language: str, shown: str) -> None:
    assert format_date(value, language) == shown


@pytest.mark.parametrize(
    ("value", "language", "shown"),
    [
        ("2024-05-05T10:00:00Z", "en", "May 5, 2024, 10:00\u202fAM"),
        ("2024-05-05T10:00:00Z", "es", "5 may 2024, 10:00"),
        ("2024-05-05T10:00:00Z", "de", "05.05.2024, 10:00"),
        ("2024-05-05T23:30:00-05:00", "de", "05.05.2024, 23:30"),  # its own offset, not moved to UTC
        (datetime(2024, 5, 5, 8, 0, tzinfo=UTC), "de", "05.05.2024, 08:00"),
        ("2024-05", "en", "May 2024"),  # a dateTime without a time is a date
    ],
)
def test_moments_as_the_reader_writes_them(value: datetime | str, language: str, shown: str) -> None:
    assert format_datetime(value, language) == shown


def test_a_moment_can_be_shown_in_another_zone() -> None:
    assert format_datetime("2024-05-05T22:30:00Z", "de", BERLIN_SUMMER) == "06.05.2024, 00:30"


@pytest.mark.parametrize("bad", ["1980-13-01", "1980-02-30", "03.02.1980", "1980-02-03xyz", "", "yesterday"])
def test_text_that_is_no_fhir_date_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        format_date(bad, "en")
    with pytest.raises(ValueError):
        format_datetime(bad, "en")


def test_a_moment_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        format_datetime("2024-05-05T10:00:00", "en")
    with pytest.raises(ValueError, match="no UTC offset"):
        format_datetime(datetime(2024, 5, 5, 10, 0), "en")


@pytest.mark.parametrize(
    ("value", "language", "shown"),
    [
        ("1234.500", "en", "1,234.500"),  # trailing zeros are precision: kept
        ("1234.500", "de", "1.234,500"),
        (Decimal("-0.000012340"), "es", "-0,000012340"),
        (1234567, "de", "1.234.567"),
        ("12345678901234567890.123456789012345", "en", "12,345,678,901,234,567,890.123456789012345"),
        ("1234567", "hi", "12,34,567"),  # the locale's own grouping
    ],
)
def test_numbers_keep_every_digit(value: Decimal | int | str, language: str, shown: str) -> None:
    assert format_decimal(value, language) == shown


@pytest.mark.parametrize(
    ("amount", "currency", "language", "shown"),
    [
        (Decimal("1234.5"), "EUR", "en", "€1,234.50"),
        (Decimal("1234.5"), "EUR", "de", "1.234,50\xa0€"),
        (Decimal("1234.5"), "EUR", "es", "1.234,50\xa0€"),
        ("0.125", "USD", "en", "$0.125"),  # more digits than the currency's: shown, not rounded
        (-3, "EUR", "de", "-3,00\xa0€"),
    ],
)
def test_money_in_the_readers_format(amount: Decimal | int | str, currency: str, language: str, shown: str) -> None:
    assert format_money(amount, currency, language) == shown


def test_inexact_or_malformed_amounts_are_refused() -> None:
    with pytest.raises(TypeError):
        format_money(0.1, "EUR", "en")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_decimal(True, "en")
    for bad in ("abc", "NaN", "Infinity", ""):
        with pytest.raises(ValueError):
            format_decimal(bad, "en")
    for currency in ("eur", "EURO", "€", ""):
        with pytest.raises(ValueError, match="ISO 4217"):
            format_money(Decimal("1"), currency, "en")


def test_lists_as_the_reader_writes_them() -> None:
    assert format_list(["see", "add", "change"], "en") == "see, add, and change"
    assert format_list(["sehen", "ändern"], "de") == "sehen und ändern"
    assert format_list(["ver"], "es") == "ver"
    assert format_list([], "es") == ""
