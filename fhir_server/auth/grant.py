"""What a token stands for: who, through which app, with which scopes and launch context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Grant:
    """The authorization behind one access or refresh token.

    `family` ties an access token to the refresh token (and its later access tokens) it came
    from, so revoking either stops all of them at once. `role` is the user's role (see
    auth/roles.py) or None for backend services; `fhir_user` is a "Practitioner/123" style
    reference; `patient` and `encounter` are the launch context ids.
    """

    kind: str
    client_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    family: str
    subject: str | None = None
    role: str | None = None
    fhir_user: str | None = None
    patient: str | None = None
    encounter: str | None = None

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)
