"""A FHIR R4 (4.0.1) server on MongoDB."""

__version__ = "0.1.0"
