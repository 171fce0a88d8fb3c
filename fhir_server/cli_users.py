"""`fhir-server user ...`: staff and patient accounts, and the bootstrap of the first admin.

`fhir_server/cli.py` calls `add_user_command(commands)`; the parsed arguments of the `user`
command go to `run_user_command`, the parser default `handler`. Passwords come from
`--password-stdin` (one line) or, on a terminal, from a prompt asked twice; never from the
command line, where other users of the machine could read them.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from .auth.accounts import AccountError, check_fhir_user, check_password, check_role, check_username
from .auth.passwords import hash_password
from .auth.policy import AccessPolicy
from .auth.roles import load_roles
from .cli_database import add_database_options, run_on_database
from .config import Settings
from .engine.read import read_resource
from .errors import FhirError, ResourceDeleted, ResourceNotFound
from .i18n import _
from .storage import ResourceStore
from .storage.database import Database
from .storage.users import MongoUserStore, User, UserExists

_OWN = ("command", "action", "username", "role", "fhir_user", "password_stdin")


def add_user_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add `user` (add, list, passwd, remove, enable, disable) to the `fhir-server` sub-commands."""
    user = subparsers.add_parser("user", help=_("Manage the accounts of staff and patients."))
    actions = user.add_subparsers(dest="action", required=True)

    def action(name: str, help_text: str, *, named: bool = True) -> argparse.ArgumentParser:
        command = actions.add_parser(name, help=help_text, description=help_text)
        if named:
            command.add_argument("username", metavar="USERNAME")
        add_database_options(command)
        command.add_argument("--roles-file", type=Path, help=_("JSON file of roles and their scopes."))
        return command

    add = action("add", _("Add an account."))
    add.add_argument("--role", required=True, help=_("The account's role (admin, physician, nurse, patient ...)."))
    add.add_argument("--fhir-user", help=_("The resource the user stands for: Practitioner/1, Patient/2 ..."))
    add.add_argument("--password-stdin", action="store_true", help=_("Read the password from standard input."))
    action("list", _("List the accounts."), named=False)
    passwd = action("passwd", _("Set an account's password."))
    passwd.add_argument("--password-stdin", action="store_true", help=_("Read the password from standard input."))
    action("remove", _("Remove an account."))
    action("disable", _("Stop an account from signing in."))
    action("enable", _("Let a disabled account sign in again."))
    user.set_defaults(handler=run_user_command)
    return user


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return check_password(sys.stdin.readline().rstrip("\r\n"))
    if not sys.stdin.isatty():
        raise AccountError(_("No terminal to ask for the password on; use --password-stdin."))
    first = check_password(getpass.getpass(_("Password: ")))
    if getpass.getpass(_("Password again: ")) != first:
        raise AccountError(_("The passwords differ."))
    return first


def _say(message: str) -> None:
    print(message, flush=True)


async def _add(users: MongoUserStore, args: dict[str, Any], settings: Settings) -> None:
    username = check_username(args["username"])
    role = check_role(args["role"], load_roles(settings.roles_file))
    fhir_user = args.get("fhir_user")
    password_hash = await asyncio.to_thread(hash_password, _read_password(args["password_stdin"]))
    try:
        await users.add(User(username, role, password_hash, fhir_user))
    except UserExists as exc:
        raise AccountError(_("There is already an account {username!r}.").format(username=username)) from exc
    _say(_("Added {username} ({role}).").format(username=username, role=role))


async def _list(users: MongoUserStore, args: dict[str, Any], settings: Settings) -> None:
    for user in await users.all():
        state = _("active") if user.active else _("disabled")
        _say(f"{user.username}\t{user.role}\t{user.fhir_user or '-'}\t{state}")


async def _passwd(users: MongoUserStore, args: dict[str, Any], settings: Settings) -> None:
    if await users.get(args["username"]) is None:
        raise _no_such_user(args["username"])
    password_hash = await asyncio.to_thread(hash_password, _read_password(args["password_stdin"]))
    await users.set_password(args["username"], password_hash)
    _say(_("Password of {username} changed.").format(username=args["username"]))


async def _remove(users: MongoUserStore, args: dict[str, Any], settings: Settings) -> None:
    if not await users.remove(args["username"]):
        raise _no_such_user(args["username"])
    _say(_("Removed {username}.").format(username=args["username"]))


async def _set_active(users: MongoUserStore, args: dict[str, Any], settings: Settings) -> None:
    active = args["action"] == "enable"
    if not await users.set_active(args["username"], active):
        raise _no_such_user(args["username"])
    done = _("Enabled {username}.") if active else _("Disabled {username}.")
    _say(done.format(username=args["username"]))


def _no_such_user(username: str) -> AccountError:
    return AccountError(_("There is no account {username!r}.").format(username=username))


_ACTIONS: dict[str, Callable[[MongoUserStore, dict[str, Any], Settings], Coroutine[Any, Any, None]]] = {
    "add": _add,
    "list": _list,
    "passwd": _passwd,
    "remove": _remove,
    "enable": _set_active,
    "disable": _set_active,
}


async def _check_fhir_user_exists(store: ResourceStore, reference: str | None) -> None:
    """Raise AccountError unless `reference` is None or names a stored Practitioner, Patient, RelatedPerson
    or Person: a user who stands for nothing would sign in to apps that cannot find who they are."""
    checked = check_fhir_user(reference)
    if checked is None:
        return
    resource_type, _sep, resource_id = checked.partition("/")
    try:
        await read_resource(store, AccessPolicy.system("cli"), resource_type, resource_id)
    except ResourceDeleted as exc:
        raise AccountError(_("{reference} was deleted; a user must stand for a stored resource.").format(
            reference=reference)) from exc  # fmt: skip
    except ResourceNotFound as exc:
        raise AccountError(_("There is no {reference}; create it first, then the user who stands for it.").format(
            reference=reference)) from exc  # fmt: skip


async def _run(settings: Settings, args: dict[str, Any]) -> None:
    assert settings.mongodb_uri, "inside running_database()"
    async with Database.open(settings, indexes=False) as database:
        if args["action"] == "add":
            await _check_fhir_user_exists(database.resources, args.get("fhir_user"))
        await _ACTIONS[args["action"]](database.users, args, settings)


def run_user_command(args: dict[str, Any]) -> int:
    """Run one `user` action on the configured or embedded database; 1 with a message on stderr when refused."""
    try:
        run_on_database(args, _OWN, lambda ready: _run(ready, args))
    except (AccountError, FhirError) as exc:
        print(_("user {action} refused: {reason}").format(action=args["action"], reason=exc), file=sys.stderr)
        return 1
    except ValueError as exc:  # a roles file that cannot be read
        print(str(exc), file=sys.stderr)
        return 1
    return 0
