"""The two R4 patch formats: JSON Patch (RFC 6902) and FHIRPath Patch (a Parameters resource)."""

from fhir_server.engine.patch.fhirpath_patch import apply_fhirpath_patch
from fhir_server.engine.patch.json_patch import apply_json_patch

__all__ = ["apply_fhirpath_patch", "apply_json_patch"]
