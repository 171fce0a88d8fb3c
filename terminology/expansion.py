"""Expand ValueSets stored on this server into (system, code) pairs for the `:in` / `:not-in` token modifiers.

Only rules whose result is exactly known from stored resources are expanded (R4 valueset.html#compose):
`include`/`exclude` with `system` + `concept`, with `system` alone (every code of a stored, complete CodeSystem)
and with `valueSet`, plus a pre-computed `expansion.contains` when there is no `compose`. Anything else
(`filter`, code systems whose content is not stored) is refused: a partial expansion would make `:not-in`
silently match codes it should not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fhir_server.errors import InvalidRequest
from fhir_server.i18n import _

Code = tuple[str | None, str]
"""(system, code); system None means the code is matched in any system."""

Fetch = Callable[[str, str], Awaitable[dict[str, Any] | None]]
"""`fetch(resource_type, canonical_url)`: the current stored resource with that `url` (`url|version`), or None."""


async def expand_value_set(url: str, fetch: Fetch, *, max_codes: int = 10_000) -> list[Code]:
    """The codes of the stored ValueSet `url`, in rule order; InvalidRequest when they cannot be known."""
    return list(await _Expander(fetch, max_codes).value_set(url))


class _Expander:
    """One expansion: caches value sets seen (a set may be included twice) and tracks the include chain."""

    def __init__(self, fetch: Fetch, max_codes: int) -> None:
        self.fetch = fetch
        self.max_codes = max_codes
        self.done: dict[str, dict[Code, None]] = {}
        self.chain: list[str] = []

    async def value_set(self, url: str) -> dict[Code, None]:
        """The value set's codes as an ordered set; a value set that includes itself is refused."""
        if url in self.done:
            return self.done[url]
        if url in self.chain:
            raise InvalidRequest(
                _("Value set '{url}' includes itself (through {chain}).").format(
                    url=url, chain=" -> ".join([*self.chain, url])
                )
            )
        resource = await self.fetch("ValueSet", url)
        if resource is None:
            raise InvalidRequest(_("Value set '{url}' not found.").format(url=url))
        self.chain.append(url)
        try:
            codes = await self._content(url, resource)
        finally:
            self.chain.pop()
        self.done[url] = codes
        return codes

    async def _content(self, url: str, resource: dict[str, Any]) -> dict[Code, None]:
        """`compose` when present (it is the definition); a stored `expansion` only stands in for it."""
        compose = resource.get("compose")
        if compose is None:
            if "expansion" not in resource:
                raise InvalidRequest(_("Value set '{url}' has neither a compose nor an expansion.").format(url=url))
            return self._limit(url, dict.fromkeys(_contains(resource["expansion"].get("contains", []))))
        codes: dict[Code, None] = {}
        for rule in compose.get("include", []):
            codes.update(await self._rule(url, rule))
            self._limit(url, codes)
        for rule in compose.get("exclude", []):
            for code in await self._rule(url, rule):
                codes.pop(code, None)
        return codes

    async def _rule(self, url: str, rule: dict[str, Any]) -> dict[Code, None]:
        """One include/exclude: the system part intersected with every referenced value set."""
        if rule.get("filter"):
            raise InvalidRequest(
                _("Value set '{url}' uses a 'filter' rule, which is not supported in searches.").format(url=url)
            )
        parts: list[dict[Code, None]] = []
        system = rule.get("system")
        if system is not None:
            concepts = rule.get("concept")
            if concepts is not None:
                parts.append({(system, concept["code"]): None for concept in concepts})
            else:
                parts.append(await self._code_system(url, system, rule.get("version")))
        parts.extend([await self.value_set(included) for included in rule.get("valueSet", [])])
        if not parts:
            raise InvalidRequest(
                _("Value set '{url}' has an include or exclude rule with neither a system nor a value set.").format(
                    url=url
                )
            )
        first, *others = parts
        return {code: None for code in first if all(code in other for other in others)}

    async def _code_system(self, url: str, system: str, version: str | None) -> dict[Code, None]:
        """Every code of a stored CodeSystem; its codes must all be there (`content` = complete)."""
        canonical = system if version is None else f"{system}|{version}"
        resource = await self.fetch("CodeSystem", canonical)
        if resource is None or resource.get("content") != "complete":
            raise InvalidRequest(
                _("Value set '{url}' includes all of code system '{system}', whose content is unknown here.").format(
                    url=url, system=canonical
                )
            )
        return self._limit(url, dict.fromkeys((system, code) for code in _concepts(resource.get("concept", []))))

    def _limit(self, url: str, codes: dict[Code, None]) -> dict[Code, None]:
        """Refuse early: a huge `$in` list would make the search itself too costly."""
        if len(codes) > self.max_codes:
            raise InvalidRequest(
                _("Value set '{url}' has more than {limit} codes, too many to search with.").format(
                    url=url, limit=self.max_codes
                )
            )
        return codes


def _concepts(concepts: Iterable[dict[str, Any]]) -> Iterable[str]:
    """Codes of a CodeSystem concept tree, parents before children."""
    for concept in concepts:
        yield concept["code"]
        yield from _concepts(concept.get("concept", []))


def _contains(contains: Iterable[dict[str, Any]]) -> Iterable[Code]:
    """Codes of a nested `expansion.contains`; entries without a code only group their children."""
    for entry in contains:
        if "code" in entry:
            yield entry.get("system"), entry["code"]
        yield from _contains(entry.get("contains", []))
