"""How much one search may ask of the database: each bound stops a request that could keep it busy for minutes.

Measured before these bounds: 5,000 OR'ed names kept the embedded database busy for 616 s,
50 nested `_has` for 232 s, 500 `_include`s for 62 s. A request over a bound is refused with
400 `too-costly` before anything runs, except `:iterate` rounds, which stop with a warning in
the Bundle. `time_ms` bounds the database time of the whole request (every query it sends:
chains, `_has`, includes and `_total` alike); a search that runs out of it is refused too.
The defaults are the settings' (config.py, README "Search limits").
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TooCostly


@dataclass(frozen=True)
class SearchLimits:
    values: int = 100
    """Values of one parameter (a comma-separated OR list)."""
    parameters: int = 50
    """Parameters in one request, result parameters (`_count`, `_include` ...) included."""
    has_depth: int = 2
    """Nested `_has` steps in one parameter."""
    chain_depth: int = 3
    """Chained references in one parameter (`subject:Patient.organization.name` is 2)."""
    includes: int = 10
    """`_include` and `_revinclude` parameters together."""
    iterate_rounds: int = 3
    """Rounds of `:iterate` after the first round of includes; then the Bundle says it stopped."""
    time_ms: int = 20_000
    """Database time for the whole request, in milliseconds; 0 means no limit."""


DEFAULT_LIMITS = SearchLimits()


def check_at_most(count: int, limit: int, message: str, expression: str | None = None) -> None:
    """Refuse with 400 too-costly when `count` exceeds `limit`; `message` (translated) names both."""
    if count > limit:
        raise TooCostly(message.format(count=count, limit=limit, name=expression), expression=expression)
