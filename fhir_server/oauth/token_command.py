"""`fhir-server token`: an access token for development and scripts, printed alone on stdout.

`curl -H "Authorization: Bearer $(fhir-server token --user alice)" .../fhir/Patient` works against
a server with `--auth smart`. A user's token carries their role's scopes (or the `--scope`s
asked for, cut to the role), with a patient in context for patient users and `--patient`; a
registered backend client's carries `system/` scopes within what it was pre-authorized for.
The token is stored like any other (only its SHA-256), revocable at `/auth/revoke`, and each
issue or refusal is an AuditEvent (subtype `token`), like a token request at `/auth/token`.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidScopeError

from ..audit.events import Actor, instant, sign_in_event
from ..audit.key import load_audit_key
from ..auth.grant import Grant
from ..auth.policy import AccessPolicy, resource_scopes
from ..auth.roles import load_roles
from ..auth.scopes import ScopeError, narrow, split_scopes
from ..cli_database import add_database_options, run_on_database
from ..config import Settings
from ..errors import FhirError
from ..i18n import _
from ..storage.database import Database
from ..storage.grants import ACCESS
from .client_credentials import backend_token_seconds
from .launch_context import check_launch_context
from .requested import requested_scopes

CLI_CLIENT = "fhir-server-cli"
"""The client_id of user tokens made by this command (audit and introspection show it)."""
MAX_SECONDS = 24 * 3600
_OWN = ("command", "user", "client_id", "scopes", "patient", "lifetime")


class TokenRefused(ValueError):
    """No token: the message says why, for the person at the keyboard."""


@dataclass(frozen=True)
class Asked:
    """What the command line asks for."""

    user: str | None
    client_id: str | None
    scopes: list[str]
    patient: str | None
    lifetime: int | None


def add_token_command(commands: Any) -> None:
    """Add `token` to the `fhir-server` sub-commands."""
    text = _("Print an access token for a user or a registered backend client (development and scripts).")
    token = commands.add_parser("token", help=text, description=text)
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help=_("The account the token acts for (its role's scopes unless --scope)."))
    who.add_argument("--client", dest="client_id", help=_("A registered backend client (its system/ scopes)."))
    token.add_argument(
        "--scope", dest="scopes", action="append", default=[], help=_("Scopes to grant, within the role; repeatable.")
    )
    token.add_argument("--patient", help=_("The Patient id in context (patient/ scopes need one)."))
    token.add_argument(
        "--lifetime", type=int,
        help=_("Seconds the token lives (default FHIR_ACCESS_TOKEN_SECONDS, for a client FHIR_BACKEND_TOKEN_SECONDS; "
               "at most 86400)."),
    )  # fmt: skip
    token.add_argument("--roles-file", type=Path, help=_("JSON file of roles and their scopes (FHIR_ROLES_FILE)."))
    add_database_options(token)
    token.set_defaults(handler=run_token_command)


def _lifetime(asked: Asked, default: int) -> timedelta:
    seconds = default if asked.lifetime is None else asked.lifetime
    if not 1 <= seconds <= MAX_SECONDS:
        raise TokenRefused(_("--lifetime must be 1 to {most} seconds.").format(most=MAX_SECONDS))
    return timedelta(seconds=seconds)


def _narrowed(requested: list[str], ceiling: list[str], owner: str) -> tuple[str, ...]:
    try:
        granted = tuple(narrow(requested, ceiling))
    except ScopeError as exc:
        raise TokenRefused(str(exc)) from exc
    if not resource_scopes(granted):
        raise TokenRefused(_("None of the scopes asked for is within what {owner} may have.").format(owner=owner))
    return granted


async def _user_grant(database: Database, settings: Settings, asked: Asked, now: datetime) -> Grant:
    assert asked.user is not None
    user = await database.users.get(asked.user)
    if user is None or not user.active:
        raise TokenRefused(_("There is no active account {username!r}.").format(username=asked.user))
    roles = load_roles(settings.roles_file)
    ceiling = roles.get(user.role, [])
    requested = [s for text in asked.scopes for s in split_scopes(text)] or ceiling
    scopes = _narrowed(requested, ceiling, _("the role {role}").format(role=user.role))
    patient = asked.patient
    if user.fhir_user is not None and user.fhir_user.startswith("Patient/"):  # a patient: their own record
        own = user.fhir_user.partition("/")[2]
        if patient not in (None, own):
            raise TokenRefused(
                _("{username} may only have their own record in context.").format(username=user.username)
            )
        patient = own
    if patient is None and any(s.context == "patient" for s in resource_scopes(scopes)):
        raise TokenRefused(_("patient/ scopes need a patient in context: add --patient ID."))
    lifetime = _lifetime(asked, settings.access_token_seconds)
    grant = Grant(ACCESS, CLI_CLIENT, scopes, now, now + lifetime, uuid.uuid4().hex, subject=user.username,
                  role=user.role, fhir_user=user.fhir_user, patient=patient)  # fmt: skip
    if patient is not None:  # the same checks as an EHR launch, with the user's own reach
        await check_launch_context(database.resources, AccessPolicy.from_grant(grant, roles), patient)
    return grant


async def _client_grant(database: Database, settings: Settings, asked: Asked, now: datetime) -> Grant:
    assert asked.client_id is not None
    client = await database.clients.get(asked.client_id)
    if client is None:
        raise TokenRefused(_("No client {client_id} is registered.").format(client_id=asked.client_id))
    if asked.patient is not None:
        raise TokenRefused(_("A backend client's token has no patient in context; leave out --patient."))
    try:
        requested = requested_scopes(" ".join(asked.scopes or client.scopes), backend=True)
    except InvalidScopeError as exc:
        raise TokenRefused(str(exc.description)) from exc
    scopes = _narrowed(requested, list(client.scopes), _("client {client_id}").format(client_id=client.client_id))
    lifetime = _lifetime(asked, backend_token_seconds(settings.backend_token_seconds))
    return Grant(ACCESS, client.client_id, scopes, now, now + lifetime, uuid.uuid4().hex, subject=client.client_id)


async def _audit(
    database: Database, settings: Settings, actor: Actor, patient: str | None, refusal: str | None
) -> None:
    """One AuditEvent for the token issued (or refused), sealed into the chain by the next running server."""
    audit = database.audit
    server = await database.server_address.fhir_base() or settings.base_url or "cli"
    moment = datetime.now(UTC)
    event = sign_in_event(actor, instant(moment), server.removesuffix("/fhir"), succeeded=refusal is None,
                          what="token", description=refusal or "fhir-server token",
                          patient=f"Patient/{patient}" if patient else None)  # fmt: skip
    await audit.append_many([audit.record(event, moment)])


async def issue_token(settings: Settings, asked: Asked) -> str:
    """A new access token for what `asked` names; raise TokenRefused (after auditing the refusal)."""
    assert settings.mongodb_uri, "inside running_database()"
    now = datetime.now(UTC).replace(microsecond=0)
    async with Database.open(settings, load_audit_key(settings, create=True), indexes=False) as database:
        try:
            made = _user_grant if asked.user is not None else _client_grant
            grant = await made(database, settings, asked, now)
        except (TokenRefused, FhirError) as exc:
            asking = Actor(client_id=asked.client_id or CLI_CLIENT, username=asked.user)
            await _audit(database, settings, asking, asked.patient, str(exc))
            raise
        token = await database.grants.issue(grant)
        user = grant.subject if grant.role is not None else None
        actor = Actor(grant.client_id, user, grant.fhir_user, grant.role)
        await _audit(database, settings, actor, grant.patient, None)
        return token


def run_token_command(args: dict[str, Any]) -> int:
    """Print the token and return 0; 1 with the reason on stderr when refused."""
    asked = Asked(args.get("user"), args.get("client_id"), args.get("scopes") or [], args.get("patient"),
                  args.get("lifetime"))  # fmt: skip
    try:
        token = run_on_database(args, _OWN, lambda ready: issue_token(ready, asked))
    except (TokenRefused, FhirError, ValueError) as exc:
        print(_("token refused: {reason}").format(reason=exc), file=sys.stderr)
        return 1
    print(token)
    return 0


__all__ = ["CLI_CLIENT", "add_token_command", "issue_token", "run_token_command"]
