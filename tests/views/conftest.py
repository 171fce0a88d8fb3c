"""The views' tests get a world of their own: they count rows, which other tests' writes to the shared
world's patients would change."""

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.auth_server import World, make_world


@pytest.fixture(scope="session")
def world(connect: Callable[..., httpx.Client]) -> Iterator[World]:
    yield from make_world(connect)
