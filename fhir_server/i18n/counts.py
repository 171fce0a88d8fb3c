"""Counted noun phrases ("1 resource", "2,000 resources") for the sentences of the CLI summaries.

A summary names several counts at once, which no single plural form can serve; each count is
worded here in the form its number takes in the current language (`_n`), and the sentence
around them is one `_()` message with a placeholder per phrase.
"""

from __future__ import annotations

from . import _n


def resources(count: int) -> str:
    return _n("{count:,} resource", "{count:,} resources", count).format(count=count)


def versions(count: int) -> str:
    return _n("{count:,} version", "{count:,} versions", count).format(count=count)


def state_records(count: int) -> str:
    return _n("{count:,} state record", "{count:,} state records", count).format(count=count)


def files(count: int) -> str:
    return _n("{count:,} file", "{count:,} files", count).format(count=count)


def file_parts(count: int) -> str:
    return _n("{count:,} part of a file", "{count:,} parts of files", count).format(count=count)


def resource_types(count: int) -> str:
    return _n("{count:,} type", "{count:,} types", count).format(count=count)


def failures(count: int) -> str:
    return _n("{count:,} failure", "{count:,} failures", count).format(count=count)
