"""The funds service: budget pools, service projects, allocations, milestone payments and village collective
dividends on an append-only double-entry ledger in integer fen (decision 65)."""
