"""Allowed codes of the value sets used in `required` bindings of the R4 core resources.

The expansions are vendored (built by `profiles.build_model`) so the server needs no terminology
service to reject codes outside a required binding.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

BINDINGS_FILE = Path(__file__).with_name("required-bindings.json.gz")


@cache
def _expansions() -> dict[str, frozenset[str]]:
    with gzip.open(BINDINGS_FILE, "rt", encoding="utf-8") as fh:
        raw: dict[str, list[str]] = json.load(fh)
    return {url: frozenset(codes) for url, codes in raw.items()}


def allowed_codes(valueset_url: str) -> frozenset[str] | None:
    """Codes of `valueset_url` (a `|version` suffix is ignored); None when it cannot be checked locally."""
    return _expansions().get(valueset_url.split("|", 1)[0])
