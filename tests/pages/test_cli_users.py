"""`fhir-server user add / list / passwd / disable / enable / remove` against the real database.

The first command runs as a real process; the rest call the same `main` in this process,
which is much faster (the import of the server dominates a process start).
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from fhir_server.auth.passwords import verify_password
from fhir_server.cli import main
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.users import MongoUserStore, User
from tests.test_cli_accounts import put


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture()
def user_command(
    database: EmbeddedDatabase, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Ran]:
    """Run `fhir-server user ARGS` on database `name`, with `password` as its standard input."""

    def run(name: str, *args: str, password: str = "") -> Ran:
        monkeypatch.setattr(sys, "stdin", io.StringIO(password))
        capsys.readouterr()
        code = main(["user", *args, "--mongodb-uri", database.uri, "--database", name])
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def stored_user(database: EmbeddedDatabase, name: str, username: str) -> User | None:
    async def read() -> User | None:
        async with AsyncMongoClient[dict[str, Any]](database.uri) as mongo:
            return await MongoUserStore(mongo, name).get(username)

    return asyncio.run(read())


def test_user_commands_bootstrap_and_manage_accounts(database: EmbeddedDatabase, user_command: Any) -> None:
    name = f"cli_users_{uuid.uuid4().hex[:8]}"
    put(database.uri, name, {"resourceType": "Practitioner", "id": "1"})  # a user stands for a stored resource
    add = ["add", "dr-who", "--role", "physician", "--fhir-user", "Practitioner/1", "--password-stdin"]
    process = [sys.executable, "-m", "fhir_server", "user", *add, "--mongodb-uri", database.uri, "--database", name]
    added = subprocess.run(process, input="first password\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert "Added dr-who (physician)." in added.stdout
    user = stored_user(database, name, "dr-who")
    assert user is not None and user.role == "physician" and user.fhir_user == "Practitioner/1" and user.active
    assert verify_password("first password", user.password_hash)

    again = user_command(name, *add, password="first password\n")
    assert again.returncode == 1 and "already an account 'dr-who'" in again.stderr

    changed = user_command(name, "passwd", "dr-who", "--password-stdin", password="second password\n")
    assert changed.returncode == 0, changed.stderr
    user = stored_user(database, name, "dr-who")
    assert user is not None and verify_password("second password", user.password_hash)

    assert user_command(name, "disable", "dr-who").returncode == 0
    listed = user_command(name, "list")
    assert listed.stdout.splitlines() == ["dr-who\tphysician\tPractitioner/1\tdisabled"]
    assert user_command(name, "remove", "dr-who").returncode == 0
    missing = user_command(name, "enable", "dr-who")
    assert missing.returncode == 1 and "no account 'dr-who'" in missing.stderr


def test_user_add_refuses_bad_input_with_a_clear_message(user_command: Any) -> None:
    name = f"cli_users_{uuid.uuid4().hex[:8]}"
    cases = [
        (["add", "x", "--role", "wizard", "--password-stdin"], "Unknown role 'wizard'; the roles are: admin,"),
        (["add", "x", "--role", "nurse", "--fhir-user", "Device/1", "--password-stdin"], "reference like"),
        (["add", "x y", "--role", "nurse", "--password-stdin"], "A username is 1 to 64"),
        (["add", "x", "--role", "nurse", "--password-stdin"], "at least 8 characters"),
        (["add", "x", "--role", "nurse"], "use --password-stdin"),
        (["passwd", "nobody", "--password-stdin"], "no account 'nobody'"),
    ]
    for args, message in cases:
        result = user_command(name, *args, password="short\n")
        assert result.returncode == 1, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
    assert user_command(name, "list").stdout == ""


def test_roles_come_from_the_roles_file(user_command: Any, tmp_path: Path) -> None:
    name = f"cli_users_{uuid.uuid4().hex[:8]}"
    roles = tmp_path / "roles.json"
    roles.write_text('{"locum": ["user/*.rs", "openid"]}')
    added = user_command(name, "add", "temp", "--role", "locum", "--roles-file", str(roles), "--password-stdin",
                         password="long enough\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    roles.write_text('{"locum": "everything"}')
    broken = user_command(name, "add", "temp2", "--role", "locum", "--roles-file", str(roles), "--password-stdin")
    assert broken.returncode == 1 and "role 'locum' must be a list of scope strings" in broken.stderr
