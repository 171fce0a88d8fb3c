"""String normalization shared by index extraction and queries, so both sides compare alike.

FHIR string search is case- and accent-insensitive (search.html#string): both the stored
value and the search value are casefolded, stripped of combining marks and have their
whitespace collapsed before a prefix comparison.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=65536)
def normalize_string(text: str) -> str:
    """Casefold, drop accents (NFKD combining marks) and collapse runs of whitespace to one space."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())
