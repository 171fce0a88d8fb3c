"""The bound on a version's size: what cannot be stored, or costs too much to, is refused up front.

A version is stored as one MongoDB document (16 MiB at most) together with its search index
entries, which can be several times the size of the resource: a Patient with 20,000 names is
1.2 MB of JSON and 180,000 entries, a 14.4 MB document. Without a bound, a bigger one failed
only in the database, as a 500 whose error quoted the whole document. The time such a write
takes grows with its entries: measured on a 20,000-name Patient (unloaded, 2 cores), about
60 % waiting for the database to index the entries (current and history documents), 30 %
extracting them, a few % validating. So both the estimated document size and the number of
entries are bounded, checked before the database sees the write.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import PayloadTooLarge
from ..i18n import _

MAX_STORED_BYTES = 15 * 1024 * 1024
"""The estimated size of a version's stored document may not pass this (MongoDB's limit is 16 MiB)."""
MAX_INDEX_ENTRIES = 100_000
"""Search index entries of one version, about a second of work (a Patient holds about 11,000 names
before this limit; a Group about 50,000 members before the byte limit)."""
_BSON_OVERHEAD = 16
"""Bytes BSON may take beyond JSON per index entry or key (array index names, lengths, type bytes)."""


def check_stored_size(resource_type: str, body: bytes, fields: dict[str, Any] | None) -> None:
    """Raise PayloadTooLarge (413) when `body` with its search `fields` (None: not extracted yet)
    would not fit in a stored document or has too many index entries; the size estimate errs
    on the large side."""
    size = len(body)
    if size > MAX_STORED_BYTES:
        raise _too_large(resource_type, size, 0)
    if fields is None:
        return
    entries = len(fields["idx"])
    if entries > MAX_INDEX_ENTRIES:
        raise PayloadTooLarge(
            _(
                "The {type} has {entries} search index entries, over the limit of {limit}; split it into smaller "
                "resources."
            ).format(type=resource_type, entries=entries, limit=MAX_INDEX_ENTRIES),
            expression=resource_type,
        )
    size += len(orjson.dumps(fields, default=str)) + _BSON_OVERHEAD * (entries + len(fields["keys"]))
    if size > MAX_STORED_BYTES:
        raise _too_large(resource_type, size, entries)


def _too_large(resource_type: str, size: int, entries: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        _(
            "The {type} would be stored as about {size} bytes with its {entries} search index entries, over the "
            "limit of {limit} bytes; split it into smaller resources."
        ).format(type=resource_type, size=size, entries=entries, limit=MAX_STORED_BYTES),
        expression=resource_type,
    )
