"""Local terminology: expansions of the value sets the validator must enforce."""

from terminology.required_bindings import allowed_codes

__all__ = ["allowed_codes"]
