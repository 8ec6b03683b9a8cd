"""Unit tests of callback rules, report review and hotspot clustering."""
from datetime import datetime, timedelta, timezone

import pytest

from feedback import domain
from township_shared.errors import Conflict, ValidationFailed

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
UNIT = {"kind": "unit", "id": "water_station"}


def callback():
    return domain.new_callback("c1", "c1.1", "qingshui", UNIT, "dongpo", "drinking_water", "已修复", T0)


def types(events):
    return [schema.event_type for schema, _ in events]


def answer(resolved=True, satisfaction="satisfied", **over):
    return {"resolved": resolved, "satisfaction": satisfaction, "comment": None, **over}


def test_satisfied_resolution_closes_resolved():
    cb = callback()
    events = domain.record_answer(cb, T0, answer(), "phone", "office")
    assert types(events) == ["callback_recorded", "callback_concluded"]
    assert events[1][1]["outcome"] == "resolved" and cb["status"] == "closed" and "token" not in cb


@pytest.mark.parametrize("level", ["very_satisfied", "satisfied", "basically_satisfied"])
def test_every_satisfied_level_counts(level):
    assert domain.satisfied_resolution(answer(satisfaction=level))


def test_unit_side_dissatisfaction_is_a_redo():
    cb = callback()
    events = domain.record_answer(cb, T0, answer(False, "dissatisfied", reason_class="unit", note="没修好"),
                                  "phone", "office")
    assert types(events) == ["callback_recorded", "callback_concluded"]
    assert events[1][1]["unit"] == UNIT and events[1][1]["stage"] == "handling" and cb["outcome"] == "redo"
    assert events[1][1]["outcome"] == "redo"


def test_outside_reason_closes_unresolved_with_the_reason():
    cb = callback()
    events = domain.record_answer(cb, T0, answer(False, "very_dissatisfied", reason_class="policy",
                                                 note="政策不支持"), "phone", "office")
    assert events[1][1]["outcome"] == "unresolved" and "policy" in events[1][1]["reason"]


def test_office_must_give_the_reason_class_when_not_satisfied():
    with pytest.raises(ValidationFailed) as err:
        domain.record_answer(callback(), T0, answer(False, "dissatisfied"), "phone", "office")
    assert "reason_class" in err.value.body["fields"]


def test_link_answer_waits_for_the_office_then_is_classified_once():
    cb = callback()
    events = domain.record_answer(cb, T0, answer(False, "dissatisfied"), "link", "resident")
    assert types(events) == ["callback_recorded"] and cb["status"] == "needs_review"
    assert events[0][1]["outcome"] == "needs_review"
    concluded = domain.classify(cb, T0, "unit", "返工", "dispatch", "office")
    assert types(concluded) == ["callback_concluded"] and concluded[0][1]["stage"] == "dispatch"
    with pytest.raises(Conflict):
        domain.classify(cb, T0, "unit", "again", "handling", "office")


def test_unreached_after_the_last_attempt_only():
    cb = callback()
    assert types(domain.record_attempt(cb, T0, "office", "无人接听", 3)) == ["callback_recorded"]
    domain.record_attempt(cb, T0, "office", None, 3)
    events = domain.record_attempt(cb, T0, "office", None, 3)
    assert types(events) == ["callback_recorded", "callback_concluded"] and events[0][1]["final"] is True
    assert events[1][1]["outcome"] == "unreached"
    with pytest.raises(Conflict):
        domain.record_answer(cb, T0, answer(), "phone", "office")


def report(kind="milestone"):
    return {"_id": "r1", "project": "p1", "organisation": {"kind": "social_org", "id": "so_sun"}, "kind": kind,
            "milestone": "advance" if kind == "milestone" else "completion", "status": "submitted",
            "people_served": 40, "hours": 120.0}


@pytest.mark.parametrize("kind, expected", [("milestone", "milestone_verified"), ("completion", "project_completed")])
def test_verified_reports_drive_payments(kind, expected):
    r = report(kind)
    assert types(domain.review_report(r, T0, True, "核实无误", "supervision:dongpo")) == [expected]
    with pytest.raises(Conflict):
        domain.review_report(r, T0, False, "again", "office")


def test_rejected_report_keeps_the_reason():
    r = report()
    events = domain.review_report(r, T0, False, "照片不清楚", "office")
    assert types(events) == ["report_rejected"] and r["review"]["reason"] == "照片不清楚"


def demands(*hours):
    return [{"case_id": f"c{i}", "at": T0 + timedelta(hours=h)} for i, h in enumerate(hours)]


def test_hotspot_needs_the_minimum_inside_the_window_and_is_raised_once():
    window = timedelta(hours=24)
    assert domain.hotspot_after(demands(0, 1, 2, 3), None, T0 + timedelta(hours=3), 5, window) is None
    assert domain.hotspot_after(demands(-30, 1, 2, 3, 4), None, T0 + timedelta(hours=4), 5, window) is None
    cluster = domain.hotspot_after(demands(0, 1, 2, 3, 4), None, T0 + timedelta(hours=4), 5, window)
    assert [d["case_id"] for d in cluster] == ["c0", "c1", "c2", "c3", "c4"]
    active = T0 + timedelta(hours=28)
    assert domain.hotspot_after(demands(0, 1, 2, 3, 4, 5), active, T0 + timedelta(hours=5), 5, window) is None


def test_feedback_never_announces_a_case_fact():
    """One authority per fact: the case's closing and reopening are dispatch's to announce."""
    cb = callback()
    events = domain.record_answer(cb, T0, answer(False, "dissatisfied", reason_class="unit", note="x"), "phone",
                                  "office")
    assert all(schema.publisher == "feedback" for schema, _ in events)
