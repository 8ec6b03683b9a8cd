"""Malformed messages on the services' queues end in the dead-letter queue the office can read: not dropped,
not looping, and the consumers keep working."""
import hashlib
import json
import time

import pytest
import requests
from kombu import Connection, Exchange
from township_shared.testing import as_actor

from township_shared.consumers import DEAD_LETTERS

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")


def publish(amqp_uri, exchange, routing_key, body, content_type="application/json"):
    ex = Exchange(exchange, type="topic", durable=True)
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        if isinstance(body, (dict, list, str)) and content_type == "application/json":
            producer.publish(body, exchange=ex, routing_key=routing_key, serializer="json", declare=[ex])
        else:
            producer.publish(body, exchange=ex, routing_key=routing_key, content_type=content_type,
                             content_encoding="utf-8", declare=[ex])


def dead_letters(base, expected, timeout=15, township="qingshui"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = requests.get(f"{base}/api/v1/dead-letters", headers=as_actor("office", township), timeout=10).json()
        if got["count"] >= expected:
            return got
        time.sleep(0.2)
    raise AssertionError(f"dead letters: {got}")


def queued_letters(amqp_uri, expected, timeout=15):
    """Every letter in the dead-letter queue, read without acknowledging (they go back when the connection
    closes), once there are ``expected``."""
    deadline = time.monotonic() + timeout
    while True:
        with Connection(amqp_uri) as conn:
            channel = conn.channel()
            letters = []
            while (message := channel.basic_get(DEAD_LETTERS, no_ack=False)) is not None:
                letters.append(json.loads(message.body))
        if len(letters) >= expected or time.monotonic() > deadline:
            return letters
        time.sleep(0.2)


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
    publish(amqp, "intake.events", "demand_received", {"id": "x", "type": "demand_received", "version": 1,
                                                       "township_id": "qingshui"})
    publish(amqp, "intake.events", "demand_received", ["not", "an", "envelope"])
    got = dead_letters(http_base, 3)
    assert got["count"] == 3
    by = sorted((d["service"], d["handler"]) for d in got["items"])
    assert by == [("dispatch", "receive_demand"), ("feedback", "watch_hotspots"),
                  ("identity", "record_event")]  # the audit trail takes every event
    missing = next(d for d in got["items"] if d["service"] == "dispatch")
    assert missing["error"] == "ValidationFailed" and "payload" in missing["details"]["fields"]
    # the letters of the message naming no township are kept, and listed to no township's office
    assert sorted(d["township_id"] or "-" for d in queued_letters(amqp, 6)) == ["-"] * 3 + ["qingshui"] * 3

    time.sleep(1.5)
    again = requests.get(f"{http_base}/api/v1/dead-letters", headers=OFFICE, timeout=10).json()
    assert len(again["items"]) == 3  # read, not consumed; nothing re-queued in a loop

    assert_consumers_go_on(http_base, dispatch_repo, "13812345678")
    assert requests.get(f"{http_base}/api/v1/dead-letters", headers=as_actor("unit:water_station"),
                        timeout=10).status_code == 403


def test_each_office_lists_its_own_townships_letters_without_personal_data(stack, http_base, service_config):
    amqp = service_config["AMQP_URI"]
    for township, name, phone in (("qingshui", "张三丰", "13812345678"), ("baiyun", "李四光", "13987654321")):
        publish(amqp, "intake.events", "demand_received", {
            "id": f"bad-{township}", "type": "demand_received", "version": 1, "time": "2026-11-29T08:00:00+00:00",
            "source": "intake", "correlation_id": "c1", "township_id": township,
            "payload": {"case_id": "c1", "reporter": {"name": name, "phone": phone, "village": "dongpo"},
                        "description": f"{name}说停水了，电话{phone}"}})
    qingshui = dead_letters(http_base, 2)
    baiyun = dead_letters(http_base, 2, township="baiyun")
    assert {d["body"]["id"] for d in qingshui["items"]} == {"bad-qingshui"} and qingshui["count"] >= 2
    assert {d["body"]["id"] for d in baiyun["items"]} == {"bad-baiyun"} and baiyun["count"] >= 2
    other = requests.get(f"{http_base}/api/v1/dead-letters", headers={**OFFICE, "X-Township-Id": "baiyun"},
                         timeout=10)
    assert other.status_code == 403  # an office reads its own township's letters only
    listed = json.dumps([qingshui, baiyun], ensure_ascii=False)
    for secret in ("张三丰", "李四光", "13812345678", "13987654321", "说停水了"):
        assert secret not in listed
    reporter = qingshui["items"][0]["body"]["payload"]["reporter"]
    assert reporter["phone"] == "<removed: 11 characters>"


def test_undecodable_bodies_are_dead_lettered_not_dropped(stack, http_base, service_config, dispatch_repo):
    """Bodies nameko cannot decode (broken JSON, a content type it does not accept) never reach a handler; kombu's
    default would acknowledge and drop them. They are in the dead-letter queue with the handler's name, as their
    size and hash: text that cannot be parsed cannot be told free of personal data, and names no township, so
    no office lists it."""
    amqp = service_config["AMQP_URI"]
    broken, plain = b'{"id": "broken', b"\xff\xfeplain text 13812345678"
    publish(amqp, "intake.events", "demand_received", broken, content_type="application/json")
    publish(amqp, "dispatch.events", "task_completed", plain, content_type="text/plain")
    got = queued_letters(amqp, 6)
    assert len(got) == 6
    assert {d["error"] for d in got} == {"UndecodableMessage"}
    by = sorted((d["service"], d["handler"], d["routing_key"]) for d in got)
    assert by == [("dispatch", "receive_demand", "demand_received"),
                  ("feedback", "fold_task_completed", "task_completed"),
                  ("feedback", "open_callback", "task_completed"),
                  ("feedback", "watch_hotspots", "demand_received"),
                  ("identity", "record_event", "demand_received"),
                  ("identity", "record_event", "task_completed")]
    assert len({d["letter_id"] for d in got}) == 6
    first = next(d for d in got if d["service"] == "dispatch")
    assert first["body"] is None and first["content_type"] == "application/json"
    assert (first["size"], first["sha256"]) == (len(broken), hashlib.sha256(broken).hexdigest())
    assert "JSONDecodeError" in first["reason"] or "decode" in first["reason"].lower()
    assert {d["sha256"] for d in got if d["service"] == "feedback" and d["routing_key"] == "task_completed"} == {
        hashlib.sha256(plain).hexdigest()}
    assert "13812345678" not in json.dumps(got) and "broken" not in json.dumps(got)
    assert requests.get(f"{http_base}/api/v1/dead-letters", headers=OFFICE, timeout=10).json()["count"] == 0

    time.sleep(1.5)
    assert len(queued_letters(amqp, 6)) == 6

    assert_consumers_go_on(http_base, dispatch_repo, "13812345679")
