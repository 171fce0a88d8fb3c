"""The server with authorization on (tests/auth/conftest.py) for the billing role tests."""

from tests.auth.conftest import auth_base, auth_server, connect, mint

__all__ = ["auth_base", "auth_server", "connect", "mint"]
