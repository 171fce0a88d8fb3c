"""The total of a search: counted by the database unless the first page already holds every match.

Counts the `count`/`aggregate` and `find` commands the driver sends, with a command listener on a real client.
"""

from __future__ import annotations

import asyncio

from fhir_server.engine import create_resource, search_type
from fhir_server.search.registry import default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import TEST_POLICY
from tests.sent_commands import SentCommands, listened_store


def test_a_first_page_holding_every_match_is_its_own_total(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        commands = SentCommands("resources")
        async with listened_store(database.uri, "totals", commands) as store:
            for n in range(5):
                patient = {"resourceType": "Patient", "gender": "female" if n < 3 else "male"}
                await create_resource(store, TEST_POLICY, "Patient", patient)

            async def total(*query: tuple[str, str]) -> tuple[int | None, int, list[str]]:
                commands.sent.clear()
                request = parse_search_request(
                    "Patient", list(query), default_registry(), default_count=20, max_count=100, strict=True
                )
                result = await search_type(store, TEST_POLICY, request)
                return (
                    result.page.total,
                    len(result.page.records),
                    [name for name, _command in commands.sent if name != "find"],
                )

            assert await total(("gender", "female")) == (3, 3, [])  # one page holds all three: no count
            assert await total(("gender", "male"), ("_count", "1")) == (2, 1, ["aggregate"])
            assert await total(("gender", "female"), ("_count", "1"), ("_offset", "2")) == (3, 1, ["aggregate"])
            assert await total(("gender", "female"), ("_total", "none")) == (None, 3, [])
            assert await total(("gender", "female"), ("_summary", "count")) == (3, 0, ["aggregate"])

    asyncio.run(scenario())
