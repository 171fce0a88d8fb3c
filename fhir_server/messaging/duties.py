"""The `send-messages` duty: the configured channels, built from the settings, sent every second."""

from __future__ import annotations

from ..config import Settings
from ..duties.duty import Duty, DutyContext
from .channels import Channel
from .email import EmailChannel
from .sender import Backoff, send_due
from .sms import SmsGateway


def configured_channels(settings: Settings) -> list[Channel]:
    """The channels whose settings are given (an unconfigured channel's messages stay queued)."""
    channels: list[Channel] = []
    if settings.smtp_host:
        channels.append(EmailChannel(
            settings.smtp_host, settings.smtp_port, settings.smtp_from, user=settings.smtp_user,
            password=settings.smtp_password, starttls=settings.smtp_starttls, cafile=settings.smtp_cafile,
        ))  # fmt: skip
    if settings.sms_gateway_url:
        channels.append(SmsGateway(settings.sms_gateway_url, settings.sms_gateway_token))
    return channels


def backoff(settings: Settings) -> Backoff:
    return Backoff(settings.message_retry_seconds, settings.message_retry_max_seconds, settings.message_max_attempts)


async def _send_messages(context: DutyContext) -> None:
    channels = configured_channels(context.settings)
    if channels:
        await send_due(context.database.message_outbox, channels, context.worker, backoff(context.settings))


def any_channel(settings: Settings) -> bool:
    """Whether outbound messages can leave at all (else they stay queued, and the duties are off)."""
    return bool(settings.smtp_host or settings.sms_gateway_url)


MESSAGING_DUTIES = (Duty("send-messages", _send_messages, every=1, leased=True, enabled=any_channel),)
