"""String search values (search.html#string): case- and accent-insensitive starts-with by default.

The normalized value `v` is compared with an anchored regex, which the search keys answer
as a range scan; `:exact` compares the stored original `e`.
"""

from __future__ import annotations

import re
from typing import Any

from ..normalize import normalize_string


def string_condition(value: str, modifier: str | None) -> dict[str, Any]:
    """The entry condition for `value`: starts-with, `:exact` equality or `:contains` substring."""
    if modifier == "exact":
        return {"e": value}
    pattern = re.escape(normalize_string(value))
    return {"v": {"$regex": pattern if modifier == "contains" else "^" + pattern}}
