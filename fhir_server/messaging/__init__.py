"""Messages for people that leave the server (email, SMS): queued durably, sent once, retried with backoff.

Public API, for any workflow (reminders, stock alerts, ...):

    from fhir_server.messaging import Attachment, queue_message

    # inside a write rule: the message exists exactly when the write commits
    await queue_message(context, key="stock-low/Medication/42/2026-12-06", channel="email",
                        to="pharmacy@example.org", subject="...", text="...", html=None,
                        attachments=[Attachment("order.pdf", "application/pdf", data)])

    # outside a write (a duty): straight into the outbox
    await queue_message(database, key=..., channel="sms", to="+4915112345678", text="...")

`key` is the idempotency key: queueing the same key again (a retried write, a duty round run twice)
is a no-op, the first message stands. `channel` is `email` (SMTP with STARTTLS, `FHIR_SMTP_*`) or
`sms` (an HTTP gateway, `FHIR_SMS_GATEWAY_URL` and `_TOKEN`). The leased duty `send-messages`
(duties.py) sends due messages; a channel that is down or refuses for now is retried with
exponential backoff (`FHIR_MESSAGE_RETRY_SECONDS`, doubled up to `FHIR_MESSAGE_RETRY_MAX_SECONDS`,
given up after `FHIR_MESSAGE_MAX_ATTEMPTS`); a permanent refusal (SMTP 5xx, gateway 4xx) fails the
message at once. A channel that is not configured leaves its messages queued.

The guarantee: each message is handed to its channel once. The attempt is recorded (status
`sending`) before the message leaves and the outcome right after the relay or gateway answers.
The one window left is a process dying after the relay accepted the message and before that
outcome is written (a few milliseconds): the message is then sent again when its lease runs out,
with the same Message-ID (email) or `Idempotency-Key` header (SMS), so the receiving side can
drop the second copy. A message refused for now or never accepted is never counted as sent.
"""

from ..storage.message_outbox import Attachment, Message
from .channels import PermanentFailure, TemporaryFailure
from .queue import queue_message

__all__ = ["Attachment", "Message", "PermanentFailure", "TemporaryFailure", "queue_message"]
