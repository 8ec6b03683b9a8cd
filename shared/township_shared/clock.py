"""An injectable clock, so deadlines, windows and case numbers can be tested by moving time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


def utcnow() -> datetime:
    """Now in UTC, truncated to milliseconds: the precision MongoDB stores, so a value reads back equal."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime | None = None):
        self.at = at or utcnow()

    def now(self) -> datetime:
        return self.at

    def advance(self, **kwargs) -> datetime:
        self.at = self.at + timedelta(**kwargs)
        return self.at
