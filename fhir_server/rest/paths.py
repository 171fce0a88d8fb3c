"""Path convertors for routes at the FHIR base itself (`POST [base]`, `GET [base]?_type=`).

FastAPI refuses an empty route path on a router included without a prefix, so such routes
use the path `{slash:optslash}`: "" or "/", the base with or without its trailing slash.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

BASE_PATH = "{slash:optslash}"


class OptionalSlash(Convertor[str]):
    regex = "/?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("optslash", OptionalSlash())
