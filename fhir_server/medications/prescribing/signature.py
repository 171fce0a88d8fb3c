"""Prescription signatures: a JWS (ES256, compact serialization) over the FHIR canonical JSON of the signed
MedicationRequest, made with the server-held key of the signing user and verifiable with the JWKS the server
publishes at `/.well-known/prescriber-keys.json`. https://hl7.org/fhir/R4/json.html#canonical,
https://hl7.org/fhir/R4/datatypes.html#Signature

Canonical JSON here: the resource without `meta` and `text`, object properties sorted, no whitespace
outside strings, decimals with the precision they were given in, UTF-8 without escapes. The signature goes
in Provenance.signature (sigFormat `application/jose`, data: the base64 of the JWS text).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from ...fhir_json import dumps
from ...storage.prescriber_keys import PrescriberKey, PrescriberKeys

SIG_FORMAT = "application/jose"
AUTHOR_SIGNATURE = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1",
                    "display": "Author's Signature"}  # fmt: skip


def canonical_json(resource: Mapping[str, Any]) -> bytes:
    """The FHIR canonical JSON of `resource` (see the module docstring)."""
    stripped = {k: v for k, v in resource.items() if k not in ("meta", "text")}
    return dumps(stripped, option=orjson.OPT_SORT_KEYS)


async def key_of(keys: PrescriberKeys, user: str) -> PrescriberKey:
    """The signing key of `user`, made and stored on their first signing."""
    found = await keys.of_user(user)
    if found is not None:
        return found
    generated = ECKey.generate_key("P-256")
    kid = uuid.uuid4().hex
    public = {**generated.as_dict(private=False), "kid": kid, "use": "sig", "alg": "ES256"}
    private = {**generated.as_dict(private=True), "kid": kid}
    if await keys.add(PrescriberKey(kid, user, public, private)):
        return PrescriberKey(kid, user, public, private)
    stored = await keys.of_user(user)
    assert stored is not None  # another first signing stored its key
    return stored


def sign(key: PrescriberKey, resource: Mapping[str, Any]) -> str:
    """The compact JWS of `resource`'s canonical JSON."""
    return jws.serialize_compact(
        {"alg": "ES256", "kid": key.kid}, canonical_json(resource), ECKey.import_key(key.private)
    )


def signature_data(token: str) -> str:
    """Signature.data: base64 of the JWS text."""
    return base64.b64encode(token.encode("ascii")).decode("ascii")


def verify(token: str, jwks: list[Mapping[str, Any]], resource: Mapping[str, Any]) -> bool:
    """Whether `token` is a valid signature by a key of `jwks` over `resource`'s canonical JSON."""
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
        jwk = next((k for k in jwks if k.get("kid") == header.get("kid")), None)
        if jwk is None or header.get("alg") != "ES256":
            return False
        payload = jws.deserialize_compact(token, ECKey.import_key(dict(jwk))).payload
    except (JoseError, ValueError):
        return False
    return payload == canonical_json(resource)
