"""The dispensary: lot-tracked stock, its ledger, dispensing, alerts and recalls (see model.py)."""
