"""Unit and property tests of the working-day calendar: the examples of the contract, public holidays and
adjusted working days (调休), time-zone handling, the shipped calendar data and the holidays package agreeing where
both speak, years no source has a notice for, and townships' local days."""
import logging
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.calendar import StatutoryDays, WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLAIN = WorkCalendar("Asia/Shanghai", frozenset(), frozenset())
DEFAULT = WorkCalendar.default()


def local(y, m, d, hh=0, mm=0, tz=SHANGHAI):
    return datetime(y, m, d, hh, mm, tzinfo=tz)


# 2026-11-23 .. 2026-12-06 has no public holiday: Mon 23, Wed 25, Fri 27, Sat 28, Sun 29, Mon 30, Tue 1, Wed 2.
@pytest.mark.parametrize("start, days, expected", [
    (local(2026, 11, 25, 10), 1, local(2026, 11, 26, 10)),    # Wednesday -> Thursday
    (local(2026, 11, 27, 10), 1, local(2026, 11, 30, 10)),    # Friday -> Monday
    (local(2026, 11, 28, 15), 1, local(2026, 12, 1, 0)),      # Saturday afternoon: clock starts Monday 00:00
    (local(2026, 11, 27, 10), 3, local(2026, 12, 2, 10)),     # Friday -> Wednesday
    (local(2026, 11, 29, 23, 59), 1, local(2026, 12, 1, 0)),  # Sunday night
    (local(2026, 11, 23, 0), 5, local(2026, 11, 30, 0)),      # a full week
    (local(2026, 11, 25, 10), 0, local(2026, 11, 25, 10)),    # zero days on a working day: start itself
    (local(2026, 11, 28, 15), 0, local(2026, 11, 30, 0)),     # zero days on a weekend: the normalised start
])
def test_contract_examples(start, days, expected):
    result = PLAIN.add_working_days(start, days)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


def test_result_is_in_utc_whatever_the_input_zone():
    start = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Shanghai
    result = PLAIN.add_working_days(start, 1)
    assert result.tzinfo == timezone.utc
    assert result == datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


def test_the_working_day_is_judged_by_local_date_not_utc_date():
    friday_utc_saturday_local = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)  # Saturday 02:00 in Shanghai
    assert PLAIN.add_working_days(friday_utc_saturday_local, 1) == local(2026, 12, 1, 0)
    sunday_utc_monday_local = datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc)  # Monday 01:00 in Shanghai
    assert PLAIN.add_working_days(sunday_utc_monday_local, 1) == local(2026, 12, 1, 1)


def test_shanghai_has_no_daylight_saving_so_local_time_is_always_utc_plus_8():
    for month in (1, 4, 7, 10):
        result = PLAIN.add_working_days(datetime(2026, month, 14, 1, 30, tzinfo=timezone.utc), 2)
        assert result.astimezone(SHANGHAI).utcoffset() == timedelta(hours=8)
        assert (result.hour, result.minute) == (1, 30)


def test_a_zone_with_daylight_saving_keeps_the_local_time_of_day():
    berlin = WorkCalendar("Europe/Berlin", frozenset(), frozenset())
    friday = datetime(2026, 10, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # CEST, UTC+2
    result = berlin.add_working_days(friday, 1)  # summer time ends on Sunday 25 October
    assert result.astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None) == datetime(2026, 10, 26, 10, 0)
    assert result == datetime(2026, 10, 26, 9, 0, tzinfo=timezone.utc)


def test_naive_datetimes_and_negative_days_are_refused():
    with pytest.raises(ValueError):
        PLAIN.add_working_days(datetime(2026, 11, 25, 10), 1)
    with pytest.raises(ValueError):
        PLAIN.add_working_days(local(2026, 11, 25, 10), -1)
    with pytest.raises(ValueError):
        PLAIN.working_days_between(datetime(2026, 11, 25, 10), local(2026, 11, 26, 10))


# ---- holidays and adjusted working days -------------------------------------------------------------------
@pytest.mark.parametrize("day, working", [
    (date(2026, 10, 1), False),   # National Day, a Thursday
    (date(2026, 10, 7), False),   # last day of the Golden Week, a Wednesday
    (date(2026, 10, 8), True),
    (date(2026, 10, 10), True),   # Saturday made a working day
    (date(2026, 10, 11), False),  # an ordinary Sunday
    (date(2026, 9, 20), True),    # Sunday made a working day
    (date(2026, 2, 17), False),   # Spring Festival
    (date(2026, 2, 14), True),    # Saturday made a working day
    (date(2026, 1, 1), False),    # New Year's Day
    (date(2026, 1, 4), True),     # Sunday made a working day
    (date(2026, 11, 25), True),   # an ordinary Wednesday
    (date(2026, 11, 28), False),  # an ordinary Saturday
])
def test_default_calendar_knows_2026_holidays_and_adjusted_days(day, working):
    assert DEFAULT.is_working_day(day) is working


def test_deadline_jumps_the_national_day_golden_week():
    assert DEFAULT.add_working_days(local(2026, 9, 30, 10), 1) == local(2026, 10, 8, 10)


def test_an_adjusted_saturday_counts_as_a_working_day():
    assert DEFAULT.add_working_days(local(2026, 10, 9, 10), 1) == local(2026, 10, 10, 10)
    assert DEFAULT.add_working_days(local(2026, 10, 9, 10), 2) == local(2026, 10, 12, 10)


def test_a_demand_received_on_an_adjusted_sunday_starts_at_once():
    assert DEFAULT.add_working_days(local(2026, 9, 20, 15), 1) == local(2026, 9, 21, 15)


def test_a_demand_received_during_spring_festival_waits_for_its_end():
    # 2026-02-15 .. 02-23 off; 02-24 (Tuesday) is the first working day after it.
    assert DEFAULT.add_working_days(local(2026, 2, 18, 9), 0) == local(2026, 2, 24, 0)
    assert DEFAULT.add_working_days(local(2026, 2, 18, 9), 1) == local(2026, 2, 25, 0)
    assert DEFAULT.add_working_days(local(2026, 2, 13, 10), 1) == local(2026, 2, 14, 10)
    assert DEFAULT.add_working_days(local(2026, 2, 13, 10), 2) == local(2026, 2, 24, 10)


def test_shipped_data_lists_2026_in_shanghai():
    assert DEFAULT.timezone == "Asia/Shanghai"
    assert 2026 in DEFAULT.notice_years
    assert all(d.weekday() < 5 for d in DEFAULT.holidays)
    assert all(d.weekday() >= 5 for d in DEFAULT.extra_workdays)


# ---- the YAML and the holidays package agree where both speak ------------------------------------------------
@lru_cache(maxsize=None)
def package_days(year):
    """The holidays package's weekday days off and weekend working days of ``year``, read directly."""
    known = holidays.China(years=[year, year + 1])
    return (frozenset(d for d in known if d.year == year and d.weekday() < 5),
            frozenset(d for d in known.weekend_workdays if d.year == year))


@pytest.mark.parametrize("year", sorted(DEFAULT.notice_years))
def test_the_yaml_keeps_every_statutory_day_off(year):
    law = {d for d in holidays.China(years=year, observed=False) if d.weekday() < 5}
    assert law, "the package knows the law for every year the YAML lists"
    assert law <= {d for d in DEFAULT.holidays if d.year == year}
    assert not any(DEFAULT.is_working_day(d) for d in law)


@pytest.mark.parametrize("year", sorted(y for y in DEFAULT.notice_years if StatutoryDays.has_notice(y)))
def test_the_yaml_and_the_package_agree_on_a_notice_both_have(year):
    days_off, workdays = package_days(year)
    assert {d for d in DEFAULT.holidays if d.year == year} == days_off
    assert {d for d in DEFAULT.extra_workdays if d.year == year} == workdays


def test_the_package_has_the_2026_notice_the_yaml_lists():
    assert StatutoryDays.has_notice(2026)  # else the agreement above checks nothing


@pytest.mark.parametrize("year", [2019, 2024, 2025])
def test_a_year_the_yaml_does_not_list_comes_from_the_packages_notice(year):
    assert year not in DEFAULT.notice_years and StatutoryDays.has_notice(year)
    days_off, workdays = package_days(year)
    assert workdays and days_off
    assert not any(DEFAULT.is_working_day(d) for d in days_off)
    assert all(DEFAULT.is_working_day(d) for d in workdays)


def test_2025_from_the_package_knows_the_national_day_week_and_its_adjusted_sunday():
    assert not DEFAULT.is_working_day(date(2025, 10, 8))   # Wednesday, the last day of the 2025 break
    assert DEFAULT.is_working_day(date(2025, 9, 28))       # Sunday made a working day
    assert DEFAULT.is_working_day(date(2025, 10, 11))      # Saturday made a working day
    assert DEFAULT.add_working_days(local(2025, 9, 30, 10), 1) == local(2025, 10, 9, 10)


def test_a_year_no_source_has_a_notice_for_keeps_the_statutory_days_and_warns_once(caplog):
    calendar = WorkCalendar.from_data({"timezone": "Asia/Shanghai"}, StatutoryDays())
    assert not StatutoryDays.has_notice(2031)
    with caplog.at_level(logging.WARNING, logger="dispatch.calendar"):
        assert not calendar.is_working_day(date(2031, 10, 1))   # National Day, a Wednesday
        assert not calendar.is_working_day(date(2031, 1, 1))    # New Year's Day, a Wednesday
        assert not calendar.is_working_day(date(2031, 1, 23))   # 春节: Chinese New Year 2031 is 23 January
        assert calendar.is_working_day(date(2031, 10, 9))       # an ordinary Thursday
        assert not calendar.is_working_day(date(2031, 10, 11))  # no adjusted Saturday without a notice
    warnings = [r for r in caplog.records if "2031" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_outside_the_packages_years_it_is_monday_to_friday_with_a_warning(caplog):
    calendar = WorkCalendar.from_data({}, StatutoryDays())
    with caplog.at_level(logging.WARNING, logger="dispatch.calendar"):
        assert calendar.is_working_day(date(2201, 1, 1))       # New Year's Day, a Thursday
        assert not calendar.is_working_day(date(2201, 1, 3))   # a Saturday
    assert len([r for r in caplog.records if "2201" in r.getMessage()]) == 1


@settings(max_examples=60, deadline=None)
@given(year=st.integers(2000, 2100))
def test_every_statutory_weekday_of_any_year_is_a_day_off(year):
    law = {d for d in holidays.China(years=year, observed=False) if d.weekday() < 5}
    assert date(year, 10, 1) in law or date(year, 10, 1).weekday() >= 5
    assert not any(DEFAULT.is_working_day(d) for d in law)


# ---- local days ---------------------------------------------------------------------------------------------
def test_a_townships_local_day_off_counts_for_that_township_only():
    cal = WorkCalendar.from_data({"holidays": ["2026-10-01..2026-10-07"], "workdays": ["2026-10-10"],
                                  "local": {"qingshui": ["2026-11-25", "2026-10-10"]}}, StatutoryDays())
    qingshui, baiyun = cal.for_township("qingshui"), cal.for_township("baiyun")
    assert baiyun is cal
    assert not qingshui.is_working_day(date(2026, 11, 25)) and baiyun.is_working_day(date(2026, 11, 25))
    assert not qingshui.is_working_day(date(2026, 10, 10)) and baiyun.is_working_day(date(2026, 10, 10))
    assert qingshui.add_working_days(local(2026, 11, 24, 10), 1) == local(2026, 11, 26, 10)
    assert baiyun.add_working_days(local(2026, 11, 24, 10), 1) == local(2026, 11, 25, 10)


def test_the_shipped_calendar_has_the_demo_townships():
    assert set(DEFAULT.local_by_township) >= {"qingshui", "baiyun"}


# ---- from_data --------------------------------------------------------------------------------------------
def test_from_data_reads_strings_dates_and_ranges():
    cal = WorkCalendar.from_data({"timezone": "Asia/Shanghai",
                                  "holidays": ["2026-10-01..2026-10-07", date(2026, 6, 19), "2026-01-01"],
                                  "workdays": ["2026-09-20", date(2026, 10, 10)]})
    assert cal.holidays == {date(2026, 1, 1), date(2026, 6, 19), date(2026, 10, 1), date(2026, 10, 2),
                            date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7)}  # weekend days dropped
    assert cal.extra_workdays == {date(2026, 9, 20), date(2026, 10, 10)}


def test_from_data_defaults_to_shanghai_and_no_special_days():
    cal = WorkCalendar.from_data({})
    assert cal == PLAIN


@pytest.mark.parametrize("data", [
    {"timezone": "Mars/Olympus"},
    {"holidays": ["2026-10-07..2026-10-01"]},
    {"holidays": ["2026-13-01"]},
    {"holidays": [20261001]},
    {"workdays": ["2026-10-08"]},  # a Thursday is a working day already
    {"holidays": ["2026-10-10"], "workdays": ["2026-10-10"]},
    {"local": ["2026-10-10"]},
    {"local": {"qingshui": ["2026-02-30"]}},
])
def test_from_data_refuses_bad_data(data):
    with pytest.raises(ValueError):
        WorkCalendar.from_data(data)


def test_a_day_cannot_be_both_holiday_and_working_day():
    with pytest.raises(ValueError):
        WorkCalendar("Asia/Shanghai", frozenset({date(2026, 10, 10)}), frozenset({date(2026, 10, 10)}))


# ---- working_days_between ---------------------------------------------------------------------------------
def test_working_days_between_counts_whole_days_elapsed():
    friday = local(2026, 11, 27, 10)
    assert PLAIN.working_days_between(friday, local(2026, 11, 30, 9, 59)) == 0.0
    assert PLAIN.working_days_between(friday, local(2026, 11, 30, 10)) == 1.0
    assert PLAIN.working_days_between(friday, local(2026, 12, 2, 12)) == 3.0
    assert PLAIN.working_days_between(friday, local(2026, 11, 20, 10)) == 0.0
    assert DEFAULT.working_days_between(local(2026, 9, 30, 10), local(2026, 10, 8, 10)) == 1.0


# ---- properties -------------------------------------------------------------------------------------------
ZONES = st.sampled_from([timezone.utc, SHANGHAI, timezone(timedelta(hours=-5)), timezone(timedelta(hours=14))])


@st.composite
def calendars(draw):
    """Random holidays on weekdays and random adjusted weekend days, or the shipped calendar."""
    if draw(st.booleans()):
        return DEFAULT
    days = draw(st.sets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=120))
    holidays = frozenset(d for d in days if d.weekday() < 5)
    workdays = frozenset(d for d in days if d.weekday() >= 5)
    return WorkCalendar("Asia/Shanghai", holidays, workdays)


def oracle_working(cal, d):
    """Independent of ``is_working_day``: straight from the definition (the package's days for the years the
    calendar's own data does not list)."""
    days_off, workdays = cal.holidays, cal.extra_workdays
    if cal.statutory is not None and d.year not in {x.year for x in cal.holidays | cal.extra_workdays}:
        days_off, workdays = package_days(d.year)
    return (d.weekday() < 5 and d not in days_off) or d in workdays


starts = st.datetimes(datetime(2025, 12, 1), datetime(2027, 12, 31), timezones=ZONES)


@settings(max_examples=300, deadline=None)
@given(cal=calendars(), start=starts, n=st.integers(0, 40), m=st.integers(0, 40))
def test_add_working_days_properties(cal, start, n, m):
    result = cal.add_working_days(start, n)
    assert result.utcoffset() == timedelta(0)

    lo, hi = sorted((n, m))
    assert cal.add_working_days(start, lo) <= cal.add_working_days(start, hi)
    if lo < hi:
        assert cal.add_working_days(start, lo) < cal.add_working_days(start, hi)

    local_start = start.astimezone(SHANGHAI)
    origin = cal.add_working_days(start, 0).astimezone(SHANGHAI)
    assert origin >= start
    assert oracle_working(cal, origin.date())
    if oracle_working(cal, local_start.date()):
        assert origin == start
    else:
        assert origin.time().isoformat() == "00:00:00"
        assert not any(oracle_working(cal, local_start.date() + timedelta(days=i))
                       for i in range((origin.date() - local_start.date()).days))

    end = result.astimezone(SHANGHAI)
    assert oracle_working(cal, end.date())
    assert end.time() == origin.time()
    between = [origin.date() + timedelta(days=i) for i in range(1, (end.date() - origin.date()).days + 1)]
    assert sum(oracle_working(cal, d) for d in between) == n
    assert cal.working_days_between(start, result) == float(n)
