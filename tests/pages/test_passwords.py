"""scrypt password hashes: verification, parameters kept in the hash, malformed hashes."""

from __future__ import annotations

from fhir_server.auth import passwords
from fhir_server.auth.passwords import hash_password, needs_rehash, verify_password

from .conftest import older_hash


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith(f"scrypt$n={passwords.N},r={passwords.R},p={passwords.P}$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)
    assert hash_password("correct horse battery") != stored, "a fresh salt every time"
    assert not needs_rehash(stored)


def test_older_parameters_still_verify_and_ask_for_a_rehash() -> None:
    older = older_hash("pässwörd")
    assert verify_password("pässwörd", older)
    assert needs_rehash(older)


def test_malformed_hashes_match_nothing() -> None:
    good = hash_password("secret-password")
    salt, key = good.split("$")[2:]
    for stored in (
        "",
        "plain-text",
        f"bcrypt$n=32768,r=8,p=1${salt}${key}",
        f"scrypt$n=32768,r=8${salt}${key}",
        f"scrypt$n=3,r=8,p=1${salt}${key}",
        f"scrypt$n=x,r=8,p=1${salt}${key}",
        f"scrypt$n={2**24},r=8,p=1${salt}${key}",
        f"scrypt$n=32768,r=8,p=1$%%%${key}",
    ):
        assert not verify_password("secret-password", stored), stored
        assert needs_rehash(stored)
