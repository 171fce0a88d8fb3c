"""FHIR read and vread interactions. https://hl7.org/fhir/R4/http.html#read"""

from __future__ import annotations

from ..errors import InvalidRequest, ResourceDeleted, ResourceNotFound
from ..i18n import _
from ..storage import ResourceStore, StoredResource
from .identity import check_id
from .validation import check_resource_type


def _etag(record: StoredResource) -> dict[str, str]:
    return {"ETag": f'W/"{record.version_id}"'}


async def read_resource(store: ResourceStore, resource_type: str, resource_id: str) -> StoredResource:
    """The current version. Raises ResourceNotFound (404) or ResourceDeleted (410)."""
    check_resource_type(resource_type)
    check_id(resource_id)
    record = await store.get(resource_type, resource_id)
    if record is None:
        raise ResourceNotFound(_("{type}/{id} was not found.").format(type=resource_type, id=resource_id))
    if record.deleted:
        raise ResourceDeleted(
            _("{type}/{id} was deleted.").format(type=resource_type, id=resource_id), headers=_etag(record)
        )
    return record


async def read_version(store: ResourceStore, resource_type: str, resource_id: str, version: str) -> StoredResource:
    """One version from history. Raises ResourceNotFound (404) or ResourceDeleted (410) for a deletion."""
    check_resource_type(resource_type)
    check_id(resource_id)
    if not version.isdigit() or len(version) > 18:
        raise InvalidRequest(_("'{version}' is not a version id of this server.").format(version=version[:40]))
    record = await store.get_version(resource_type, resource_id, int(version))
    if record is None:
        raise ResourceNotFound(
            _("{type}/{id} has no version {version}.").format(type=resource_type, id=resource_id, version=version)
        )
    if record.deleted:
        raise ResourceDeleted(
            _("Version {version} of {type}/{id} is a deletion.").format(
                type=resource_type, id=resource_id, version=version
            ),
            headers=_etag(record),
        )
    return record
