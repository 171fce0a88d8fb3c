"""Demo accounts: the `accounts.json` of a `--load` folder, made when absent so the demo app can be signed in to.

The passwords stand in the file for anyone to read, so only demo data sets (examples/demo)
have one; each account created is logged as a WARNING. An account that exists is left as it
is, password included, so a demo user who changed it keeps the change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

import orjson

from .auth.accounts import check_fhir_user, check_password, check_role, check_username
from .auth.passwords import hash_password
from .storage.users import MongoUserStore, User

log = logging.getLogger(__name__)

ACCOUNTS_FILE = "accounts.json"
"""In a load folder: a list of {"username", "role", "fhirUser", "password"}; not a FHIR resource."""


async def add_demo_accounts(users: MongoUserStore, path: Path, roles: Mapping[str, object]) -> list[str]:
    """Add each account of the file at `path` whose username is free; return the usernames added.

    Raise AccountError (a ValueError) for an entry the `user add` command would refuse.
    """
    added = []
    for entry in orjson.loads(path.read_bytes()):
        username = check_username(entry["username"])
        if await users.get(username) is not None:
            continue
        role = check_role(entry["role"], roles)
        password_hash = await asyncio.to_thread(hash_password, check_password(entry["password"]))
        await users.add(User(username, role, password_hash, check_fhir_user(entry.get("fhirUser"))))
        log.warning("demo account created with the password published in %s", path, extra={"username": username})
        added.append(username)
    return added
