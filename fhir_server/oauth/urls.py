"""The absolute URLs of the authorization server, derived from the FHIR base URL.

The FHIR base is the `base_url` setting or what the request reached; the `/auth` routes sit
beside `/fhir` on the same origin (a configured base must end in `/fhir` for that to hold).
The issuer of id_tokens is the FHIR base, so `[issuer]/.well-known/openid-configuration` is
served where OpenID Connect clients look for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerUrls:
    fhir_base: str

    @property
    def root(self) -> str:
        return self.fhir_base.removesuffix("/fhir")

    @property
    def issuer(self) -> str:
        return self.fhir_base

    def auth(self, path: str) -> str:
        """The absolute URL of `/auth/<path>`."""
        return f"{self.root}/auth/{path}"

    def fhir_user(self, reference: str) -> str:
        """A `Practitioner/123` reference as the absolute URL id_tokens carry in `fhirUser`."""
        return f"{self.fhir_base}/{reference}"
