"""The access policy HL7 v2 work runs under: labs are configured, trusted peers, not token holders."""

from fhir_server.auth.policy import AccessPolicy

HL7_POLICY = AccessPolicy.system("hl7v2")
