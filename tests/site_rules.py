"""A practice's own write rules, as `FHIR_RULE_MODULES=tests.site_rules` loads them into a server.

They prove what the SearchParameter rule cannot: that HL7 v2 messages and deletions run the rules too,
and that a rule's lock makes its check race-free and its documents commit with the write.
"""

from __future__ import annotations

from fhir_server.engine.rules import WriteContext, write_rule
from fhir_server.errors import Unprocessable, VersionConflict

REFUSED_FAMILY = "Refusedbyrule"
KEPT_TAG = "urn:test:kept"
UNIQUE_SYSTEM = "urn:test:unique"
LOG = "site_rule_log"


@write_rule("test-refused-family", ["Patient"], ["create", "update", "patch"])
async def refused_family(context: WriteContext) -> None:
    for name in (context.new or {}).get("name", []):
        if name.get("family") == REFUSED_FAMILY:
            raise Unprocessable(f"The family name {REFUSED_FAMILY} is refused by a site rule.")


@write_rule("test-kept", ["Patient"], ["delete"])
async def kept(context: WriteContext) -> None:
    assert context.current is not None
    if any(tag.get("system") == KEPT_TAG for tag in context.current.resource().get("meta", {}).get("tag", [])):
        raise VersionConflict(f"{context.current.reference} is kept by a site rule.")


@write_rule("test-unique-identifier", ["Patient"], ["create", "update", "patch"])
async def unique_identifier(context: WriteContext) -> None:
    """At most one Patient per identifier of UNIQUE_SYSTEM: the shape of a double-booking rule."""
    for identifier in (context.new or {}).get("identifier", []):
        if identifier.get("system") != UNIQUE_SYSTEM:
            continue
        token = f"{UNIQUE_SYSTEM}|{identifier['value']}"
        await context.lock(token)  # before the search it guards
        found = await context.find("Patient", [("identifier", token)], 2)
        if any(record.id != context.resource_id for record in found):
            raise VersionConflict(f"Another Patient has the identifier {token}.")
        context.add_document(LOG, {"_id": f"{context.resource_id}/{context.write.record.version_id}", "token": token})
