"""grant_type=client_credentials: SMART Backend Services.

https://hl7.org/fhir/smart-app-launch/backend-services.html: only confidential asymmetric
clients (private_key_jwt), only `system/` scopes, never more than the client was
pre-authorized for (`Client.scopes`), no refresh token (the client signs a new
assertion instead), and a lifetime of at most five minutes (`FHIR_BACKEND_TOKEN_SECONDS`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from authlib.oauth2.rfc6749.errors import InvalidScopeError, UnauthorizedClientError
from starlette.responses import Response

from ..auth.grant import Grant
from ..auth.scopes import narrow
from ..storage.clients import ASYMMETRIC
from .issuing import TokenCall, token_response
from .requested import requested_scopes

MAX_BACKEND_SECONDS = 300
"""SMART Backend Services: an access token lives no longer than five minutes."""


def backend_token_seconds(configured: int) -> int:
    """The lifetime of a backend service's access token: the setting, within 1 to 300 seconds."""
    return max(1, min(configured, MAX_BACKEND_SECONDS))


async def grant_client_credentials(call: TokenCall) -> Response:
    client = call.client
    if client.kind != ASYMMETRIC:
        raise UnauthorizedClientError("client_credentials needs a client that authenticates with private_key_jwt.")
    granted = narrow(requested_scopes(call.form.get("scope"), backend=True), client.scopes)
    if not granted:
        raise InvalidScopeError("None of the requested scopes is pre-authorized for this client.")
    now = datetime.now(UTC)
    template = Grant("access", client.client_id, tuple(granted), now, now, uuid.uuid4().hex, subject=client.client_id)
    return await token_response(call, template, seconds=backend_token_seconds(call.settings.backend_token_seconds))
