"""The server's RS256 key for id_tokens: made on first start, kept in MongoDB, published as a JWKS.

https://openid.net/specs/openid-connect-core-1_0.html#Signing. Every worker signs with the
same key (see storage/keys.py), so an id_token verifies against the JWKS whichever worker
served it.
"""

from __future__ import annotations

import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from ..storage.keys import MongoKeyStore, StoredKey

ID_TOKEN_ALG = "RS256"


async def signing_key(keys: MongoKeyStore) -> RSAKey:
    """The current signing key, made and stored first when there is none."""
    current = await keys.current()
    if current is None:
        made = RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex, "use": "sig", "alg": ID_TOKEN_ALG})
        kid = str(made.kid)
        await keys.add(StoredKey(kid, made.as_dict(private=False), made.as_dict(private=True)))
        current = await keys.current()
        assert current is not None
        if current.kid != kid:  # another worker's key was stored first: use that one
            await keys.remove(kid)
    return RSAKey.import_key(current.private)


def sign(claims: dict[str, Any], key: RSAKey) -> str:
    """`claims` as a compact JWT signed with `key`."""
    return jwt.encode({"alg": ID_TOKEN_ALG, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[ID_TOKEN_ALG])
