"""The views' HTTP tests use the authorization server and tokens of tests/auth (real tokens, real server)."""

from tests.auth.conftest import auth_base, auth_server, connect, mint, world  # noqa: F401
