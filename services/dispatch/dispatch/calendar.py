"""Working-day arithmetic for handling deadlines.

Handling limits in the 12345 practice are counted in working days (工作日), not calendar days: weekends and public
holidays do not count, and the weekend days the State Council turns into working days (调休) do. Three sources say
which days those are (decision 29):

- ``data/calendar.yaml``: the State Council's notice of each year it lists (days off and 调休 working days), and
  each township's local days off. It has the last word for the years it lists;
- for any other year, the ``holidays`` package (:class:`StatutoryDays`): its copy of the notice where it has one,
  else the statutory days of the law (元旦, 春节 from 除夕, 清明, 劳动节, 端午, 中秋, 国庆, by the lunar calendar
  where they follow it), a statutory day on a weekend moved to the next working day, and no 调休 working days. That
  last case is logged once per year and process at WARNING: add the notice to the YAML when it is published;
- outside the package's years (before 1950, after 2100): Monday to Friday, also logged once.

Days are judged in the township's local time zone, because "Friday" and "a public holiday" are local dates; results
are returned in UTC, which is how the services store and compare instants.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from importlib import resources
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml

log = logging.getLogger(__name__)

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


class StatutoryDays:
    """China's days off and 调休 working days of any year, from the ``holidays`` package (``holidays.China``).

    :meth:`year` gives ``(weekday days off, weekend working days)``; a year is computed once per instance. For a
    year whose State Council notice the package does not have, the days off are the statutory ones (with a weekend
    statutory day moved to the next working day) and there are no weekend working days: a warning says so, once per
    year and instance. Outside the package's years there are no holidays at all, also with a warning."""

    def __init__(self) -> None:
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}

    @staticmethod
    def covers(year: int) -> bool:
        return holidays.China.start_year <= year <= holidays.China.end_year

    @staticmethod
    def has_notice(year: int) -> bool:
        """Whether the package carries the State Council's notice for ``year`` (its long breaks and 调休)."""
        from holidays.countries.china import ChinaStaticHolidays

        return year in getattr(ChinaStaticHolidays, "special_public_holidays", {})

    def year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        if not self.covers(year):
            log.warning("no holiday data for %s (the holidays package covers %s-%s): Monday to Friday are working "
                        "days", year, holidays.China.start_year, holidays.China.end_year)
            days: tuple[frozenset[date], frozenset[date]] = (frozenset(), frozenset())
        else:
            known = holidays.China(years=[year, year + 1] if year < holidays.China.end_year else [year])
            days = (frozenset(d for d in known if d.year == year and not _is_weekend(d)),
                    frozenset(d for d in known.weekend_workdays if d.year == year))
            if not self.has_notice(year):
                log.warning("no State Council notice for %s in calendar.yaml or the holidays package: statutory "
                            "holidays only, no adjusted working days (调休); add the notice to dispatch's "
                            "calendar.yaml", year)
        self._years[year] = days
        return days

    def is_working_day(self, d: date) -> bool:
        days_off, workdays = self.year(d.year)
        return d in workdays if _is_weekend(d) else d not in days_off


@dataclass(frozen=True)
class WorkCalendar:
    """A working-day calendar in one time zone.

    ``holidays`` are days off that would otherwise be working days; ``extra_workdays`` are weekend days made
    working days (调休). A day in both is a contradiction in the data and is refused. Both speak for the years they
    contain a day of (:attr:`notice_years`); ``statutory``, when given, speaks for every other year. ``local`` are
    days off of one township only (:meth:`for_township` picks them from ``local_by_township``).
    """

    timezone: str
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    statutory: StatutoryDays | None = field(default=None, compare=False, repr=False)
    local: frozenset[date] = frozenset()
    local_by_township: Mapping[str, frozenset[date]] = field(default_factory=dict, compare=False, repr=False)

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

    @cached_property
    def notice_years(self) -> frozenset[int]:
        """The years the data's own holidays and working days speak for."""
        return frozenset(d.year for d in self.holidays | self.extra_workdays)

    def for_township(self, township_id: str) -> "WorkCalendar":
        """This calendar with ``township_id``'s local days off (itself when the township has none)."""
        local = self.local_by_township.get(township_id)
        if not local:
            return self
        return WorkCalendar(self.timezone, self.holidays, self.extra_workdays, self.statutory, self.local | local,
                            self.local_by_township)

    @classmethod
    def from_data(cls, data: dict, statutory: StatutoryDays | None = None) -> "WorkCalendar":
        """Build from ``{"timezone": ..., "holidays": [...], "workdays": [...], "local": {township: [...]}}``.

        Entries are dates, ISO date strings or inclusive ranges ``"YYYY-MM-DD..YYYY-MM-DD"``. Holiday ranges may
        span weekends, as the State Council's notice writes them; the weekend days in them are dropped since
        they are days off anyway. A weekday listed under ``workdays`` is refused: it is a working day already, so
        it is almost certainly a typo for the weekend day meant. So is a day listed under both. ``statutory``
        speaks for the years the data does not (see the module's docstring).
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
        local = data.get("local") or {}
        if not isinstance(local, dict):
            raise ValueError("local days must be a mapping of township id to days")
        return cls(timezone=data.get("timezone") or "Asia/Shanghai",
                   holidays=frozenset(d for d in days_off if not _is_weekend(d)), extra_workdays=frozenset(workdays),
                   statutory=statutory,
                   local_by_township={str(tid): frozenset(_expand(days)) for tid, days in local.items()})

    @classmethod
    def default(cls) -> "WorkCalendar":
        """The calendar shipped with the package (``dispatch/data/calendar.yaml``), the ``holidays`` package for
        the years it does not list."""
        text = resources.files("dispatch").joinpath("data/calendar.yaml").read_text(encoding="utf-8")
        return cls.from_data(yaml.safe_load(text), StatutoryDays())

    def is_working_day(self, d: date) -> bool:
        """Monday to Friday unless a holiday; Saturday and Sunday only when made a working day (调休); never a
        local day off. The data decides for its years, ``statutory`` for the others (plain weeks without it)."""
        if d in self.local:
            return False
        if self.statutory is not None and d.year not in self.notice_years:
            return self.statutory.is_working_day(d)
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
