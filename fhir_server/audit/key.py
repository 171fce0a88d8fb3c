"""The audit key: a file only the server's processes read, never in the database.

The audit log's MACs (storage/audit_seal.py) are only as good as the key is out of reach of people
who can write the database. So the key lives in a file: `FHIR_AUDIT_KEY_FILE` when set (a MongoDB
deployment: the same file on every host that runs the server), else `audit.key` in the data
directory. The server and the writing CLI commands create it (mode 0600) when it does not exist;
`audit verify` and `audit anchor` never do: a new key would make every record look forged.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

from ..config import Settings
from ..errors import StorageUnavailable
from ..i18n import _
from ..storage.audit import AuditKey

log = logging.getLogger(__name__)

KEY_FILE = "audit.key"
_BYTES = 32


class AuditKeyError(StorageUnavailable):
    """The audit key file is missing (where it must exist), unreadable or not a key."""


def audit_key_path(settings: Settings) -> Path:
    return settings.audit_key_file or settings.data_dir / KEY_FILE


def load_audit_key(settings: Settings, *, create: bool) -> AuditKey:
    """The audit key of `settings`; with `create`, a new one is made when the file does not exist."""
    return _read(audit_key_path(settings), create)


def _read(path: Path, create: bool) -> AuditKey:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        if not create:
            raise AuditKeyError(
                _("the audit key file {path} does not exist (the server creates it when it first starts)").format(
                    path=path
                )
            ) from None
        return _created(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = _("the audit key file {path} cannot be read: {reason}").format(path=path, reason=exc)
        raise AuditKeyError(reason) from exc
    if path.stat().st_mode & 0o077:
        log.warning("the audit key file %s can be read by other users: chmod 600 it", path)
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        secret = b""
    if len(secret) < _BYTES:
        raise AuditKeyError(_("the audit key file {path} does not hold a key").format(path=path))
    return AuditKey(secret)


def _created(path: Path) -> AuditKey:
    """A new key in `path`, written whole before it appears (two workers starting at once settle on one)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")  # mode 0600
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(_BYTES) + "\n")
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)  # fails if another process created it meanwhile: use theirs
            except FileExistsError:
                pass
            else:
                log.warning("created the audit key file %s: keep it (and a copy) away from the database", path)
        finally:
            os.unlink(temporary)
    except OSError as exc:
        raise AuditKeyError(
            _("the audit key file {path} cannot be created: {reason}").format(path=path, reason=exc)
        ) from exc
    return _read(path, create=False)
