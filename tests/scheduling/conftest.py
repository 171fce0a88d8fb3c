"""The scheduling tests reuse the authorization server and token minting of tests/auth."""

from tests.auth.conftest import auth_base, auth_server, connect, mint

__all__ = ["auth_base", "auth_server", "connect", "mint"]
