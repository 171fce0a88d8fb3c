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

from decimal import Decimal
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


def _decimal128(value: Any) -> Any:
    """A Decimal (or FhirDecimal) as Decimal128; anything else is left for BSON to refuse."""
    return Decimal128(nearest_decimal128(value)) if isinstance(value, Decimal) else value


DECIMAL_TYPES = TypeRegistry(fallback_encoder=_decimal128)
"""For the client: Decimal values in documents and queries become Decimal128 (read back as Decimal128)."""
