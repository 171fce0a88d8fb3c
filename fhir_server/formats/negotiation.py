"""Which format a FHIR response is written in: `_format`, else `Accept` (R4 http.html#mime-type).

`_format` wins over `Accept` (browsers cannot set headers). Its values are `json`, `xml` and the
media types; a `+` in a query string arrives as a space (`application/fhir xml`), taken as `+`.
`Accept` is weighed by q-values, ties going to the range listed first: `*/*` and `application/*`
get JSON, `text/*` XML. The NDJSON types count as JSON (they are what the bulk-data file
downloads answer; elsewhere JSON is the closest). A request that accepts none of these gets 406.
"""

from __future__ import annotations

from contextvars import ContextVar
from enum import Enum
from urllib.parse import unquote_plus

from ..errors import NotAcceptable
from ..i18n import _


class Format(Enum):
    JSON = "json"
    XML = "xml"


FHIR_XML = "application/fhir+xml"
XML_MEDIA_TYPES = (FHIR_XML, "application/xml", "text/xml")
JSON_MEDIA_TYPES = ("application/fhir+json", "application/json")
_ACCEPTED = {
    **dict.fromkeys((*JSON_MEDIA_TYPES, "application/json+fhir", "*/*", "application/*"), Format.JSON),
    **dict.fromkeys(("application/fhir+ndjson", "application/ndjson", "application/x-ndjson"), Format.JSON),
    **dict.fromkeys((*XML_MEDIA_TYPES, "application/xml+fhir", "text/*"), Format.XML),
}
_FORMAT_VALUES = {**_ACCEPTED, "json": Format.JSON, "xml": Format.XML}
_DEFAULT_ACCEPT = ("", "*/*")

response_format: ContextVar[Format] = ContextVar("response_format", default=Format.JSON)
"""The format the current request's FHIR responses are written in (set by FormatMiddleware)."""


def requested_format(format_parameter: str | None, accept: str) -> Format:
    """The format asked for by the `_format` value (None: absent) or the Accept header. Raises NotAcceptable."""
    if format_parameter is not None:
        value = format_parameter.split(";")[0].strip().lower().replace(" ", "+")
        found = _FORMAT_VALUES.get(value)
        if found is None:
            raise NotAcceptable(
                _("_format '{value}' is not a format this server writes; use json or xml.").format(value=value[:80]),
                expression="_format",
            )
        return found
    if accept.strip() in _DEFAULT_ACCEPT:
        return Format.JSON
    single = _ACCEPTED.get(accept)  # the usual case: one media type, no parameters
    if single is not None:
        return single
    best, best_q = None, 0.0
    for media_range in accept.split(","):
        media_type, *parameters = media_range.split(";")
        found = _ACCEPTED.get(media_type.strip().lower())
        quality = _quality(parameters)
        if found is not None and quality > best_q:
            best, best_q = found, quality
    if best is None:
        raise NotAcceptable(
            _("None of the media types in Accept ({accept}) is one this server writes; accept {types}.").format(
                accept=accept[:200], types=", ".join((*JSON_MEDIA_TYPES, *XML_MEDIA_TYPES))
            )
        )
    return best


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _sep, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def format_parameter(query: bytes) -> str | None:
    """The first `_format` value of a raw query string, decoded; None when there is none."""
    if b"_format=" not in query:
        return None
    for pair in query.decode("latin-1").split("&"):
        name, _sep, value = pair.partition("=")
        if name == "_format":
            return unquote_plus(value)
    return None
