"""Email over SMTP with STARTTLS (smtplib, run in a thread): one connection per round of messages."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from ..storage.message_outbox import Message
from .channels import Connection, PermanentFailure, TemporaryFailure

TIMEOUT = 30.0


def build_email(message: Message, sender: str) -> EmailMessage:
    """The MIME message: text (and HTML) body, attachments, and the message's own Message-ID."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Message-ID"] = message.message_id
    mail["Date"] = formatdate(message.created.timestamp(), localtime=False, usegmt=True)
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    for file in message.attachments:
        maintype, _sep, subtype = file.content_type.partition("/")
        mail.add_attachment(file.data, maintype=maintype, subtype=subtype or "octet-stream", filename=file.filename)
    return mail


def _refusal(code: int, text: str) -> Exception:
    """An SMTP reply code as a failure: 5xx for good, 4xx for now."""
    return PermanentFailure(f"SMTP {code} {text}") if 500 <= code < 600 else TemporaryFailure(f"SMTP {code} {text}")


class _SmtpConnection:
    def __init__(self, smtp: smtplib.SMTP, sender: str) -> None:
        self._smtp = smtp
        self._sender = sender

    def _send(self, message: Message) -> None:
        try:
            refused = self._smtp.send_message(build_email(message, self._sender))
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _refusal(code, text.decode(errors="replace")) from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            raise _refusal(
                exc.smtp_code, error.decode(errors="replace") if isinstance(error, bytes) else error
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"SMTP: {exc}") from exc
        if refused:
            code, text = next(iter(refused.values()))
            raise _refusal(code, text.decode(errors="replace"))

    async def send(self, message: Message) -> None:
        await asyncio.to_thread(self._send, message)


class EmailChannel:
    """An SMTP relay (`FHIR_SMTP_HOST`, `_PORT`, `_USER`, `_PASSWORD`, `_FROM`, `_STARTTLS`, `_CAFILE`)."""

    name = "email"

    def __init__(
        self, host: str, port: int, sender: str, *, user: str = "", password: str = "", starttls: bool = True,
        cafile: Path | None = None,
    ) -> None:  # fmt: skip
        self._host, self._port, self._sender = host, port, sender
        self._user, self._password, self._starttls, self._cafile = user, password, starttls, cafile

    def _open(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self._host, self._port, timeout=TIMEOUT)
        try:
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=self._cafile))
            if self._user:
                smtp.login(self._user, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        try:
            smtp = await asyncio.to_thread(self._open)
        except smtplib.SMTPNotSupportedError as exc:
            raise TemporaryFailure("SMTP relay does not offer STARTTLS") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"SMTP relay unreachable: {exc}") from exc
        try:
            yield _SmtpConnection(smtp, self._sender)
        finally:
            await asyncio.to_thread(_quit, smtp)


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
