"""Server settings: command-line flags over `FHIR_*` environment variables over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """Everything a server process needs to know; workers receive it through the environment."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    mongodb_uri: str | None = None
    database: str = "fhir"
    audit_key_file: Path | None = None
    """The key that seals the audit log (fhir_server/audit/key.py); `<data_dir>/audit.key` when unset."""
    workers: int = 1
    max_body_bytes: int = 16 * 1024 * 1024
    base_url: str | None = None
    log_level: str = "info"
    load_dir: Path | None = None
    rule_modules: str = ""
    """Comma-separated Python modules declaring a practice's own write rules (engine/rules), imported at start."""
    default_page_size: int = 20
    max_page_size: int = 1000
    search_max_values: int = 100
    """Values in one search parameter (a comma-separated OR list); more is refused (400 too-costly)."""
    search_max_parameters: int = 50
    """Parameters in one search request; more is refused."""
    search_max_has_depth: int = 2
    """Nested `_has` steps in one search parameter; more is refused."""
    search_max_chain_depth: int = 3
    """Chained references in one search parameter; more is refused."""
    search_max_includes: int = 10
    """`_include` and `_revinclude` parameters in one search; more is refused."""
    search_max_iterate_rounds: int = 3
    """Rounds of `_include:iterate`; further ones are not run, and the Bundle says so."""
    search_time_limit_ms: int = 20_000
    """Database time for one search request (`maxTimeMS`); over it the search is refused. 0: no limit."""
    export_ttl_seconds: int = 3600
    demo_app: Path | None = None
    import_url_prefixes: str = ""
    import_max_bytes: int = 4 * 1024 * 1024 * 1024
    hl7_outbound: bool = False
    """Queue lab orders (ServiceRequest for an Organization with an MLLP Endpoint) and send them."""
    hl7_connect_timeout: float = 10.0
    hl7_ack_timeout: float = 30.0
    hl7_retry_seconds: float = 5.0
    hl7_retry_max_seconds: float = 300.0
    hl7_idle_seconds: float = 60.0
    """Seconds a connection to a lab may stay unused before it is closed."""
    hl7_tls_cafile: Path | None = None
    """CA certificates trusted for `mllps://` labs; the system's when unset."""
    hl7_sending_facility: str = ""
    """MSH-4 of order messages, unless the lab's Endpoint sets `MSH-4: ...`."""
    hl7_placer_length: int = 15
    """Longest placer order number (ORC-2/OBR-2) the server makes up for an order without one."""
    auth: str = "smart"
    """`smart`: every FHIR request needs a bearer token; `open`: no authorization (development only)."""
    roles_file: Path | None = None
    """A JSON file of roles (name → scope ceiling) replacing or adding to the default roles."""
    mllp_port: int | None = None
    """HL7 v2 over MLLP: `serve` starts the listener in-process when set; `mllp` listens here (default 2575)."""
    mllp_host: str | None = None
    """Address of the MLLP listener; the HTTP `host` when not set."""
    mllp_tls_cert: Path | None = None
    mllp_tls_key: Path | None = None
    mllp_idle_timeout: float = 300.0
    mllp_max_connections: int = 100
    mllp_processing_ids: str = "P"
    """Processing ids (MSH-11: P production, T training/test, D debugging) the listener accepts, comma-separated;
    others are refused (AR 202), so test messages never land in clinical records."""
    mllp_senders_file: Path | None = None
    """JSON rules per sender (MSH-4 or MSH-3): time zone of times without an offset, invalid values refused or
    skipped (`adapters/hl7v2/senders.py`)."""
    hl7_authorities_file: Path | None = None
    """JSON table: assigning authority (namespace ID or OID) → identifier system URI."""
    dynamic_registration: bool = False
    access_token_seconds: int = 3600
    backend_token_seconds: int = 300
    """Access tokens of backend services (client_credentials); at most 300 (SMART Backend Services)."""
    offline_refresh_seconds: int = 90 * 24 * 3600
    online_refresh_seconds: int = 12 * 3600
    login_max_failures: int = 5
    login_lock_seconds: int = 900
    session_seconds: int = 8 * 3600
    database_down_seconds: float = 30.0
    """Seconds without an answer from the database before `/healthz` says 503 (a liveness probe restarts the server)."""
    data_lock_grace_seconds: float = 30.0
    """How long a start waits for the data directory while the database of a server that died still shuts down."""
    slot_horizon_days: int = 90
    """How far ahead the generate-slots duty keeps each Schedule's Slots."""
    hold_minutes: int = 10
    """How long an `Appointment/$hold` keeps its time before it lapses."""
    smtp_host: str = ""
    """Outbound email (fhir_server/messaging): the SMTP relay; no email is sent while unset (it stays queued)."""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_starttls: bool = True
    """Upgrade the SMTP connection with STARTTLS (and refuse to send over a relay that does not offer it)."""
    smtp_cafile: Path | None = None
    """CA certificates trusted for the SMTP relay; the system's when unset."""
    sms_gateway_url: str = ""
    """Outbound SMS: an HTTP gateway taking `POST {"to", "text", "key"}` (README); no SMS is sent while unset."""
    sms_gateway_token: str = ""
    message_retry_seconds: float = 5.0
    """First backoff after a failed attempt to send a message; doubled after each, up to the maximum."""
    message_retry_max_seconds: float = 600.0
    message_max_attempts: int = 30
    """Attempts to send one message before it is given up (`failed`)."""
    reminder_rules_file: Path | None = None
    """JSON reminder rules (fhir_server/reminders/config.py); 48 h and 2 h before, by email, when unset."""
    reminder_templates_dir: Path | None = None
    """A folder of reminder templates (`<language>/<name>.txt`) overriding the shipped ones."""
    reminder_time_zone: str = "UTC"
    """The time zone of reminders for a patient (and location) without the `timezone` extension."""
    reminder_language: str = "en"
    """The language of reminders for a patient without a preferred `communication` language we have templates for."""
    reminder_phone: str = ""
    """The practice's phone number, told in reminders ("how to cancel") when the Location has none."""
    prescriber_roles: str = "physician"
    """Comma-separated roles whose users may sign prescriptions (`MedicationRequest/[id]/$sign`)."""
    prescribing_knowledge_file: Path | None = None
    """A JSON file extending the shipped prescribing knowledge base (same format; validated at start)."""
    prescribing_poll_seconds: float = 5.0
    """Seconds between rounds of pharmacy transmission: new signed prescriptions sent, pharmacies' Tasks looked at."""
    prescribing_retry_seconds: float = 5.0
    prescribing_retry_max_seconds: float = 300.0
    stock_expiry_days: int = 60
    """The dispensary's daily report lists lots on hand expiring within this many days."""
    stock_alert_email: str = ""
    """Where the dispensary's alerts are emailed (none when empty)."""
    x12_sender_id: str = "FHIRSERVER"
    """X12 ISA06/GS02 and 1000A submitter id: the id the clearinghouse gave the practice."""
    x12_receiver_id: str = "CLEARINGHOUSE"
    """X12 ISA08/GS03 and 1000B receiver id: the clearinghouse's id."""
    x12_usage: str = "P"
    """X12 ISA15: P production, T test files."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read `FHIR_<FIELD>` variables, then apply the non-None `overrides` (from flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(f"FHIR_{field.name.upper()}")
            if raw is None or raw == "":
                continue
            values[field.name] = _convert(field.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` rebuild these settings in a worker process."""
        env: dict[str, str] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                env[f"FHIR_{field.name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
        return env

    def with_mongodb_uri(self, uri: str) -> Settings:
        return replace(self, mongodb_uri=uri)


def _convert(type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    if kind in ("int", "int | None"):
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind in ("Path", "Path | None"):
        return Path(raw)
    return raw
