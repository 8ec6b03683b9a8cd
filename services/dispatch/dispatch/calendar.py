"""Working-day arithmetic for handling deadlines.

Handling limits in the 12345 practice are counted in working days (工作日), not calendar days: weekends and public
holidays do not count, and the weekend days the State Council turns into working days (调休) do. Which days those
are changes every year, so they are data (``data/calendar.yaml``), not code.

Days are judged in the township's local time zone, because "Friday" and "a public holiday" are local dates; results
are returned in UTC, which is how the services store and compare instants.

Years missing from the data are treated as having no holidays and no adjusted working days: a deadline computed
for such a year is plain Monday-to-Friday arithmetic, never an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

RANGE_SEPARATOR = ".."
ONE_DAY = timedelta(days=1)


def _parse_day(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got a datetime: {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None
    raise ValueError(f"expected a date or an ISO date string, got {value!r}")


def _expand(values: Iterable[Any] | None) -> set[date]:
    """Dates from a list of dates, ISO strings and inclusive ranges written ``"2026-10-01..2026-10-07"``."""
    days: set[date] = set()
    for value in values or ():
        if isinstance(value, str) and RANGE_SEPARATOR in value:
            first_text, _, last_text = value.partition(RANGE_SEPARATOR)
            first, last = _parse_day(first_text), _parse_day(last_text)
            if last < first:
                raise ValueError(f"range ends before it starts: {value!r}")
            while first <= last:
                days.add(first)
                first += ONE_DAY
        else:
            days.add(_parse_day(value))
    return days


def _is_weekend(d: date) -> bool:
    return d.weekday() >= 5


@dataclass(frozen=True)
class WorkCalendar:
    """A working-day calendar in one time zone.

    ``holidays`` are days off that would otherwise be working days; ``extra_workdays`` are weekend days made
    working days (调休). A day in both is a contradiction in the data and is refused.
    """

    timezone: str
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone: {self.timezone!r}") from None
        both = self.holidays & self.extra_workdays
        if both:
            raise ValueError("days both holiday and working day: " + ", ".join(sorted(map(str, both))))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_data(cls, data: dict) -> "WorkCalendar":
        """Build from ``{"timezone": ..., "holidays": [...], "workdays": [...]}``.

        Entries are dates, ISO date strings or inclusive ranges ``"YYYY-MM-DD..YYYY-MM-DD"``. Holiday ranges may
        span weekends, as the State Council's notice writes them; the weekend days in them are dropped since
        they are days off anyway. A weekday listed under ``workdays`` is refused: it is a working day already, so
        it is almost certainly a typo for the weekend day meant. So is a day listed under both.
        """
        if not isinstance(data, dict):
            raise ValueError("calendar data must be a mapping")
        days_off = _expand(data.get("holidays"))
        workdays = _expand(data.get("workdays"))
        weekdays = sorted(str(d) for d in workdays if not _is_weekend(d))
        if weekdays:
            raise ValueError("adjusted working days must be Saturdays or Sundays: " + ", ".join(weekdays))
        both = sorted(str(d) for d in days_off & workdays)
        if both:
            raise ValueError("days both holiday and working day: " + ", ".join(both))
        return cls(timezone=data.get("timezone") or "Asia/Shanghai",
                   holidays=frozenset(d for d in days_off if not _is_weekend(d)), extra_workdays=frozenset(workdays))

    @classmethod
    def default(cls) -> "WorkCalendar":
        """The calendar shipped with the package (``dispatch/data/calendar.yaml``)."""
        text = resources.files("dispatch").joinpath("data/calendar.yaml").read_text(encoding="utf-8")
        return cls.from_data(yaml.safe_load(text))

    def is_working_day(self, d: date) -> bool:
        """Monday to Friday unless a holiday; Saturday and Sunday only when made a working day (调休)."""
        if _is_weekend(d):
            return d in self.extra_workdays
        return d not in self.holidays

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += ONE_DAY
        while not self.is_working_day(d):
            d += ONE_DAY
        return d

    def _local(self, instant: datetime) -> datetime:
        if not isinstance(instant, datetime):
            raise TypeError(f"expected a datetime, got {instant!r}")
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("naive datetime: pass a timezone-aware instant")
        return instant.astimezone(self.zone)

    def normalise(self, start: datetime) -> datetime:
        """When the clock starts (local time): ``start`` itself on a working day, else 00:00 of the next one.

        A demand received on a Saturday afternoon has used none of its time by Monday morning.
        """
        local = self._local(start)
        if self.is_working_day(local.date()):
            return local
        return datetime.combine(self.next_working_day(local.date()), time(0), tzinfo=self.zone)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The deadline ``days`` working days after ``start``, in UTC.

        The clock starts at :meth:`normalise` (start); the deadline is the same local time of day on the
        ``days``-th working day after that starting date, so Friday 10:00 + 1 is Monday 10:00 and Saturday
        15:00 + 1 is Tuesday 00:00. ``days == 0`` returns the normalised start. Naive datetimes and negative
        ``days`` raise ``ValueError``.
        """
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be an int, got {days!r}")
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        origin = self.normalise(start)
        d = origin.date()
        for _ in range(days):
            d = self.next_working_day(d)
        local = datetime.combine(d, origin.time(), tzinfo=self.zone)
        return local.astimezone(timezone.utc)

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Whole working days elapsed from ``start`` to ``end``: the largest ``n`` with
        ``add_working_days(start, n) <= end``, or 0.0 when ``end`` is not after the normalised start.

        The inverse of :meth:`add_working_days`, for reports such as "overdue by 2 working days".
        """
        origin = self.normalise(start)
        last = self._local(end)
        if last <= origin:
            return 0.0
        n, d = 0, origin.date()
        while d < last.date():
            d += ONE_DAY
            if self.is_working_day(d):
                n += 1
        if n and self.add_working_days(start, n) > end:
            n -= 1
        return float(n)
