"""Prices and charges: the fee schedule (ChargeItemDefinition), and ChargeItems captured by write rules
when billable things happen (rules.py is imported by engine/rules so the rules are declared)."""
