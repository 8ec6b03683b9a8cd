"""Unit tests of the event envelope, the payload registry, error mapping and config interpolation."""
from datetime import datetime, timezone

import pytest

from township_shared.config import load_config
from township_shared.errors import Conflict, ValidationFailed, flatten_messages, from_remote
from township_shared.events import PAYLOAD_SCHEMAS, load_event, make_event
from township_shared.schemas.demands import DemandReceivedV1

PAYLOAD = {
    "case_id": "c1", "case_number": "QS-20261129-0001", "channel": "hotline",
    "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"}, "village": "dongpo",
    "location": None, "category": None, "title": "t", "description": "d", "urgency": "general",
    "attachments": [], "duplicate_of": None, "received_at": datetime(2026, 11, 29, tzinfo=timezone.utc),
}


def test_envelope_round_trip():
    env = make_event(DemandReceivedV1, PAYLOAD, source="intake", township_id="qingshui", correlation_id="c1")
    assert set(env) == {"id", "type", "version", "time", "source", "correlation_id", "township_id", "actor",
                        "payload"}
    assert env["actor"] == "service:intake"  # no request acts here: the service itself
    event = load_event(env, "demand_received")
    assert (event.type, event.version, event.correlation_id) == ("demand_received", 1, "c1")
    assert event.payload["received_at"] == PAYLOAD["received_at"]


def test_make_event_refuses_an_invalid_payload():
    with pytest.raises(ValueError):
        make_event(DemandReceivedV1, {**PAYLOAD, "urgency": "whenever"}, source="intake", township_id="q",
                   correlation_id="c1")


@pytest.mark.parametrize("mutate, field", [
    (lambda e: e.pop("id"), "id"),
    (lambda e: e.update(version="1"), "version"),
    (lambda e: e.update(version=99), "version"),
    (lambda e: e["payload"].pop("case_id"), "payload.case_id"),
    (lambda e: e["payload"].update(extra=1), "payload.extra"),
    (lambda e: e.update(type="demand_lost"), "type"),
])
def test_load_event_names_the_bad_field(mutate, field):
    env = make_event(DemandReceivedV1, PAYLOAD, source="intake", township_id="q", correlation_id="c1")
    mutate(env)
    with pytest.raises(ValidationFailed) as err:
        load_event(env, "demand_received")
    assert field in err.value.body["fields"]


TASK = {"case_id": "c1", "task_id": "c1.1", "assignee": {"kind": "unit", "id": "water_station"}, "role": "lead",
        "category": "drinking_water", "village": "dongpo"}
AT = "2026-11-29T01:00:00+00:00"
OUT_OF_RANGE = [  # (type, payload, the field named): numbers and values no publisher of the platform produces
    ("task_completed", {**TASK, "reply": "r", "attachments": [], "completed_at": AT, "on_time": True,
                        "handling_seconds": -3600}, "payload.handling_seconds"),
    ("task_completed", {**TASK, "reply": "r", "attachments": [], "completed_at": AT, "on_time": True,
                        "handling_seconds": 1e12}, "payload.handling_seconds"),
    ("task_returned", {**TASK, "reason": "r", "returns": 0}, "payload.returns"),
    ("task_assigned", {**TASK, "urgency": "general", "assigned_at": AT, "sign_deadline": "2026-11-28T01:00:00+00:00",
                       "handling_deadline": AT}, "payload.sign_deadline"),
    ("task_signed", {**TASK, "assignee": {"kind": "unit", "id": "Water Station!"}, "signed_at": AT,
                     "within_deadline": True, "lead_now": False}, "payload.assignee.id"),
    ("callback_recorded", {"case_id": "c1", "callback_id": "c1.1", "unit": TASK["assignee"], "village": "dongpo",
                           "category": None, "reached": True, "final": True, "resolved": True,
                           "satisfaction": "ecstatic", "channel": "phone", "outcome": "resolved"},
     "payload.satisfaction"),
    ("callback_recorded", {"case_id": "c1", "callback_id": "c1.1", "unit": TASK["assignee"], "village": "dongpo",
                           "category": None, "reached": False, "final": False, "resolved": None,
                           "satisfaction": "very_satisfied", "channel": "phone", "outcome": None},
     "payload.satisfaction"),
    ("milestone_verified", {"report_id": "r1", "project": "p", "organisation": {"kind": "social_org", "id": "o"},
                            "milestone": "m", "people_served": -5, "hours": 10.0, "verified_by": "office"},
     "payload.people_served"),
    ("project_completed", {"report_id": "r1", "project": "p", "organisation": {"kind": "social_org", "id": "o"},
                           "people_served": 5, "hours": 1e7, "verified_by": "office"}, "payload.hours"),
    ("hotspot_detected", {"village": "dongpo", "category": "drinking_water", "count": 0, "window_hours": 24.0,
                          "first_at": AT, "last_at": AT, "case_ids": []}, "payload.count"),
]


@pytest.mark.parametrize("kind, payload, field", OUT_OF_RANGE)
def test_numbers_and_values_out_of_range_are_refused(kind, payload, field):
    """Decision 51: a consumer refuses what no publisher produces (the issue's example: negative hours)."""
    from township_shared.events import PUBLISHERS

    env = {"id": "e1", "type": kind, "version": 1, "time": AT, "source": PUBLISHERS[kind], "correlation_id": "c1",
           "township_id": "qingshui", "payload": payload}
    with pytest.raises(ValidationFailed) as err:
        load_event(env, kind)
    assert list(err.value.body["fields"]) == [field]


def test_non_object_event_is_rejected():
    with pytest.raises(ValidationFailed):
        load_event(["not", "an", "object"])


def test_every_payload_schema_is_versioned():
    assert ("demand_received", 1) in PAYLOAD_SCHEMAS
    assert all(isinstance(v, int) and v >= 1 for (_, v) in PAYLOAD_SCHEMAS)


def test_remote_errors_map_back_to_status_and_body():
    exc = Conflict("taken", case_id="c1")
    assert from_remote("Conflict", str(exc)) == (409, exc.body)
    assert from_remote("KeyError", "'x'") is None


def test_an_unreachable_database_behind_a_service_is_503_not_500():
    import pymongo.errors

    from township_shared.errors import DATABASE_UNAVAILABLE

    assert all(issubclass(getattr(pymongo.errors, name), pymongo.errors.PyMongoError) for name in DATABASE_UNAVAILABLE)
    status, body = from_remote("ServerSelectionTimeoutError", "127.0.0.1:27017: connection refused")
    assert status == 503 and body["error"] == "service_unavailable"
    assert from_remote("_OperationCancelled", "operation cancelled")[0] == 503  # a stalled server
    assert from_remote("DuplicateKeyError", "E11000") is None


def test_nested_marshmallow_messages_flatten_to_dotted_fields():
    flat = flatten_messages({"reporter": {"phone": ["bad"]}, "attachments": {0: ["Not a valid URL."]}})
    assert flat == {"reporter.phone": ["bad"], "attachments.0": ["Not a valid URL."]}


def test_config_interpolates_environment_with_defaults(tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    path.write_text("A: ${TEST_A:fallback}\nB: ${TEST_B:7}\nADDR: ${H:127.0.0.1}:${P:8000}\n")
    monkeypatch.setenv("TEST_A", "from-env")
    monkeypatch.delenv("TEST_B", raising=False)
    config = load_config(path)
    assert config == {"A": "from-env", "B": 7, "ADDR": "127.0.0.1:8000"}
