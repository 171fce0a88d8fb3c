"""The code systems, identifiers and extensions the billing workflow reads and writes (one place)."""

from __future__ import annotations

FEE_SCHEDULE = "urn:fhir-server:fee-schedule:"
"""A fee schedule entry's ChargeItemDefinition.url is this followed by its billing code (`...:99213`)."""

PRICE_LEVEL = "urn:fhir-server:price-level"
"""priceComponent.code system: `standard`, `self-pay`, or a payer's `Organization/{id}`."""

STANDARD, SELF_PAY = "standard", "self-pay"

CHARGE_SOURCE = "urn:fhir-server:charge-source"
"""ChargeItem.identifier system whose value is the reference of what was charged (`Procedure/1`)."""

MODIFIER = "urn:fhir-server:charge-modifier"
"""ChargeItem extension (valueCoding, repeated, in order): a CPT/HCPCS modifier such as 25."""

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "urn:oid:2.16.840.1.113883.6.285"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"
TAX_ID = "urn:oid:2.16.840.1.113883.4.4"
"""US Employer Identification Number (EIN), the billing provider's tax id."""
TAXONOMY = "http://nucc.org/provider-taxonomy"
PAYER_ID = "urn:fhir-server:payer-id"
"""Organization.identifier system of a payer's clearinghouse payer id (2010BB NM109)."""
PLACE_OF_SERVICE = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
