"""Outbound lab orders over MLLP: a ServiceRequest for a lab becomes an OML^O21 or ORM^O01 message.

Configure a lab as FHIR resources (see `lab`):

    Organization: {"resourceType": "Organization", "name": "City Lab", "endpoint": [{"reference": "Endpoint/city-lab"}]}
    Endpoint: {"resourceType": "Endpoint", "id": "city-lab", "status": "active",
               "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                                  "code": "hl7v2-mllp"},
               "payloadType": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0354",
                                            "code": "OML_O21"}]}],
               "payloadMimeType": ["x-application/hl7-v2+er7"],
               "address": "mllps://lab.example.org:2575",
               "header": ["MSH-5: CITYLAB", "MSH-6: CITYLABFAC", "MSH-12: 2.5.1"]}

An `active` ServiceRequest whose `performer` references that Organization is queued in the
outbox (`outbox`, collection `hl7_outbox`, also the log of every message sent) by a write
observer (`observer`), in the transaction of the ServiceRequest write; later versions queue a
change (ORC-1 XO), hold (HD), release (RL) or cancel (CA) when the lab must know (`sequence`).
The sender (`sender`) delivers the entries in order per ServiceRequest, with leases, retries and
acknowledgements; `message` builds the text, `client` keeps one MLLP connection per lab.

Enable with `FHIR_HL7_OUTBOUND=true` (`fhir-server serve`) or `fhir-server mllp --send-orders`;
`start_sending` registers the observer for as long as it runs. Every process that writes
ServiceRequests for labs must run it (any number may: leases keep each message sent once).
"""

from fhir_server.storage.hl7_outbox import OutboxEntry, OutboxStore

from .client import LinkSettings
from .lab import Lab, LabConfigError
from .observer import order_queue
from .sender import Sender, SenderSettings, sender_settings, start_sending

__all__ = [
    "Lab",
    "LabConfigError",
    "LinkSettings",
    "OutboxEntry",
    "OutboxStore",
    "Sender",
    "SenderSettings",
    "order_queue",
    "start_sending",
    "sender_settings",
]
