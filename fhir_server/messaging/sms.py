"""SMS through an HTTP gateway: `POST <url>` with a JSON body, the token as a bearer, and the message's
idempotency key as `Idempotency-Key` (README: putting a provider such as Twilio behind it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from ..storage.message_outbox import Message
from .channels import Connection, PermanentFailure, TemporaryFailure

TIMEOUT = 30.0
_FOR_NOW = {408, 425, 429}
"""4xx answers that mean "later", not "never"."""


class _GatewayConnection:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self._http = http
        self._url = url

    async def send(self, message: Message) -> None:
        body = {"to": message.to, "text": message.text, "key": message.key}
        try:
            response = await self._http.post(self._url, json=body, headers={"Idempotency-Key": message.key})
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            return
        failure = f"SMS gateway answered {response.status_code}"
        if 400 <= response.status_code < 500 and response.status_code not in _FOR_NOW:
            raise PermanentFailure(failure)
        raise TemporaryFailure(failure)


class SmsGateway:
    """The HTTP gateway of `FHIR_SMS_GATEWAY_URL` (and `_TOKEN`)."""

    name = "sms"

    def __init__(self, url: str, token: str = "") -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        async with httpx.AsyncClient(timeout=TIMEOUT, headers=self._headers) as http:
            yield _GatewayConnection(http, self._url)
