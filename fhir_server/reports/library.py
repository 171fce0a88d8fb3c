"""Reports administrators add: a Library of SQL on FHIR's SQLQuery profile, posted like any resource.

https://sql-on-fhir.org/ig/StructureDefinition-SQLQuery.html: `type` LibraryTypesCodes#sql-query,
the query in `content` (`application/sql`, base64 `data`; an `application/sql;dialect=duckdb`
variant is preferred when present), its parameters in `Library.parameter` (`use` in; date, string
or integer; `min` 1 for a required one) written `:name` in the SQL, and one `relatedArtifact` of
type `depends-on` per view, whose `label` is the table name in the SQL. The view is either in the
artifact's `document` (an `application/json` attachment, base64 `data`) or a stored view (a Library
carrying one, views/carrier.py) named in its `resource`: `Library/{id}`, `ViewDefinition/{id}` (the
same id) or the view's canonical `url`; a stored view is read each time the report runs, so
changing it changes the report.

What the IG leaves open, in plain R4 elements:
- who may run it: `useContext` with code `user` (usage-context-type) and the role codes in
  `valueCodeableConcept.coding.code` (absent: admin only);
- its title in other languages: the `translation` extension on `title`;
- its chart: the extension CHART_URL with `kind` (bar | line), `x` and one or more `y` columns.

A write rule (rules.py) refuses a report Library that would not run, on every write path.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidRequest
from ..i18n import _
from .model import NAME, TABLE, Chart, Report, ReportParameter, parse_chart, parse_parameters

PROFILE = "https://sql-on-fhir.org/ig/StructureDefinition/SQLQuery"
TYPE_SYSTEM = "https://sql-on-fhir.org/ig/CodeSystem/LibraryTypesCodes"
TYPE_CODE = "sql-query"
USAGE_SYSTEM = "http://terminology.hl7.org/CodeSystem/usage-context-type"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
CHART_URL = "urn:fhir-server:extension:report-chart"
DIALECT = "application/sql;dialect=duckdb"


def is_report(resource: dict[str, Any]) -> bool:
    """Whether a Library is an SQLQuery (a report of this server)."""
    codings = (resource.get("type") or {}).get("coding") or []
    return any(isinstance(c, dict) and c.get("code") == TYPE_CODE and c.get("system") == TYPE_SYSTEM for c in codings)


def _decoded(attachment: Any, where: str) -> str:
    data = attachment.get("data") if isinstance(attachment, dict) else None
    if not isinstance(data, str):
        raise InvalidRequest(_("The attachment needs its content in 'data' (base64)."), expression=where)
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        text = _("The attachment's data is not base64 of UTF-8 text.")
        raise InvalidRequest(text, expression=f"{where}.data") from exc


def _sql(library: dict[str, Any]) -> str:
    contents = [c for c in library.get("content") or [] if isinstance(c, dict)]
    for wanted in (DIALECT, "application/sql"):
        for position, content in enumerate(contents):
            if str(content.get("contentType", "")).replace(" ", "").lower() == wanted:
                return _decoded(content, f"Library.content[{position}]")
    raise InvalidRequest(_("A report Library needs its query in a content attachment of type application/sql."),
                         expression="Library.content")  # fmt: skip


def _dependencies(library: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(label, artifact, its FHIRPath) of each depends-on artifact, labels checked."""
    found: list[tuple[str, dict[str, Any], str]] = []
    for position, artifact in enumerate(library.get("relatedArtifact") or []):
        where = f"Library.relatedArtifact[{position}]"
        if not isinstance(artifact, dict) or artifact.get("type") != "depends-on":
            continue
        label = artifact.get("label")
        if not isinstance(label, str) or not TABLE.match(label):
            raise InvalidRequest(_("Each view the query depends on needs a label usable as a table name."),
                                 expression=f"{where}.label")  # fmt: skip
        if any(label == seen for seen, _artifact, _where in found):
            raise InvalidRequest(_("The table name '{name}' is used twice.").format(name=label),
                                 expression=f"{where}.label")  # fmt: skip
        if "document" not in artifact and not isinstance(artifact.get("resource"), str):
            raise InvalidRequest(_("Give the ViewDefinition in the artifact's document (application/json, base64 "
                                   "data) or name a stored view in its resource."), expression=where)  # fmt: skip
        found.append((label, artifact, where))
    if not found:
        raise InvalidRequest(_("A report Library lists its views as relatedArtifact of type depends-on."),
                             expression="Library.relatedArtifact")  # fmt: skip
    return found


def view_references(library: dict[str, Any]) -> dict[str, str]:
    """The stored views a report Library names (`relatedArtifact.resource`), by FHIRPath of the artifact."""
    return {
        f"{where}.resource": artifact["resource"]
        for _label, artifact, where in _dependencies(library)
        if "document" not in artifact
    }


def _views(library: dict[str, Any], stored: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    views: dict[str, dict[str, Any]] = {}
    for label, artifact, where in _dependencies(library):
        if "document" not in artifact:
            view = stored.get(artifact["resource"])
            if view is None:
                raise InvalidRequest(_("There is no stored view {reference}.").format(
                    reference=str(artifact["resource"])[:200]), expression=f"{where}.resource")  # fmt: skip
            views[label] = view
            continue
        try:
            view = json.loads(_decoded(artifact["document"], f"{where}.document"))
        except ValueError as exc:
            raise InvalidRequest(_("The view is not valid JSON."), expression=f"{where}.document.data") from exc
        if not isinstance(view, dict) or view.get("resourceType") != "ViewDefinition":
            raise InvalidRequest(_("The view '{name}' is not a ViewDefinition.").format(name=label),
                                 expression=f"{where}.document")  # fmt: skip
        views[label] = view
    return views


def _titles(library: dict[str, Any]) -> dict[str, str]:
    title = library.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidRequest(_("A report Library needs a title."), expression="Library.title")
    titles = {"en": title}
    for extension in (library.get("_title") or {}).get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == TRANSLATION:
            parts = {p.get("url"): p for p in extension.get("extension") or [] if isinstance(p, dict)}
            language = (parts.get("lang") or {}).get("valueCode")
            content = (parts.get("content") or {}).get("valueString")
            if isinstance(language, str) and isinstance(content, str):
                titles[language] = content
    return titles


def _roles(library: dict[str, Any]) -> tuple[str, ...]:
    roles: list[str] = []
    for context in library.get("useContext") or []:
        code = (context.get("code") or {}) if isinstance(context, dict) else {}
        if code.get("system") == USAGE_SYSTEM and code.get("code") == "user":
            roles += [c["code"] for c in (context.get("valueCodeableConcept") or {}).get("coding") or []
                      if isinstance(c, dict) and isinstance(c.get("code"), str)]  # fmt: skip
    return tuple(dict.fromkeys(roles)) or ("admin",)


def _parameters(library: dict[str, Any]) -> tuple[ReportParameter, ...]:
    items = [
        {"name": p.get("name"), "type": p.get("type"), "required": p.get("min", 0) >= 1}
        for p in library.get("parameter") or [] if isinstance(p, dict) and p.get("use") == "in"
    ]  # fmt: skip
    return parse_parameters(items, "Library.parameter")


def _chart(library: dict[str, Any]) -> Chart | None:
    for extension in library.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == CHART_URL:
            parts = [p for p in extension.get("extension") or [] if isinstance(p, dict)]
            kind = next((p.get("valueCode") for p in parts if p.get("url") == "kind"), None)
            x = next((p.get("valueString") for p in parts if p.get("url") == "x"), None)
            y = [p.get("valueString") for p in parts if p.get("url") == "y"]
            return parse_chart({"kind": kind, "x": x, "y": y}, "Library.extension")
    return None


def parse_library(library: dict[str, Any], stored: Mapping[str, dict[str, Any]]) -> Report:
    """The report a SQLQuery Library stands for, with `stored` the views of its `view_references`
    (reference → ViewDefinition); InvalidRequest naming the element that is wrong."""
    name = library.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidRequest(_("A report name is letters, digits, '_' and '-', starting with a letter."),
                             expression="Library.name")  # fmt: skip
    return Report(
        name=name,
        titles=_titles(library),
        roles=_roles(library),
        parameters=_parameters(library),
        views=_views(library, stored),
        sql=_sql(library),
        chart=_chart(library),
        source=f"Library/{library.get('id')}",
    )
