"""String search values (search.html#string): case- and accent-insensitive starts-with by default.

The normalized value `v` is compared with an anchored regex, which the search keys answer
as a range scan; `:exact` compares the stored original `e`.
"""

from __future__ import annotations

from typing import Any

from ..escaping import literal_pattern
from ..normalize import normalize_string


def string_condition(value: str, modifier: str | None, parameter: str) -> dict[str, Any]:
    """The entry condition for `value`: starts-with, `:exact` equality or `:contains` substring."""
    if modifier == "exact":
        return {"e": value}
    return {"v": {"$regex": literal_pattern(normalize_string(value), parameter, anchored=modifier != "contains")}}
