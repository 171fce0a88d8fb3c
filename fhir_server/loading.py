"""Loading a folder of FHIR resources (the demo data set) through the engine, and its demo accounts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from . import engine
from .auth.policy import AccessPolicy
from .config import Settings
from .demo_accounts import ACCOUNTS_FILE, add_demo_accounts
from .errors import ResourceDeleted, ResourceNotFound
from .fhir_json import loads
from .storage import ResourceStore
from .storage.database import Database

log = logging.getLogger(__name__)

_LOADER = AccessPolicy.system("loader")


async def load_folder_into(settings: Settings, folder: Path, roles: Mapping[str, object]) -> int:
    """Open the database, load `folder` (see `load_folder`) and its demo accounts, if any, and close it.

    Run once, before any worker starts. Accounts come after the resources they stand for.
    """
    async with Database.open(settings) as database:
        created = await load_folder(database.resources, folder)
        if (folder / ACCOUNTS_FILE).is_file():
            await add_demo_accounts(database.users, folder / ACCOUNTS_FILE, roles)
        return created


async def load_folder(store: ResourceStore, folder: Path) -> int:
    """Create each `*.json` resource of `folder` (but ACCOUNTS_FILE) under its own id unless it exists; return how
    many were created.

    Running it again changes nothing, so a server can load its demo data at every start.
    """
    created = 0
    for path in sorted(p for p in folder.glob("*.json") if p.name != ACCOUNTS_FILE):
        resource = loads(path.read_bytes())
        resource_type, resource_id = resource["resourceType"], resource["id"]
        try:
            await engine.read_resource(store, _LOADER, resource_type, resource_id)
            continue
        except ResourceNotFound:
            pass
        except ResourceDeleted:
            continue  # a user deleted it on purpose: leave it deleted
        await engine.update_resource(store, _LOADER, resource_type, resource_id, resource)
        created += 1
    log.info("loaded resources", extra={"folder": str(folder), "resources_created": created})
    return created
