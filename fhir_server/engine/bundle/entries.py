"""The entries of a batch or transaction Bundle, parsed and checked before anything runs.

https://hl7.org/fhir/R4/http.html#transaction — each entry names a method and a URL
relative to the base (`Patient`, `Patient/123`, `Patient?identifier=x`); absolute URLs on
this server's base are accepted too.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ...errors import InvalidRequest
from ...fhir_json import loads
from ...i18n import _
from ..identity import check_id
from ..patch_resource import PatchFormat
from ..validation import check_resource_type

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
TRANSACTION_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
"""Processing order of a transaction (http.html#trules): deletes, creates, updates, then reads."""


@dataclass
class BundleEntry:
    """One request of the Bundle; `index` is its position, for responses and error messages."""

    index: int
    full_url: str | None
    method: str
    resource_type: str
    resource_id: str | None
    version: str | None
    criteria: list[tuple[str, str]] | None
    query: list[tuple[str, str]]
    resource: dict[str, Any] | None
    if_none_exist: list[tuple[str, str]] | None
    if_match: int | None
    if_none_match: str | None
    if_modified_since: str | None

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    def label(self) -> str:
        """How error messages name the entry: its index and fullUrl."""
        return f"entry {self.index}" + (f" ({self.full_url})" if self.full_url else "")

    def patch_document(self) -> tuple[PatchFormat, Any]:
        """The patch carried by a PATCH entry: a Binary JSON Patch or a Parameters FHIRPath Patch."""
        resource = self.resource or {}
        if resource.get("resourceType") == "Parameters":
            return PatchFormat.FHIRPATH_PATCH, resource
        if resource.get("resourceType") == "Binary" and resource.get("contentType") == "application/json-patch+json":
            try:
                return PatchFormat.JSON_PATCH, loads(base64.b64decode(resource.get("data", "")), unique_keys=True)
            except ValueError as exc:  # bad base64 or InvalidJson
                raise InvalidRequest(_("The JSON Patch in the Binary cannot be read."), expression=self.where) from exc
        raise InvalidRequest(
            _("A PATCH entry needs a Parameters (FHIRPath Patch) or a JSON Patch Binary resource."),
            expression=f"{self.where}.resource",
        )


def _version(raw: str | None, where: str) -> int | None:
    if raw is None:
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidRequest(_('ifMatch must be a version ETag such as W/"3".'), expression=f"{where}.request.ifMatch")
    return int(text)


def _relative(url: str, base: str | None) -> str:
    if base and url.startswith(base + "/"):
        return url[len(base) + 1 :]
    return url.lstrip("/")


def parse_entry(index: int, raw: Any, base: str | None) -> BundleEntry:
    """Check one `Bundle.entry` and turn it into a BundleEntry. Raises InvalidRequest naming it."""
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise InvalidRequest(_("Each entry needs a request (method and url)."), expression=f"{where}.request")
    request = raw["request"]
    method, url = request.get("method"), request.get("url")
    if method not in METHODS or not isinstance(url, str) or not url:
        raise InvalidRequest(_("Each entry needs a request method and url."), expression=f"{where}.request")
    path, _sep, query_text = _relative(url, base).partition("?")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise InvalidRequest(
            _("'{url}' names no resource type.").format(url=url[:200]), expression=f"{where}.request.url"
        )
    resource_type = check_resource_type(parts[0])
    resource_id = check_id(parts[1], f"{where}.request.url") if len(parts) > 1 else None
    version = parts[3] if len(parts) == 4 and parts[2] == "_history" and method in ("GET", "HEAD") else None
    if len(parts) > 2 and version is None:
        raise InvalidRequest(
            _("'{url}' is not supported in a Bundle entry.").format(url=url[:200]), expression=f"{where}.request.url"
        )
    query = parse_qsl(query_text, keep_blank_values=True)
    resource = raw.get("resource")
    if method in ("POST", "PUT", "PATCH") and not isinstance(resource, dict):
        raise InvalidRequest(
            _("A {method} entry needs a resource.").format(method=method), expression=f"{where}.resource"
        )
    if_none_exist = request.get("ifNoneExist")
    return BundleEntry(
        index=index,
        full_url=raw.get("fullUrl"),
        method=method,
        resource_type=resource_type,
        resource_id=resource_id,
        version=version,
        criteria=query if method in ("PUT", "PATCH", "DELETE") and resource_id is None and query else None,
        query=query,
        resource=resource if isinstance(resource, dict) else None,
        if_none_exist=parse_qsl(if_none_exist.split("?", 1)[-1]) if isinstance(if_none_exist, str) else None,
        if_match=_version(request.get("ifMatch"), where),
        if_none_match=request.get("ifNoneMatch"),
        if_modified_since=request.get("ifModifiedSince"),
    )


def bundle_entries(bundle: Any) -> tuple[str, list[Any]]:
    """The Bundle's type (batch or transaction) and its raw entries. Raises InvalidRequest."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidRequest(_("POST to the base URL takes a Bundle of type batch or transaction."))
    bundle_type = bundle.get("type")
    if bundle_type not in ("batch", "transaction"):
        raise InvalidRequest(
            _("Bundle.type must be 'batch' or 'transaction', not '{type}'.").format(type=str(bundle_type)[:40]),
            expression="Bundle.type",
        )
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise InvalidRequest(_("Bundle.entry must be a list."), expression="Bundle.entry")
    return str(bundle_type), raw_entries
