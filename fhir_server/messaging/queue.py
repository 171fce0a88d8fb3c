"""Queueing a message: into the write's transaction (a write rule) or straight into the outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from ..engine.identity import now as clock
from ..engine.rules import WriteContext
from ..errors import InvalidRequest
from ..i18n import _
from ..storage.database import Database
from ..storage.message_outbox import COLLECTION, Attachment, message_document

CHANNELS = ("email", "sms")


def message_id(key: str, sender: str = "fhir-server") -> str:
    """The Message-ID of the message with this idempotency key: the same on every attempt."""
    domain = sender.rpartition("@")[2].strip(" >") or "fhir-server"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


async def queue_message(
    target: WriteContext | Database,
    *,
    key: str,
    channel: str,
    to: str,
    text: str,
    subject: str = "",
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    sender: str = "",
    at: datetime | None = None,
) -> None:
    """Queue a message under the idempotency `key` (again under a queued key: nothing happens).

    In a write rule pass its WriteContext: the message is inserted in the write's transaction.
    `sender` only names the Message-ID's domain (the From is `FHIR_SMTP_FROM`).
    """
    if channel not in CHANNELS:
        raise InvalidRequest(_("Unknown message channel {channel}.").format(channel=channel))
    if not key or not to:
        raise InvalidRequest(_("A message needs a key and an address."))
    document = message_document(
        key, channel, to, subject, text, html, list(attachments), message_id(key, sender), at or clock()
    )
    if isinstance(target, WriteContext):
        target.add_document(COLLECTION, document, if_absent=True)
    else:
        await target.message_outbox.queue(document)
