"""Prescribing: MedicationRequest write rules, `$sign` with safety checks and a signature, `$print`, the
CDS Hooks service and transmission to pharmacies. See README "Prescribing"."""
