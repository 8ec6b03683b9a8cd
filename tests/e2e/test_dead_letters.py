"""Malformed messages on the services' queues end in the dead-letter queue the office can read: not dropped,
not looping, and the consumers keep working."""
import time

import pytest
import requests
from kombu import Connection, Exchange

pytestmark = pytest.mark.integration
OFFICE = {"X-Actor-Id": "office"}


def publish(amqp_uri, exchange, routing_key, body, content_type="application/json"):
    ex = Exchange(exchange, type="topic", durable=True)
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        if isinstance(body, (dict, list, str)) and content_type == "application/json":
            producer.publish(body, exchange=ex, routing_key=routing_key, serializer="json", declare=[ex])
        else:
            producer.publish(body, exchange=ex, routing_key=routing_key, content_type=content_type,
                             content_encoding="utf-8", declare=[ex])


def dead_letters(base, expected, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = requests.get(f"{base}/api/v1/dead-letters", headers=OFFICE, timeout=10).json()
        if got["count"] >= expected:
            return got
        time.sleep(0.2)
    raise AssertionError(f"dead letters: {got}")


def assert_consumers_go_on(base, dispatch_repo, phone):
    """A good demand still reaches dispatch after the bad messages."""
    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": phone, "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "停水", "description": "停水"}
    case_id = requests.post(f"{base}/api/v1/demands", json=body, timeout=10).json()["id"]
    deadline = time.monotonic() + 10
    while dispatch_repo.get_case("qingshui", case_id) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dispatch_repo.get_case("qingshui", case_id) is not None


def test_malformed_events_are_dead_lettered_and_consumers_go_on(stack, http_base, service_config, dispatch_repo):
    amqp = service_config["AMQP_URI"]
    publish(amqp, "intake.events", "demand_received", {"id": "x", "type": "demand_received", "version": 1})
    publish(amqp, "intake.events", "demand_received", ["not", "an", "envelope"])
    got = dead_letters(http_base, 6)
    assert got["count"] == 6
    by = sorted((d["service"], d["handler"]) for d in got["items"])
    assert by == ([("dispatch", "receive_demand")] * 2 + [("feedback", "watch_hotspots")] * 2
                  + [("identity", "record_event")] * 2)  # the audit trail takes every event
    missing = next(d for d in got["items"] if isinstance(d["body"], dict) and d["service"] == "dispatch")
    assert missing["error"] == "ValidationFailed" and "payload" in missing["details"]["fields"]

    time.sleep(1.5)
    again = requests.get(f"{http_base}/api/v1/dead-letters", headers=OFFICE, timeout=10).json()
    assert len(again["items"]) == 6  # read, not consumed; nothing re-queued in a loop

    assert_consumers_go_on(http_base, dispatch_repo, "13812345678")
    assert requests.get(f"{http_base}/api/v1/dead-letters", headers={"X-Actor-Id": "unit:water_station"},
                        timeout=10).status_code == 403


def test_undecodable_bodies_are_dead_lettered_not_dropped(stack, http_base, service_config, dispatch_repo):
    """Bodies nameko cannot decode (broken JSON, a content type it does not accept) never reach a handler; kombu's
    default would acknowledge and drop them. They are in the dead-letter queue, raw, with the handler's name."""
    amqp = service_config["AMQP_URI"]
    publish(amqp, "intake.events", "demand_received", b'{"id": "broken', content_type="application/json")
    publish(amqp, "dispatch.events", "task_completed", b"\xff\xfeplain text", content_type="text/plain")
    got = dead_letters(http_base, 6)
    assert got["count"] == 6
    assert {d["error"] for d in got["items"]} == {"UndecodableMessage"}
    by = sorted((d["service"], d["handler"], d["routing_key"]) for d in got["items"])
    assert by == [("dispatch", "receive_demand", "demand_received"),
                  ("feedback", "fold_task_completed", "task_completed"),
                  ("feedback", "open_callback", "task_completed"),
                  ("feedback", "watch_hotspots", "demand_received"),
                  ("identity", "record_event", "demand_received"),
                  ("identity", "record_event", "task_completed")]
    assert len({d["letter_id"] for d in got["items"]}) == 6
    broken = next(d for d in got["items"] if d["service"] == "dispatch")
    assert broken["body"] == '{"id": "broken' and broken["content_type"] == "application/json"
    assert "JSONDecodeError" in broken["reason"] or "decode" in broken["reason"].lower()

    time.sleep(1.5)
    assert requests.get(f"{http_base}/api/v1/dead-letters", headers=OFFICE, timeout=10).json()["count"] == 6

    assert_consumers_go_on(http_base, dispatch_repo, "13812345679")
