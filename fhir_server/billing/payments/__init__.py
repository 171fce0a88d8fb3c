"""Money in: X12 835 remittance import and patient payments."""
