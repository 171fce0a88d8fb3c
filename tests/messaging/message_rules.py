"""A site rule queueing messages in a write's transaction, as `FHIR_RULE_MODULES` loads it into the test server:
a Patient tagged NOTIFY gets an email (with an attachment) and an SMS keyed by its first identifier."""

from __future__ import annotations

from fhir_server.engine.rules import WriteContext, write_rule
from fhir_server.messaging import Attachment, queue_message

NOTIFY = "urn:test:notify"


@write_rule("test-notify", ["Patient"], ["create", "update", "patch"])
async def notify(context: WriteContext) -> None:
    patient = context.new or {}
    if not any(tag.get("system") == NOTIFY for tag in patient.get("meta", {}).get("tag", [])):
        return
    key = patient["identifier"][0]["value"]
    for telecom in patient.get("telecom", []):
        if telecom["system"] == "email":
            note = Attachment("note.txt", "text/plain", b"hello")
            await queue_message(context, key=f"{key}/email", channel="email", to=telecom["value"], subject=key,
                                text=f"Welcome {key}", attachments=[note])  # fmt: skip
        if telecom["system"] == "sms":
            await queue_message(context, key=f"{key}/sms", channel="sms", to=telecom["value"], text=f"Welcome {key}")
