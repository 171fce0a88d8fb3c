"""Which format a request asks for: `_format` over Accept, q-values, and what gets 406."""

from __future__ import annotations

import pytest

from fhir_server.errors import NotAcceptable
from fhir_server.formats.negotiation import Format, format_parameter, requested_format

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize(
    ("parameter", "accept", "expected"),
    [
        (None, "", Format.JSON),
        (None, "*/*", Format.JSON),
        (None, "application/fhir+json", Format.JSON),
        (None, "application/fhir+xml", Format.XML),
        (None, "application/xml", Format.XML),
        (None, "text/xml", Format.XML),
        (None, "application/fhir+xml;q=0.5, application/fhir+json", Format.JSON),
        (None, "application/fhir+xml, application/fhir+json", Format.XML),
        (None, "text/*", Format.XML),
        (None, BROWSER, Format.XML),
        (None, "application/fhir+ndjson", Format.JSON),
        ("xml", "application/fhir+json", Format.XML),
        ("json", "application/fhir+xml", Format.JSON),
        ("application/fhir+xml", "", Format.XML),
        ("application/fhir xml", "", Format.XML),  # `+` in a query string arrives as a space
        ("application/fhir+json;charset=utf-8", "", Format.JSON),
        ("text/xml", "text/html", Format.XML),
    ],
)
def test_requested_format(parameter: str | None, accept: str, expected: Format) -> None:
    assert requested_format(parameter, accept) is expected


@pytest.mark.parametrize(
    ("parameter", "accept"),
    [
        (None, "text/html"),
        (None, "application/fhir+turtle"),
        (None, "application/fhir+json;q=0"),
        ("ttl", ""),
        ("html", "application/fhir+json"),
        ("", ""),
    ],
)
def test_formats_not_written_are_not_acceptable(parameter: str | None, accept: str) -> None:
    with pytest.raises(NotAcceptable):
        requested_format(parameter, accept)


def test_format_parameter_is_read_from_the_raw_query() -> None:
    assert format_parameter(b"name=x&_format=application%2Ffhir%2Bxml") == "application/fhir+xml"
    assert format_parameter(b"_format=application/fhir+xml") == "application/fhir xml"
    assert format_parameter(b"name=_format") is None
    assert format_parameter(b"x_format=xml") is None
