"""Reports: SQL on FHIR ViewDefinitions materialized as Parquet, queried with DuckDB (README "Reports").

A report is one or more ViewDefinitions (each a table of the query), one read-only SQL SELECT over
them, and metadata (titles, the roles that may run it, parameters, a chart). Shipped reports are
data files in `shipped/`; administrators add more as Library resources (library.py).
"""
