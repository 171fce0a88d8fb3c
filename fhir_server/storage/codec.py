"""The seams every value passes on its way to and from the database.

Resource bodies: a `BodyCodec` turns the JSON bytes into the stored value and back. Encryption at
rest plugs in here: a codec that turns the JSON bytes into ciphertext and back. Nothing above
storage/ sees the stored format. The bytes are the JSON text as `fhir_json` wrote it, so every
decimal keeps its digits, trailing zeros and exponent, however many (R4 datatypes.html#decimal).

Search values: index entries, sort keys and query bounds hold numbers as `Decimal`, which BSON
stores as Decimal128 (`DECIMAL_TYPES`); MongoDB and SecantusDB compare it by value with the
int and double of older entries. Validation keeps stored decimals within its 34 digits.
"""

from __future__ import annotations

import struct
from decimal import Context, Decimal
from typing import Any, Protocol

from bson.codec_options import TypeRegistry
from bson.decimal128 import Decimal128

from ..decimals import nearest_decimal128


class BodyCodec(Protocol):
    """Turns FHIR JSON bytes into the stored value and back."""

    def encode(self, body: bytes) -> bytes: ...

    def decode(self, stored: bytes) -> bytes: ...


class PlainCodec:
    """Stores the JSON bytes as they are (a BSON binary field)."""

    def encode(self, body: bytes) -> bytes:
        return body

    def decode(self, stored: bytes) -> bytes:
        return bytes(stored)


_LOW_64 = (1 << 64) - 1
_EXPONENT_BIAS = 6176
_DIGITS = Context(prec=34, Emax=6144 + 34, Emin=-6176)
"""Wide enough to scale any decimal128's digits into an integer exactly."""


def decimal128_of(value: Decimal) -> Decimal128:
    """`value` rounded to decimal128 (`nearest_decimal128`), in BSON's binary integer decimal layout.

    `bson.Decimal128(value)` computes the same bits one bit at a time in Python: about a tenth of
    `fhir-server import`'s CPU went there, for the numbers of the search fields.
    """
    fitted = nearest_decimal128(value)
    sign, _digits, exponent = fitted.as_tuple()
    if not isinstance(exponent, int):
        return Decimal128(fitted)  # infinity and NaN
    significand = int(fitted.copy_abs().scaleb(-exponent, _DIGITS))  # at most 34 digits: below 2**113
    high = (significand >> 64) | ((exponent + _EXPONENT_BIAS) << 49) | (sign << 63)
    return Decimal128.from_bid(struct.pack("<QQ", significand & _LOW_64, high))


def _decimal128(value: Any) -> Any:
    """A Decimal (or FhirDecimal) as Decimal128; anything else is left for BSON to refuse."""
    return decimal128_of(value) if isinstance(value, Decimal) else value


DECIMAL_TYPES = TypeRegistry(fallback_encoder=_decimal128)
"""For the client: Decimal values in documents and queries become Decimal128 (read back as Decimal128)."""
