"""Checking a username and password, with lockout after repeated failures.

An unknown username, an inactive account and a wrong password look the same from outside:
the same answer, a KDF run either way (against a decoy hash when there is no account), and
failures counted per username whether or not it exists, so locks reveal nothing either.
"""

from __future__ import annotations

import asyncio
import secrets
from functools import cache

from ..auth.passwords import hash_password, needs_rehash, verify_password
from ..storage.users import User
from .stores import PageStores

MAX_USERNAME = 256


class AccountLocked(Exception):
    """Too many failed sign-ins for this username; try again after the lock time."""


@cache
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


async def sign_in(stores: PageStores, username: str, password: str) -> User | None:
    """The active user when the password is right, else None. Raise AccountLocked while the username is locked.

    The KDF runs in a thread so the event loop keeps serving other requests meanwhile.
    """
    username = username[:MAX_USERNAME]
    if await stores.lockouts.locked(username):
        raise AccountLocked(username)
    user = await stores.users.get(username)
    usable = user is not None and user.active
    stored = user.password_hash if user is not None and usable else _decoy_hash()
    good = await asyncio.to_thread(verify_password, password, stored)
    if user is None or not usable or not good:
        if await stores.lockouts.fail(username):
            raise AccountLocked(username)
        return None
    await stores.lockouts.clear(username)
    if needs_rehash(user.password_hash):
        await stores.users.set_password(username, await asyncio.to_thread(hash_password, password))
    return user
