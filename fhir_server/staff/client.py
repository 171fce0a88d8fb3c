"""The staff pages' OAuth client: public (PKCE), first-party, registered by every server at startup.

The pages sign in like any SMART app (authorization code with PKCE, `aud` = the FHIR base),
so the FHIR API sees an ordinary user token bounded by the user's role; being first-party they
skip the consent step.
"""

from __future__ import annotations

from ..config import Settings
from ..origins import server_origins
from ..storage.clients import PUBLIC, Client, MongoClientStore

CLIENT_ID = "staff-pages"
CALLBACK = "/staff/signed-in"
SCOPES = ("openid", "fhirUser", "user/*.cruds")
"""What the pages ask for; the sign-in narrows it to the user's role (auth/roles.py)."""


async def register_staff_client(clients: MongoClientStore, settings: Settings) -> Client:
    """(Re)register `staff-pages` for this server's origins."""
    client = Client(
        client_id=CLIENT_ID,
        name="Practice pages",
        kind=PUBLIC,
        redirect_uris=tuple(f"{origin}{CALLBACK}" for origin in server_origins(settings)),
        scopes=SCOPES,
        first_party=True,
    )
    await clients.save(client)
    return client
