"""The audit key: a file only the server's processes read, never in the database.

The audit log's MACs (storage/audit_seal.py) are only as good as the key is out of reach of people
who can write the database. So the key lives in a file: `FHIR_AUDIT_KEY_FILE` when set (a MongoDB
deployment: the same file on every host that runs the server), else `audit.key` in the data
directory. The server and the writing CLI commands create it (mode 0600) when it does not exist;
`audit verify` and `audit anchor` never do: a new key would make every record look forged.
A backup carries the key (engine/backup.py) and `restore` installs it (`install_audit_key`), so the
restored log verifies and the chain goes on under the key it was sealed with.
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


def install_audit_key(settings: Settings, source: Path) -> bool:
    """Make the key in `source` (a backup's key file) the key of `settings`; True if another key was replaced.

    Only for a restore into an empty database: nothing is sealed under the key it replaces.
    Raises AuditKeyError when `source` holds no key or the key file cannot be written.
    """
    key = _read(source, create=False)
    path = audit_key_path(settings)
    existed = path.exists()
    try:
        if existed and _read(path, create=False) == key:
            return False
    except AuditKeyError:
        pass  # not a key (or unreadable): replaced like another key
    _write(path, key.secret, replace=True)
    return existed


def _created(path: Path) -> AuditKey:
    """A new key in `path` (two workers starting at once settle on one)."""
    if _write(path, secrets.token_bytes(_BYTES), replace=False):
        log.warning("created the audit key file %s: keep it (and a copy) away from the database", path)
    return _read(path, create=False)


def _write(path: Path, secret: bytes, *, replace: bool) -> bool:
    """Write `secret` to `path` (mode 0600), whole before it appears; without `replace`, False if the file
    appeared meanwhile (the other writer's key stands)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")  # mode 0600
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as out:
                out.write(secret.hex() + "\n")
                out.flush()
                os.fsync(out.fileno())
            if replace:
                os.replace(temporary, path)
                return True
            try:
                os.link(temporary, path)  # fails if another process created it meanwhile: use theirs
            except FileExistsError:
                return False
            return True
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as exc:
        raise AuditKeyError(
            _("the audit key file {path} cannot be written: {reason}").format(path=path, reason=exc)
        ) from exc
