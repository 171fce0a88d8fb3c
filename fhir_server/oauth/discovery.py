"""Discovery: the SMART configuration, the OpenID Connect configuration, the JWKS and the
CapabilityStatement's `rest.security`.

https://hl7.org/fhir/smart-app-launch/conformance.html and
https://openid.net/specs/openid-connect-discovery-1_0.html. Every URL is absolute. The
documents are JSON whatever the Accept header says (SMART requires it).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..i18n import available_languages
from ..rest.context import settings_of
from .signing import ID_TOKEN_ALG
from .state import oauth_of, urls_of
from .urls import ServerUrls

router = APIRouter()

CAPABILITIES = (
    "launch-ehr", "launch-standalone", "authorize-post",
    "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
    "sso-openid-connect", "context-banner", "context-style",
    "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient", "context-standalone-encounter",
    "permission-offline", "permission-online", "permission-patient", "permission-user",
    "permission-v1", "permission-v2",
)  # fmt: skip
ASSERTION_ALGS = ("RS384", "ES384")
AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
SCOPES = (
    "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
    "offline_access", "online_access",
    "patient/*.cruds", "patient/*.rs", "user/*.cruds", "user/*.rs", "system/*.cruds", "system/*.rs",
    "patient/*.read", "patient/*.write", "patient/*.*", "user/*.read", "user/*.write", "user/*.*",
    "system/*.read", "system/*.write", "system/*.*",
)  # fmt: skip
"""Examples of what may be asked for; any resource type and subset of `cruds` is understood."""


def _registration(request: Request, urls: ServerUrls) -> dict[str, str]:
    return {"registration_endpoint": urls.auth("register")} if settings_of(request).dynamic_registration else {}


def _endpoints(request: Request, urls: ServerUrls) -> dict[str, Any]:
    return {
        "issuer": urls.issuer,
        "jwks_uri": urls.auth("jwks"),
        "authorization_endpoint": urls.auth("authorize"),
        "token_endpoint": urls.auth("token"),
        "introspection_endpoint": urls.auth("introspect"),
        "revocation_endpoint": urls.auth("revoke"),
        **_registration(request, urls),
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "scopes_supported": list(SCOPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
    }


@router.get("/fhir/.well-known/smart-configuration", include_in_schema=False)
async def smart_configuration(request: Request) -> Response:
    urls = urls_of(request)
    return JSONResponse({**_endpoints(request, urls), "capabilities": list(CAPABILITIES)})


@router.get("/fhir/.well-known/openid-configuration", include_in_schema=False)
@router.get("/.well-known/openid-configuration", include_in_schema=False)
async def openid_configuration(request: Request) -> Response:
    urls = urls_of(request)
    return JSONResponse(
        {
            **_endpoints(request, urls),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser"],
            "ui_locales_supported": list(available_languages()),
        }
    )


@router.get("/auth/jwks", include_in_schema=False)
async def jwks(request: Request) -> Response:
    return JSONResponse({"keys": await oauth_of(request).keys.public_keys()})
