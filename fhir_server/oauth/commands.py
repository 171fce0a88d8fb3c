"""`fhir-server client add|list|remove` and `fhir-server launch`: registering apps and launching
them from the command line, on the configured or the embedded database.

`client add` prints a symmetric client's secret once; only its hash is stored. `launch`
prints the URL that opens the app with a patient (and encounter) in context.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..auth.policy import AccessPolicy
from ..cli_database import add_database_options, run_on_database
from ..config import Settings
from ..errors import FhirError
from ..i18n import _
from ..storage.clients import Client, ClientExists
from ..storage.database import Database
from .launch import create_launch
from .launch_context import LaunchRefused
from .registration import RegistrationError, client_metadata, registration
from .server_base import server_base_for_cli

KINDS = {"public": "none", "symmetric": "client_secret_basic", "asymmetric": "private_key_jwt"}
_OWN = ("command", "client_command", "client_id", "name", "kind", "redirect_uris", "scopes", "launch_url", "jwks",
        "jwks_uri", "logo_uri", "patient", "encounter", "json")  # fmt: skip
_KIND_NAMES = {method: kind for kind, method in KINDS.items()}


def add_oauth_commands(commands: Any) -> None:
    """Add `client` (with add, list, remove) and `launch` to the `fhir-server` sub-commands."""
    client = commands.add_parser("client", help=_("Register, list and remove SMART apps (OAuth clients)."))
    actions = client.add_subparsers(dest="client_command", required=True)
    add = actions.add_parser("add", help=_("Register an app; a symmetric client's secret is printed once."))
    add.add_argument("--id", dest="client_id", help=_("The client_id (default: generated)."))
    add.add_argument("--name", help=_("A name people recognise."))
    add.add_argument("--kind", choices=sorted(KINDS), default="public", help=_("How the app authenticates."))
    add.add_argument("--redirect-uri", dest="redirect_uris", action="append", default=[], help=_("Repeatable."))
    add.add_argument("--scope", dest="scopes", action="append", default=[], help=_("Scopes it may get; repeatable."))
    add.add_argument("--launch-url", help=_("Where an EHR launch opens the app."))
    add.add_argument("--logo-uri", help=_("An image the sign-in page shows beside the app's name."))
    add.add_argument("--jwks", type=Path, help=_("A JSON file with the app's public keys (asymmetric)."))
    add.add_argument("--jwks-uri", help=_("Where the app publishes its public keys (asymmetric)."))
    listing = actions.add_parser("list", help=_("List the registered apps."))
    listing.add_argument("--json", action="store_true", help=_("One JSON object (RFC 7591 metadata) per line."))
    remove = actions.add_parser("remove", help=_("Remove a registered app."))
    remove.add_argument("client_id", metavar="CLIENT_ID")
    launch = commands.add_parser("launch", help=_("Print the URL that launches an app for a patient."))
    launch.add_argument("--client", dest="client_id", required=True, help=_("The app's client_id."))
    launch.add_argument("--patient", required=True, help=_("The Patient id in context."))
    launch.add_argument("--encounter", help=_("The Encounter id in context."))
    launch.add_argument(
        "--base-url", help=_("The FHIR base URL apps use (FHIR_BASE_URL; default: the one the server recorded).")
    )
    for command in (add, listing, remove, launch):
        add_database_options(command)
    client.set_defaults(handler=run_oauth_command)
    launch.set_defaults(handler=run_oauth_command)


def _metadata(args: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "client_id": args["client_id"],
        "client_name": args["name"],
        "token_endpoint_auth_method": KINDS[args["kind"]],
        "redirect_uris": args["redirect_uris"],
        "scope": " ".join(args["scopes"]),
        "launch_url": args["launch_url"],
        "jwks_uri": args["jwks_uri"],
        "logo_uri": args["logo_uri"],
    }
    if args["jwks"] is not None:
        metadata["jwks"] = json.loads(args["jwks"].read_text(encoding="utf-8"))
    return {k: v for k, v in metadata.items() if v is not None}


async def _client_command(settings: Settings, args: dict[str, Any]) -> int:
    assert settings.mongodb_uri
    if args["command"] == "launch":
        return await _launch_command(settings, args)
    async with Database.open(settings, indexes=False) as database:
        clients = database.clients
        action = args["client_command"]
        if action == "list":
            _list_clients(await clients.all(), as_json=bool(args["json"]))
            return 0
        if action == "remove":
            if await clients.remove(args["client_id"]):
                print(_("Removed client {client_id}.").format(client_id=args["client_id"]))
                return 0
            print(_("No client {client_id} is registered.").format(client_id=args["client_id"]), file=sys.stderr)
            return 1
        registered = registration(_metadata(args))
        await clients.add(registered.client)
        print(_("Registered client {client_id}.").format(client_id=registered.client.client_id))
        if registered.secret:
            print(_("Client secret (shown once, store it now): {secret}").format(secret=registered.secret))
        return 0


def _list_clients(clients: list[Client], *, as_json: bool) -> None:
    """A tab-separated table like `user list` (id, kind, name, scopes, launch URL), or JSON lines."""
    for client in clients:
        metadata = client_metadata(client)
        if as_json:
            print(json.dumps(metadata, sort_keys=True))
            continue
        kind = _KIND_NAMES.get(metadata["token_endpoint_auth_method"], client.kind)
        print("\t".join([client.client_id, kind, client.name or "-", " ".join(client.scopes) or "-",
                         client.launch_url or "-"]))  # fmt: skip


async def _launch_command(settings: Settings, args: dict[str, Any]) -> int:
    """Print the launch URL, once the patient (and encounter, one of the patient's) are found to exist."""
    assert settings.mongodb_uri
    async with Database.open(settings) as database:
        base = await server_base_for_cli(database.server_address, settings)
        url = await create_launch(database.clients, database.launches, base,
                                  args["client_id"], args["patient"], args["encounter"], store=database.resources,
                                  policy=AccessPolicy.system("cli"))  # fmt: skip
    print(url)
    return 0


def run_oauth_command(args: dict[str, Any]) -> int:
    """Run `client ...` or `launch` with the parsed arguments (a dict); the exit code."""
    own = {k: args.get(k) for k in _OWN}
    try:
        return run_on_database(args, _OWN, lambda ready: _client_command(ready, own))
    except (RegistrationError, ClientExists, LaunchRefused, OSError, ValueError) as exc:
        print(_("{command} refused: {reason}").format(command=own["command"], reason=exc), file=sys.stderr)
    except FhirError as exc:
        print(_("{command} failed: {reason}").format(command=own["command"], reason=exc), file=sys.stderr)
    return 1
