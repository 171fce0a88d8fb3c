"""Declared write rules (see registry.py) and the rules the server ships with."""

from . import search_parameter
from .registry import (
    INTERACTIONS,
    Interaction,
    RefusedByRule,
    WriteContext,
    WriteRule,
    load_rule_modules,
    rules_for,
    run_write_rules,
    write_rule,
)

__all__ = [
    "INTERACTIONS",
    "Interaction",
    "RefusedByRule",
    "WriteContext",
    "WriteRule",
    "load_rule_modules",
    "rules_for",
    "run_write_rules",
    "search_parameter",
    "write_rule",
]

from ...billing.charges import fee_rules, rules  # noqa: E402, F401  (declares the billing rules)
from ...billing.claims import rules as claim_rules  # noqa: E402, F401
