"""The engine: FHIR interactions as plain async Python, the one door to the data.

REST, the CLI, the HL7 v2 adapter and bulk jobs call these functions; none of them reaches
storage directly. Every interaction takes the caller's AccessPolicy (auth/policy.py) and
enforces it in its queries and writes (access.py); trusted callers pass `AccessPolicy.system()`.
"""

from .conditional import conditional_create, conditional_delete, conditional_patch, conditional_update
from .create import create_resource
from .delete import delete_resource
from .docref import DocrefRequest, docref, parse_docref_request
from .everything import EverythingRequest, everything, parse_everything_request
from .history import HistoryRequest, history, parse_history_request
from .patch_resource import PatchFormat, patch_resource
from .read import read_resource, read_version
from .results import Page, WriteResult
from .search import SearchResult, search_type
from .system_search import SystemSearchRequest, parse_system_search, search_sequence, search_system
from .update import update_resource
from .validation import check_resource_type

__all__ = [
    "DocrefRequest",
    "EverythingRequest",
    "SystemSearchRequest",
    "docref",
    "everything",
    "parse_docref_request",
    "parse_everything_request",
    "parse_system_search",
    "search_sequence",
    "search_system",
    "HistoryRequest",
    "Page",
    "SearchResult",
    "PatchFormat",
    "WriteResult",
    "check_resource_type",
    "conditional_create",
    "conditional_delete",
    "conditional_patch",
    "conditional_update",
    "create_resource",
    "delete_resource",
    "history",
    "parse_history_request",
    "patch_resource",
    "read_resource",
    "read_version",
    "search_type",
    "update_resource",
]
