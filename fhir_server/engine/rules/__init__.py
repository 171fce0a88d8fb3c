"""Declared write rules (see registry.py) and the rules the server ships with."""

from ...billing.accounts import rules as billing_account_rules
from ...billing.payments import rules as billing_payment_rules
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
    "billing_account_rules",
    "billing_payment_rules",
    "load_rule_modules",
    "rules_for",
    "run_write_rules",
    "search_parameter",
    "write_rule",
]
