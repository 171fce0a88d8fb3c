"""Path convertors for the FHIR routes.

FastAPI refuses an empty route path on a router included without a prefix, so routes at the
FHIR base itself (`POST [base]`, `GET [base]?_type=`) use the path `{slash:optslash}`: "" or
"/", the base with or without its trailing slash.

`{x:segment}` (an id) and `{x:type_segment}` (their type, which is never the
final `metadata` either) never start with `$` or `_`, and `{x:operation}` always starts with `$`,
so `metadata`, `[type]/_history`, `[type]/_search`, `[type]/$op` and `[type]/[id]/$op` cannot be
taken for an id or a type, whatever the order of the routes (tests/rest/test_route_order.py pins
it). A FHIR id has neither character, nor does a type.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

BASE_PATH = "{slash:optslash}"
RESOURCE_TYPE_NAME = "[A-Z][A-Za-z]{0,63}"
FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"
"""What a resource type name and a FHIR id can be: the well-formed reads answered before routing
(direct_read.py) are those of such paths; anything else goes to the routes."""


class Segments(Convertor[str]):
    """A path segment pattern whose value is used as it is."""

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class OptionalSlash(Segments):
    regex = "/?"


register_url_convertor("optslash", OptionalSlash())


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
