"""Path convertors for the FHIR routes.

FastAPI refuses an empty route path on a router included without a prefix, so routes at the
FHIR base itself (`POST [base]`, `GET [base]?_type=`) use the path `{slash:optslash}`: "" or
"/", the base with or without its trailing slash.

`{x:segment}` (an id) and `{x:type_segment}` (a type, which is never the
final `metadata` either) never start with `$` or `_`, and `{x:operation}` always starts with `$`,
so `metadata`, `[type]/_history`, `[type]/_search`, `[type]/$op` and `[type]/[id]/$op` cannot be
taken for an id or a type, whatever the order of the routes (tests/rest/test_route_order.py pins
it). A FHIR id has neither character, nor does a type.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

BASE_PATH = "{slash:optslash}"


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
