"""The one seam every resource body passes through on its way to and from the database.

Encryption at rest plugs in here: a codec that turns the JSON bytes into ciphertext and
back. Nothing above storage/ sees the stored format.
"""

from __future__ import annotations

from typing import Protocol


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
