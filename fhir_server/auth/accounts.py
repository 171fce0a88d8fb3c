"""What makes a valid account: its username, its role, the FHIR resource it stands for, its password.

The `user` commands check new accounts here before they are stored, so the sign-in pages
never meet a user whose role is unknown or whose `fhirUser` is not a reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..i18n import _

PATIENT_USER_TYPES = ("Patient", "RelatedPerson")
"""Users of these types see their own (or their patient's) record and never get a patient picker."""

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_USERNAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
_FHIR_USER = re.compile(r"(Practitioner|Patient|RelatedPerson|Person)/[A-Za-z0-9\-.]{1,64}")


class AccountError(ValueError):
    """An account that may not be stored; the message says why, for the person at the keyboard."""


def check_username(username: str) -> str:
    """`username` when it is 1-64 letters, digits or `._@+-`; raise AccountError otherwise."""
    if not _USERNAME.fullmatch(username):
        raise AccountError(_("A username is 1 to 64 letters, digits or . _ @ + -; {username!r} is not.").format(
            username=username[:80]
        ))  # fmt: skip
    return username


def check_role(role: str, roles: Mapping[str, object]) -> str:
    """`role` when it is one of `roles`; raise AccountError naming the known roles otherwise."""
    if role not in roles:
        raise AccountError(
            _("Unknown role {role!r}; the roles are: {known}.").format(role=role, known=", ".join(sorted(roles)))
        )
    return role


def check_fhir_user(reference: str | None) -> str | None:
    """`reference` when it is None or a `Practitioner/1` style reference to a user type; raise AccountError."""
    if reference is not None and not _FHIR_USER.fullmatch(reference):
        raise AccountError(
            _("The FHIR user must be a reference like Practitioner/1, Patient/2 or RelatedPerson/3; "
              "{reference!r} is not.").format(reference=reference[:80])
        )  # fmt: skip
    return reference


def check_password(password: str) -> str:
    """`password` when it is long enough (and not absurdly long); raise AccountError otherwise."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("A password needs at least {count} characters.").format(count=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(_("A password may have at most {count} characters.").format(count=MAX_PASSWORD_LENGTH))
    return password


def is_patient_user(fhir_user: str | None) -> bool:
    """Whether the user stands for a patient (or a patient's relative) rather than for staff."""
    return fhir_user is not None and fhir_user.split("/", 1)[0] in PATIENT_USER_TYPES
