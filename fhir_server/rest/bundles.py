"""Searchset and history Bundles, assembled from stored JSON bytes without re-encoding them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

import orjson

from ..engine import Page, SearchResult
from ..engine.identity import format_instant, now
from ..errors import Issue
from ..storage import StoredResource


def _links(
    self_url: str, params: Sequence[tuple[str, str]], name: str, current: str | None, following: str | None
) -> list[dict[str, str]]:
    """self, first and next; `name` is the paging parameter (`_cursor` or `_offset`)."""

    def url(extra: Sequence[tuple[str, str]]) -> str:
        query = urlencode([*params, *extra])
        return f"{self_url}?{query}" if query else self_url

    this_page = [(name, current)] if current else []
    links = [{"relation": "self", "url": url(this_page)}, {"relation": "first", "url": url(())}]
    if following:
        links.append({"relation": "next", "url": url([(name, following)])})
    return links


def _assemble(head: dict[str, object], entries: list[bytes]) -> bytes:
    encoded = orjson.dumps(head)
    if not entries:
        return encoded
    return encoded[:-1] + b',"entry":[' + b",".join(entries) + b"]}"


def _bundle_head(bundle_type: str, page: Page, links: list[dict[str, str]]) -> dict[str, object]:
    head: dict[str, object] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(now())},
        "type": bundle_type,
    }
    if page.total is not None:
        head["total"] = page.total
    head["link"] = links
    return head


def searchset_bundle(
    base: str,
    self_url: str,
    params: Sequence[tuple[str, str]],
    paging: tuple[str, str | None, str | None],
    page: Page,
    *,
    included: Sequence[StoredResource] = (),
    warnings: Sequence[Issue] = (),
    shape: Callable[[bytes], bytes] | None = None,
    previous: str | None = None,
    last: str | None = None,
) -> bytes:
    """A searchset Bundle (search.html#bundle): matches, then included resources, then any warning.

    `paging` is (parameter, this page's value, next page's value), e.g. ("_cursor", None, "abc");
    `previous` and `last` are further values of that parameter, where they are cheap to know.
    `shape` rewrites each resource body (for `_summary` and `_elements`).
    """
    name, current, following = paging
    links = _links(self_url, params, name, current, following)
    for relation, value in (("previous", previous), ("last", last)):
        if value is not None:
            query = urlencode([*params, (name, value)])
            links.append({"relation": relation, "url": f"{self_url}?{query}"})
    entries = [_search_entry(base, r, "match", shape) for r in page.records]
    entries += [_search_entry(base, r, "include", shape) for r in included]
    if warnings:
        outcome = {"resourceType": "OperationOutcome", "issue": [issue.to_json() for issue in warnings]}
        entries.append(orjson.dumps({"resource": outcome, "search": {"mode": "outcome"}}))
    return _assemble(_bundle_head("searchset", page, links), entries)


def _search_entry(base: str, record: StoredResource, mode: str, shape: Callable[[bytes], bytes] | None) -> bytes:
    body = record.body or b"{}"
    if shape is not None:
        body = shape(body)
    full_url = orjson.dumps(f"{base}/{record.reference}")
    return b'{"fullUrl":' + full_url + b',"resource":' + body + b',"search":{"mode":"' + mode.encode() + b'"}}'


def _history_entry(base: str, record: StoredResource) -> bytes:
    full_url = f"{base}/{record.reference}"
    if record.deleted:
        request = {"method": "DELETE", "url": record.reference}
        status = "204"
    else:
        created = record.method == "POST"
        request = {"method": record.method, "url": record.resource_type if created else record.reference}
        status = "201" if created or record.version_id == 1 else "200"
    response = {
        "status": status,
        "etag": f'W/"{record.version_id}"',
        "lastModified": format_instant(record.last_updated),
    }
    parts = [b'{"fullUrl":', orjson.dumps(full_url)]
    if record.body is not None:
        parts += [b',"resource":', record.body]
    parts += [b',"request":', orjson.dumps(request), b',"response":', orjson.dumps(response), b"}"]
    return b"".join(parts)


def history_bundle(
    base: str, self_url: str, params: Sequence[tuple[str, str]], cursor: str | None, page: Page
) -> bytes:
    """A history Bundle, newest version first (http.html#history)."""
    links = _links(self_url, params, "_cursor", cursor, page.next_cursor)
    return _assemble(_bundle_head("history", page, links), [_history_entry(base, r) for r in page.records])


def cursor_searchset(
    base: str,
    self_url: str,
    params: Sequence[tuple[str, str]],
    cursor: str | None,
    result: SearchResult,
    *,
    shape: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """The searchset Bundle of one page of `result`, paged with `_cursor` (`next` when there is more)."""
    paging = ("_cursor", cursor, result.page.next_cursor)
    return searchset_bundle(
        base, self_url, params, paging, result.page, included=result.included, warnings=result.warnings, shape=shape
    )
