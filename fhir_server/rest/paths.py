"""Path convertors for the FHIR routes.

FastAPI refuses an empty route path on a router included without a prefix, so routes at the
FHIR base itself (`POST [base]`, `GET [base]?_type=`) use the path `{slash:optslash}`: "" or
"/", the base with or without its trailing slash.

`{x:fhir_type}` and `{x:fhir_id}` match only what can be a resource type name and a FHIR id,
so a route using them cannot take `/$export`, `/_history`, `/_search` or `/metadata` and may
come first: the hot read route is matched before the dozens of routes it would otherwise have
to be ordered after (FastAPI tries routes one by one, and each try costs microseconds).

`{x:segment}` (the id of the other routes) and `{x:type_segment}` (their type, which is never the
final `metadata` either) never start with `$` or `_`, and `{x:operation}` always starts with `$`,
so `metadata`, `[type]/_history`, `[type]/_search`, `[type]/$op` and `[type]/[id]/$op` cannot be
taken for an id or a type, whatever the order of the routes (tests/rest/test_route_order.py pins
it). A FHIR id has neither character, nor does a type.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

BASE_PATH = "{slash:optslash}"
INSTANCE_PATH = "/{resource_type:fhir_type}/{resource_id:fhir_id}"
"""`[type]/[id]` with a well-formed type name and id (anything else goes to the generic routes)."""


class Segments(Convertor[str]):
    """A path segment pattern whose value is used as it is."""

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class OptionalSlash(Segments):
    regex = "/?"


register_url_convertor("optslash", OptionalSlash())


class ResourceTypeName(Segments):
    regex = "[A-Z][A-Za-z]{0,63}"


class FhirId(Segments):
    regex = r"[A-Za-z0-9\-.]{1,64}"


register_url_convertor("fhir_type", ResourceTypeName())
register_url_convertor("fhir_id", FhirId())


class Segment(Segments):
    regex = "[^/$_][^/]*"


class TypeSegment(Segments):
    """A type segment: a segment that is not the literal `metadata` at the end of the path."""

    regex = "(?!metadata$)[^/$_][^/]*"


class OperationName(Segments):
    regex = r"\$[^/]*"


register_url_convertor("segment", Segment())
register_url_convertor("type_segment", TypeSegment())
register_url_convertor("operation", OperationName())
