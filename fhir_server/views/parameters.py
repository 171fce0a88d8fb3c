"""The input of the views' operations: URL parameters and a POSTed Parameters, with resources and parts.

The server's `operation_query` flattens every parameter to a string; these operations also take
resources (`viewResource`, `resource`) and, for `$viewdefinition-export`, `view` parameters made of
parts. Shared here: reading them, single values, the view itself (inline or stored), `_format`,
`_since`, and the patients that `patient` and `group` name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..auth.policy import AccessPolicy
from ..engine.bulk_export import group_members
from ..engine.read import read_resource
from ..engine.search import search_type
from ..errors import InvalidRequest, ResourceNotFound
from ..i18n import _
from ..rest.operations.parameters import Given, parameter_value
from ..search.dates import parse_date_range
from ..search.registry import default_registry
from ..search.request import parse_search_request
from ..storage import ResourceStore
from .carrier import library_view
from .formats import FORMATS, format_code

Values = dict[str, list[Any]]
RESOURCE_PARAMETERS = ("viewResource", "resource")


def parameter_values(parameters: Sequence[Given], where: str = "Parameters") -> Values:
    """Values by name: the resource of a resource parameter, the parts of a part parameter, else the value as text."""
    values: Values = {}
    for name, parameter, position in parameters:
        location = f"{where}.parameter[{position}]"
        if name in RESOURCE_PARAMETERS:
            if not isinstance(parameter.get("resource"), dict):
                raise InvalidRequest(
                    _("Parameter '{name}' must hold a resource.").format(name=name), expression=f"{location}.resource"
                )
            values.setdefault(name, []).append(parameter["resource"])
        elif isinstance(parameter.get("part"), list):
            values.setdefault(name, []).append(parameter["part"])
        else:
            values.setdefault(name, []).append(parameter_value(parameter, position))
    return values


def one(values: Values, name: str) -> Any:
    found = values.get(name) or []
    if len(found) > 1:
        raise InvalidRequest(_("Parameter '{name}' may be given only once.").format(name=name), expression=name)
    return found[0] if found else None


def refuse_unknown(values: Values, known: set[str], operation: str) -> None:
    unknown = sorted(set(values) - known - {"_pretty"})
    if unknown:
        raise InvalidRequest(
            _("Unknown parameters for {operation}: {names}.").format(operation=operation, names=", ".join(unknown)),
            expression=unknown[0],
        )


async def stored_view(store: ResourceStore, policy: AccessPolicy, library_id: str) -> dict[str, Any]:
    """The view carried by Library/`library_id`, read with the caller's access (403/404/410 as a read)."""
    record = await read_resource(store, policy, "Library", library_id)
    return library_view(record.resource())


async def view_of(
    store: ResourceStore, policy: AccessPolicy, inline: Any, reference: Any, location: str = ""
) -> dict[str, Any]:
    """The view given inline or by reference (exactly one of them)."""
    if (inline is None) == (reference is None):
        raise InvalidRequest(
            _("Give the view in exactly one of viewResource and viewReference."), expression=f"{location}viewResource"
        )
    if inline is not None:
        return dict(inline)
    if "://" in str(reference) or str(reference).startswith("urn:"):
        return await _canonical_view(store, policy, str(reference), f"{location}viewReference")
    kind, _sep, library_id = str(reference).rstrip("/").rpartition("/")
    if kind.rpartition("/")[2] not in ("Library", "ViewDefinition") or not library_id:
        raise InvalidRequest(
            _("viewReference must be Library/[id] or ViewDefinition/[id] (the Library that carries the view)."),
            expression=f"{location}viewReference",
        )
    return await stored_view(store, policy, library_id)


async def _canonical_view(store: ResourceStore, policy: AccessPolicy, canonical: str, location: str) -> dict[str, Any]:
    """The view of the one Library the caller may read whose `url` (and `version`, after `|`) is `canonical`."""
    url, _sep, version = canonical.partition("|")
    query = [("url", url), *([("version", version)] if version else []), ("_count", "2")]
    request = parse_search_request("Library", query, default_registry(), default_count=2, max_count=2, strict=True)
    found = (await search_type(store, policy, request, permission="r")).page.records
    if not found:
        raise ResourceNotFound(
            _("No stored view has the canonical URL {url}.").format(url=canonical[:200]), expression=location
        )
    if len(found) > 1:
        raise InvalidRequest(
            _("Several stored views have the canonical URL {url}: add its version ('|version').").format(
                url=canonical[:200]
            ),
            expression=location,
        )
    return library_view(found[0].resource())


def output_format(values: Values, accept: str, default: str) -> str:
    """The format `_format` names, else the first of the Accept header's, else `default`."""
    raw = one(values, "_format")
    if raw is None:
        accepted = [format_code(part) for part in accept.split(",")]
        return next((code for code in accepted if code is not None), default)
    code = format_code(str(raw))
    if code is None:
        raise InvalidRequest(
            _("'{value}' is not a supported _format; use one of {allowed}.").format(
                value=str(raw)[:80], allowed=", ".join(FORMATS)
            ),
            expression="_format",
        )
    return code


def since(values: Values) -> datetime | None:
    raw = one(values, "_since")
    return parse_date_range(str(raw), "_since").low if raw is not None else None


def _id_of(reference: str, resource_type: str, parameter: str) -> str:
    kind, _sep, resource_id = reference.strip().rpartition("/")
    if (kind and kind.rpartition("/")[2] != resource_type) or not resource_id:
        raise InvalidRequest(
            _("'{value}' is not a {type} reference.").format(value=reference[:80], type=resource_type),
            expression=parameter,
        )
    return resource_id


async def patients_of(store: ResourceStore, policy: AccessPolicy, values: Values) -> list[str] | None:
    """The patients `patient` (any number) and `group` (members of any of them) confine the rows to.

    None when neither is given; both given: the patients named that are members.
    """
    patients: list[str] | None = None
    if values.get("patient"):
        patients = [_id_of(str(patient), "Patient", "patient") for patient in values["patient"]]
    if values.get("group"):
        members: list[str] = []
        for group in values["group"]:
            record = await read_resource(store, policy, "Group", _id_of(str(group), "Group", "group"))
            members += group_members(record.resource())
        patients = members if patients is None else [p for p in patients if p in members]
    return patients
