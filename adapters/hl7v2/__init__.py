"""HL7 v2 over MLLP: receive messages, store them, map them to FHIR through the engine, acknowledge.

Modules: `framing` (MLLP blocks), `header` (character sets, batches, MSH), `ack` (ACK/ERR),
`pipeline` (per message; its store and leases are `fhir_server/storage/hl7_messages.py`, `leases.py`),
`listener` (asyncio server), `recovery` (messages a dead process had accepted),
`code_maps` (local codes → LOINC through stored ConceptMaps), `provenance` (one per message),
`admin` (the message log over HTTP), `cli` (`fhir-server mllp [reprocess]`). The mapping to
FHIR is `mapping.map_message`, injected. Orders out to labs (sender, OML^O21/ORM^O01,
lab configuration) are in `outbound`; the outbox is `fhir_server/storage/hl7_outbox.py`.
"""

from .listener import ListenerSettings, start_listener
from .pipeline import Pipeline

__all__ = ["ListenerSettings", "Pipeline", "start_listener"]
