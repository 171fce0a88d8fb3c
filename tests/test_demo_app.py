"""The demo SMART app is served by the server and registered as the public client `demo-app`."""

from __future__ import annotations

import asyncio

import httpx
from pymongo import AsyncMongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.clients import PUBLIC, MongoClientStore

from .conftest import ServerProcess


def test_demo_app_pages_and_library_are_served(server: ServerProcess) -> None:
    launch = httpx.get(f"{server.base}/apps/demo/launch.html")
    assert launch.status_code == 200 and "fhir-client.pure.min.js" in launch.text
    library = httpx.get(f"{server.base}/apps/demo/vendor/fhir-client.pure.min.js")
    assert library.status_code == 200 and "javascript" in library.headers["content-type"]
    assert httpx.get(f"{server.base}/apps/demo/missing.js").status_code == 404


def test_demo_app_is_registered_for_this_server(server: ServerProcess, database: EmbeddedDatabase) -> None:
    async def registered() -> None:
        async with AsyncMongoClient[dict](database.uri) as mongo:
            client = await MongoClientStore(mongo, "fhir_tests").get("demo-app")
            assert client is not None and client.kind == PUBLIC
            assert f"{server.base}/apps/demo/index.html" in client.redirect_uris
            assert client.launch_url == f"{server.base}/apps/demo/launch.html"

    asyncio.run(registered())
