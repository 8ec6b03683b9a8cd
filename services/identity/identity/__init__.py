"""The identity service: API tokens and the principals they resolve to, the audit trail of every event, and the
townships of each county (decision 38)."""
