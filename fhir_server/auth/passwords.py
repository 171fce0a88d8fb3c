"""Password hashes with scrypt, a memory-hard KDF: a stolen user table is slow to attack.

A hash reads `scrypt$n=32768,r=8,p=1$<salt>$<key>` (base64 without padding). The
parameters travel in the string, so they can be raised later: old hashes still verify,
and `needs_rehash` tells the sign-in to store a fresh hash with the new parameters.
n=2**15, r=8 needs 32 MiB per hash (128·n·r bytes) and about 0.1 s of one core.
"""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SCHEME = "scrypt"
N, R, P = 2**15, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
MAX_N, MAX_R, MAX_P = 2**20, 32, 16


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(password.encode("utf-8"))


def hash_password(password: str) -> str:
    """A new hash of `password` with a fresh random salt and the current parameters."""
    salt = os.urandom(SALT_BYTES)
    return f"{SCHEME}$n={N},r={R},p={P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def _parameters(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        scheme, params, salt, key = stored.split("$")
        values = dict(item.split("=", 1) for item in params.split(","))
        n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
        salt_bytes, key_bytes = _unb64(salt), _unb64(key)
    except (ValueError, KeyError):
        return None
    sane = n <= MAX_N and r <= MAX_R and p <= MAX_P  # a planted hash must not make a sign-in eat the machine
    return (n, r, p, salt_bytes, key_bytes) if scheme == SCHEME and salt_bytes and key_bytes and sane else None


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; a malformed hash matches nothing. Compares in constant time."""
    parsed = _parameters(stored)
    if parsed is None:
        return False
    n, r, p, salt, key = parsed
    try:
        derived = _derive(password, salt, n, r, p)
    except ValueError:
        return False
    return hmac.compare_digest(derived, key)


def needs_rehash(stored: str) -> bool:
    """Whether `stored` was made with other parameters than today's (so a new hash should replace it)."""
    parsed = _parameters(stored)
    return parsed is None or parsed[:3] != (N, R, P)
