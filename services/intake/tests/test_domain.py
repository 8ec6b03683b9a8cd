"""Unit tests of intake's rules: references, urgency, duplicates, masking, case numbers."""
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake import domain
from township_shared.privacy import mask_phone
from township_shared.schemas.common import OPEN_STATUSES

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
REF = domain.ReferenceData("qingshui", "QS", "Asia/Shanghai", frozenset({"dongpo", "xihe"}),
                           {"drinking_water": "utilities", "roads_bridges": "general"})


def submission(**over):
    base = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "停水", "description": "停水三天",
            "location": {"lat": 29.2101, "long": 119.4702}}
    base.update(over)
    return base


def case(**over):
    base = {"_id": "c1", "village": "dongpo", "category": "drinking_water", "status": "received",
            "duplicate_of": None, "received_at": NOW - timedelta(hours=1),
            "reporter": {"phone": "13900000000"}, "location": None}
    base.update(over)
    return base


def test_unknown_codes_are_named_per_field():
    errors = domain.check_references(
        submission(village="nowhere", category="unicorns", reporter={"name": "a", "phone": "1", "village": "x"}),
        REF)
    assert set(errors) == {"village", "category", "reporter.village"}
    assert domain.check_references(submission(), REF) == {}


def test_absent_category_is_allowed_and_urgency_defaults_to_general():
    assert domain.check_references(submission(category=None), REF) == {}
    assert domain.resolve_urgency(submission(category=None), REF) == "general"


def test_urgency_defaults_from_category_unless_given():
    assert domain.resolve_urgency(submission(), REF) == "utilities"
    assert domain.resolve_urgency(submission(urgency="emergency"), REF) == "emergency"


def test_same_phone_within_window_is_duplicate():
    existing = case(reporter={"phone": "+86 138-1234-5678"})
    assert domain.is_duplicate(submission(location=None), existing, NOW, OPEN_STATUSES)


def test_within_200_m_is_duplicate_and_beyond_is_not():
    near = case(location={"lat": 29.2101 + 0.0017, "long": 119.4702})  # about 189 m north
    far = case(location={"lat": 29.2101 + 0.0019, "long": 119.4702})  # about 211 m north
    assert domain.is_duplicate(submission(), near, NOW, OPEN_STATUSES)
    assert not domain.is_duplicate(submission(), far, NOW, OPEN_STATUSES)


@pytest.mark.parametrize("over", [
    {"status": "closed"},
    {"status": "duplicate"},
    {"duplicate_of": "c0"},
    {"category": "roads_bridges"},
    {"village": "xihe"},
    {"received_at": NOW - timedelta(hours=72, seconds=1)},
])
def test_not_a_duplicate(over):
    existing = case(reporter={"phone": "13812345678"}, **over)
    assert not domain.is_duplicate(submission(), existing, NOW, OPEN_STATUSES)


def test_no_category_is_never_a_duplicate_at_intake():
    existing = case(reporter={"phone": "13812345678"})
    assert not domain.is_duplicate(submission(category=None), existing, NOW, OPEN_STATUSES)


def test_find_duplicate_links_to_the_earliest_match():
    a = case(_id="a", reporter={"phone": "13812345678"}, received_at=NOW - timedelta(hours=5))
    b = case(_id="b", reporter={"phone": "13812345678"}, received_at=NOW - timedelta(hours=2))
    assert domain.find_duplicate(submission(), [b, a], NOW, OPEN_STATUSES)["_id"] == "a"
    assert domain.find_duplicate(submission(), [], NOW, OPEN_STATUSES) is None


def test_phone_masking():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("12345") == "*****"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_masked_phone_never_shows_the_middle(phone):
    masked = mask_phone(phone)
    assert len(masked) == len(phone) and masked[3:7] == "****" and masked[-4:] == phone[-4:]


def test_case_number_reads_aloud():
    assert domain.case_number("QS", date(2026, 11, 29), 7) == "QS-20261129-0007"


def test_fingerprint_ignores_key_order_but_not_values():
    a = submission()
    b = dict(reversed(list(submission().items())))
    assert domain.fingerprint(a) == domain.fingerprint(b)
    assert domain.fingerprint(a) != domain.fingerprint(submission(title="另一个"))


@given(st.floats(-60, 60), st.floats(-170, 170), st.floats(-60, 60), st.floats(-170, 170))
def test_distance_is_symmetric_and_non_negative(lat1, long1, lat2, long2):
    a, b = {"lat": lat1, "long": long1}, {"lat": lat2, "long": long2}
    assert domain.distance_m(a, b) == pytest.approx(domain.distance_m(b, a), abs=1e-6)
    assert domain.distance_m(a, b) >= 0
