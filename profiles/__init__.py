"""FHIR R4 structural validation against the core StructureDefinitions (vendored compact model)."""

from profiles.model import model as _model
from profiles.validator import is_known_type, validate_resource

RESOURCE_TYPES: tuple[str, ...] = _model().resource_types

__all__ = ["RESOURCE_TYPES", "is_known_type", "validate_resource"]
