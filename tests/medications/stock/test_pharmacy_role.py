"""The pharmacy role reaches the dispensary's resources and no more."""

from __future__ import annotations

from fhir_server.auth.policy import AccessPolicy, resource_scopes
from fhir_server.auth.roles import DEFAULT_ROLES


def test_pharmacy_role_scopes() -> None:
    policy = AccessPolicy("token", scopes=resource_scopes(tuple(DEFAULT_ROLES["pharmacy"])))
    for written in ("Medication", "MedicationDispense", "MedicationAdministration", "SupplyDelivery", "SupplyRequest",
                    "Flag", "Task"):  # fmt: skip
        assert policy.allows("c", written) and policy.allows("u", written) and policy.allows("s", written)
    for read in ("MedicationRequest", "Location", "Patient"):
        assert policy.allows("r", read) and not policy.allows("u", read)
    assert not policy.allows("r", "Observation") and not policy.allows("c", "Claim")
