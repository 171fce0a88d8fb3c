"""A server with authorization on, staff accounts and tokens, and a chromium signed in to a staff page.

Every workflow's page tests use these, so they sign in exactly as staff do: the page sends the
browser to the server's sign-in, the user types a password, and the page works with the token.

    from tests.staff_pages import StaffServer, open_staff_page   # and the `chromium` fixture
    server = StaffServer.start(database, tmp_path)                # or the `staff_server` fixture
    user = server.user("front-desk")
    page = open_staff_page(chromium, server, "/staff/patients", user, language="de")
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page
from pymongo import AsyncMongoClient

from fhir_server.auth.passwords import hash_password
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.users import MongoUserStore, User
from tests.conftest import FHIR_JSON, ServerProcess

PASSWORD = "staff pages password"
LANGUAGES = {"en": "en-US", "es": "es-ES", "de": "de-DE"}


@dataclass
class StaffServer:
    """A server process with `auth=smart` on its own database, and what tests need to work with it."""

    process: ServerProcess
    uri: str
    database: str

    @classmethod
    def start(cls, database: EmbeddedDatabase, folder: Path, env: dict[str, str] | None = None) -> StaffServer:
        name = f"staff_{uuid.uuid4().hex[:8]}"
        args = ["--mongodb-uri", database.uri, "--database", name]
        return cls(ServerProcess(args, folder / "server.log", env, auth="smart"), database.uri, name)

    @property
    def base(self) -> str:
        return self.process.base

    def stop(self) -> None:
        self.process.stop()

    def user(self, role: str, fhir_user: str | None = None) -> str:
        """A new active account with `role` and PASSWORD; returns its username."""
        username = f"{role}-{uuid.uuid4().hex[:6]}"
        account = User(username, role, hash_password(PASSWORD), fhir_user, True)

        async def add() -> None:
            async with AsyncMongoClient[dict[str, Any]](self.uri) as mongo:
                await MongoUserStore(mongo, self.database).add(account)

        # A thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as worker:
            worker.submit(asyncio.run, add()).result()
        return username

    def token(self, username: str) -> str:
        """An access token for `username` with their role's scopes (`fhir-server token`)."""
        command = [sys.executable, "-m", "fhir_server", "token", "--user", username]
        command += ["--mongodb-uri", self.uri, "--database", self.database]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()

    def fhir(self, username: str) -> httpx.Client:
        """An HTTP client for the FHIR API acting as `username` (close it, or use it in `with`)."""
        headers = {**FHIR_JSON, "Authorization": f"Bearer {self.token(username)}"}
        return httpx.Client(base_url=f"{self.base}/fhir", headers=headers, timeout=30)


def open_staff_page(
    chromium: Browser, server: StaffServer, path: str, username: str, *, language: str = "en", ready: bool = True
) -> Page:
    """A new browser context in `language`, signed in as `username` through the server's sign-in page, on `path`.

    With `ready` it waits until the page's script has run (`body[data-ready]`); without, until
    the shell has decided (ready, refused for the role, or an error shown).
    """
    context = chromium.new_context(locale=LANGUAGES.get(language, language), viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server.base + path)
    page.wait_for_url("**/auth/login**")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    decided = "body[data-ready], #staff-refused:not([hidden]), #staff-alert:not([hidden])"
    page.wait_for_selector("body[data-ready]" if ready else decided)
    return page
