"""The demo SMART app (examples/smart-app): served at /apps/demo/ and registered as client `demo-app`.

Only when the `demo_app` setting names its folder (`./run serve` does), so a production
server serves no app pages. The client's redirect and launch URLs are registered for the
configured base URL and for both loopback names, so the demo works however it is opened.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .config import Settings
from .origins import server_origins
from .storage.clients import PUBLIC, Client, MongoClientStore

CLIENT_ID = "demo-app"
PATH = "/apps/demo"
SCOPES = ("launch", "launch/patient", "openid", "fhirUser", "patient/Patient.rs", "patient/Observation.rs")


def mount_demo_app(app: FastAPI, folder: Path) -> None:
    app.mount(PATH, StaticFiles(directory=folder, html=True), name="demo-app")


async def register_demo_app(clients: MongoClientStore, settings: Settings) -> Client:
    """(Re)register the public client `demo-app` for this server's addresses."""
    origins = server_origins(settings)
    client = Client(
        client_id=CLIENT_ID,
        name="Demo SMART app",
        kind=PUBLIC,
        redirect_uris=tuple(f"{origin}{PATH}/index.html" for origin in origins),
        scopes=SCOPES,
        launch_url=f"{origins[0]}{PATH}/launch.html",
        logo_uri=f"{origins[0]}{PATH}/logo.svg",
    )
    await clients.save(client)
    return client
