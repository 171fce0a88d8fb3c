"""Patient accounts: the ledger rules, balances, A/R aging and statements."""
