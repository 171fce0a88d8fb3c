"""Declared write rules (see registry.py) and the rules the server ships with."""

from ...billing.accounts import rules as billing_account_rules
from ...billing.payments import rules as billing_payment_rules
from ...medications.stock import rules as stock_rules
from ...reports import rules as report_rules
from ...scheduling import rules as scheduling_rules
from ...views import rules as views_rules
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
    "report_rules",
    "scheduling_rules",
    "search_parameter",
    "views_rules",
    "stock_rules",
    "write_rule",
]

from ...billing.charges import fee_rules, rules  # noqa: E402, F401  (declares the billing rules)
from ...billing.claims import rules as claim_rules  # noqa: E402, F401
from ...medications.prescribing import rules as prescribing_rules  # noqa: E402,F401  (registers on import)
from ...reminders import rules as reminder_rules  # noqa: E402, F401 - registers the Appointment reminders rule
