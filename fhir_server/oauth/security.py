"""The CapabilityStatement's `rest.security`: where SMART v1 clients find the OAuth endpoints.

https://hl7.org/fhir/smart-app-launch/conformance.html#declaring-support-for-oauth2-endpoints
(the `oauth-uris` extension) and the SMART-on-FHIR security service coding.
"""

from __future__ import annotations

from typing import Any

from .urls import ServerUrls


def rest_security(urls: ServerUrls, registration: bool) -> dict[str, Any]:
    """The CapabilityStatement `rest.security` for SMART v1 clients (the oauth-uris extension)."""
    uris = {"authorize": "authorize", "token": "token", "revoke": "revoke", "introspect": "introspect"}
    if registration:
        uris["register"] = "register"
    return {
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": name, "valueUri": urls.auth(path)} for name, path in uris.items()],
            }
        ],
        "cors": True,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
    }
