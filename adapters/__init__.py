"""Edges that speak something other than FHIR REST and reach the data only through the engine."""
