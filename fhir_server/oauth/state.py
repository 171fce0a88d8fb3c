"""What the authorization server's routes share: its stores and signing key, opened at startup."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from joserfc.jwk import RSAKey

from ..rest.context import base_url
from ..storage.authorizations import MongoAuthorizationStore
from ..storage.clients import MongoClientStore
from ..storage.database import Database
from ..storage.grants import MongoGrantStore
from ..storage.jtis import MongoJtiStore
from ..storage.keys import MongoKeyStore
from ..storage.launches import MongoLaunchStore
from .remote_jwks import RemoteJwks
from .signing import signing_key
from .urls import ServerUrls


@dataclass(frozen=True)
class OAuthState:
    """The stores behind the `/auth` routes (also what the login and consent pages work with)."""

    clients: MongoClientStore
    authorizations: MongoAuthorizationStore
    grants: MongoGrantStore
    launches: MongoLaunchStore
    jtis: MongoJtiStore
    keys: MongoKeyStore
    signing_key: RSAKey
    remote_jwks: RemoteJwks


async def open_oauth(database: Database) -> OAuthState:
    """The stores of `database` (opened, indexes ensured) and the signing key (made if missing)."""
    return OAuthState(
        database.clients,
        database.authorizations,
        database.grants,
        database.launches,
        database.jtis,
        database.keys,
        await signing_key(database.keys),
        RemoteJwks(),
    )


def oauth_of(request: Request) -> OAuthState:
    state: OAuthState = request.app.state.oauth
    return state


def urls_of(request: Request) -> ServerUrls:
    return ServerUrls(base_url(request))
