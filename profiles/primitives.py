"""Checks of FHIR primitive values as they appear in JSON.

Each checker returns None when the value is fine, else ``(issue code, diagnostic)``: ``structure``
for the wrong JSON type or an empty string, ``value`` for a bad lexical form; the diagnostic is a
function returning the translated template, so the text is translated when it is reported, in the
caller's language (and `_()` sees a literal, which the catalog check can read). The regexes come
from the primitive StructureDefinitions (vendored in the model); a few types need more than a
regex (number ranges, real calendar dates, base64 without catastrophic backtracking), and two
rules the regexes miss: no control characters but tab, carriage return and line feed in any
string-based value (R4 datatypes.html#string: the regex's \\S lets them through), and narrative
XHTML as xhtml.py checks it.

JSON numbers arrive as `int` or, with a fraction or an exponent, as `Decimal` (`fhir_server.fhir_json`
reads them exactly); a decimal must fit decimal128, the type search compares values in. A `float`
(a resource built in Python) stands for its shortest repr.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal

from fhir_server.decimals import fits_decimal128
from fhir_server.i18n import _
from profiles.xhtml import check_div

Problem = tuple[str, Callable[[], str]] | None
Checker = Callable[[object], Problem]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
NUMERIC = {"integer": INT32_MIN, "unsignedInt": 0, "positiveInt": 1}
BASE64_CHARS = re.compile(r"[0-9a-zA-Z+/=]*")
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

NOT_BOOLEAN = ("structure", lambda: _("Value must be a JSON boolean (true or false)"))
NOT_INTEGER = ("structure", lambda: _("Value must be a JSON integer"))
NOT_WHOLE = ("value", lambda: _("Value must be a whole number without a fraction or exponent"))
NOT_NUMBER = ("structure", lambda: _("Value must be a JSON number"))
NOT_STRING = ("structure", lambda: _("Value must be a JSON string"))
EMPTY_STRING = ("structure", lambda: _("Value must not be an empty string"))
OUT_OF_RANGE = ("value", lambda: _("Integer value is out of range for {type}"))
BAD_FORMAT = ("value", lambda: _("Value is not a valid {type}"))
TOO_PRECISE = ("value", lambda: _("Decimal value has more than 34 significant digits or an exponent beyond ±6143"))
BAD_DATE = ("value", lambda: _("Value is not a real calendar date"))
TOO_LONG = ("value", lambda: _("Value is longer than a {type} may be"))
NOT_XHTML = ("value", lambda: _("Narrative div must be XHTML starting with <div"))
CONTROL = ("value", lambda: _("Value contains a control character other than tab, carriage return or line feed"))


def _boolean(value: object) -> Problem:
    return None if value is True or value is False else NOT_BOOLEAN


def _integer(low: int) -> Checker:
    def check(value: object) -> Problem:
        if type(value) is int:
            return None if low <= value <= INT32_MAX else OUT_OF_RANGE
        if isinstance(value, Decimal):  # a fraction or exponent, or an integer beyond 64 bits
            return OUT_OF_RANGE if str(value).lstrip("-").isdigit() else NOT_WHOLE
        return NOT_WHOLE if type(value) is float else NOT_INTEGER

    return check


def _decimal(value: object) -> Problem:
    if type(value) is int or isinstance(value, Decimal):
        return None if fits_decimal128(value) else TOO_PRECISE
    if type(value) is float:  # built in Python rather than read from JSON: written as its shortest repr
        return None if math.isfinite(value) else BAD_FORMAT
    return NOT_NUMBER


def _calendar_ok(value: str) -> bool:
    """The regexes allow 31 days in every month; reject e.g. 2020-02-30 and 2019-02-29."""
    if len(value) < 10:
        return True
    year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
    if day <= 28:
        return True
    if month == 2 and day == 29:
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return day <= DAYS[month - 1]


def _string(pattern: str, max_length: int, dated: bool) -> Checker:
    # ASCII semantics match the Java/XML-Schema regexes the spec was written for (\S, \s).
    fullmatch = re.compile(pattern, re.ASCII).fullmatch if pattern else None
    control = CONTROL_CHARACTER.search

    def check(value: object) -> Problem:
        if type(value) is not str:
            return NOT_STRING
        if not value:
            return EMPTY_STRING
        if max_length and len(value) > max_length:
            return TOO_LONG
        if not value.isprintable() and control(value) is not None:  # isprintable: the fast common case
            return CONTROL
        if fullmatch is not None and fullmatch(value) is None:
            return BAD_FORMAT
        if dated and not _calendar_ok(value):
            return BAD_DATE
        return None

    return check


def _base64(value: object) -> Problem:
    """The spec regex `(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+` backtracks exponentially; check the same alphabet."""
    if type(value) is not str:
        return NOT_STRING
    if not value:
        return EMPTY_STRING
    packed = "".join(value.split())
    if len(packed) % 4 or BASE64_CHARS.fullmatch(packed) is None:
        return BAD_FORMAT
    return None


def _xhtml(value: object) -> Problem:
    if type(value) is not str:
        return NOT_STRING
    if not value:
        return EMPTY_STRING
    return check_div(value) if value.lstrip().startswith("<div") else NOT_XHTML


def build_checkers(primitives: dict[str, list[object]]) -> dict[str, Checker]:
    """One checker per primitive type, from the model's `{type: [regex, maxLength]}`."""
    checkers: dict[str, Checker] = {}
    for name, (pattern, max_length) in primitives.items():
        if name == "boolean":
            checkers[name] = _boolean
        elif name in NUMERIC:
            checkers[name] = _integer(NUMERIC[name])
        elif name == "decimal":
            checkers[name] = _decimal
        elif name == "base64Binary":
            checkers[name] = _base64
        elif name == "xhtml":
            checkers[name] = _xhtml
        else:
            checkers[name] = _string(str(pattern), int(str(max_length)), name in ("date", "dateTime", "instant"))
    return checkers
