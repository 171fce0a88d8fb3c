"""Real outbound endpoints for the messaging and reminder tests: an aiosmtpd SMTP server (STARTTLS and
AUTH required, a self-signed certificate the server under test trusts) and a small HTTP SMS gateway."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fhir_server.storage.embedded import free_loopback_port

SMTP_USER, SMTP_PASSWORD = "reminders", "s3cret-relay"
GATEWAY_TOKEN = "gateway-token"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key): the SMTP server's, and the CA the server under test trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "smtp.crt", folder / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Mailbox:
    """What the SMTP server received, parsed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


def _authenticate(_server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok)


class SmtpServer:
    """A real SMTP server on a fixed port, startable and stoppable (a relay that is down, then back)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_loopback_port()
        self.cafile, key = self_signed(folder)
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(self.cafile, key)
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, tls_context=self._tls, require_starttls=True,
            authenticator=_authenticate, auth_required=True, ready_timeout=30,
        )  # fmt: skip
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def env(self) -> dict[str, str]:
        """The server settings that send mail here."""
        return {
            "FHIR_SMTP_HOST": "127.0.0.1", "FHIR_SMTP_PORT": str(self.port), "FHIR_SMTP_USER": SMTP_USER,
            "FHIR_SMTP_PASSWORD": SMTP_PASSWORD, "FHIR_SMTP_FROM": "Practice <reminders@practice.example>",
            "FHIR_SMTP_CAFILE": str(self.cafile),
        }  # fmt: skip


class Gateway:
    """An HTTP SMS gateway: records each POST (with its Idempotency-Key), refuses the next `fail` of them
    with 503 and anything without the token with 401."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail = 0
        self.refused = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != f"Bearer {GATEWAY_TOKEN}":
                    self._answer(401)
                elif body.get("to") == "+000":
                    self._answer(400)
                elif gateway.fail > 0:
                    gateway.fail -= 1
                    gateway.refused += 1
                    self._answer(503)
                else:
                    gateway.received.append({**body, "idempotencyKey": self.headers.get("Idempotency-Key")})
                    self._answer(202)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/sms"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in list(self.received) if m["to"] == number]

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def env(self) -> dict[str, str]:
        return {"FHIR_SMS_GATEWAY_URL": self.url, "FHIR_SMS_GATEWAY_TOKEN": GATEWAY_TOKEN}


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll until `condition()` is truthy (its value), failing with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
