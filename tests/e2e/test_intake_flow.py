"""End to end on the real RabbitMQ and MongoDB-compatible server: HTTP POST -> case document ->
``demand_received`` on the bus, idempotent retries under concurrency, and no event lost when intake dies
between the database write and the publish."""
import eventlet
import pytest
import requests

from township_shared.events import load_event
from township_shared.testing import wait_for_consumer

pytestmark = pytest.mark.integration

DEMAND = {"channel": "grid_patrol", "reporter": {"name": "网格员赵六", "phone": "13712345678", "village": "nanshan"},
          "village": "nanshan", "category": "roads_bridges", "title": "南山桥护栏断了",
          "description": "南山村石拱桥东侧护栏断裂约两米，有安全隐患", "location": {"lat": 29.1899, "long": 119.4621},
          "urgency": "emergency"}


def post(base, body=DEMAND, key=None, timeout=10):
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(f"{base}/api/v1/demands", json=body, headers=headers, timeout=timeout)


def test_post_stores_the_case_and_announces_it(stack, http_base, repo, event_listener):
    listener = event_listener("intake", "demand_received")
    res = post(http_base)
    assert res.status_code == 201, res.text
    case_id = res.json()["id"]

    stored = repo.cases.find_one({"_id": case_id})
    assert stored["reporter"]["phone"] == "+8613712345678" and stored["township_id"] == "qingshui"
    assert stored["urgency"] == "emergency" and stored["case_number"] == res.json()["case_number"]

    body = listener.next(timeout=10)
    event = load_event(body, "demand_received")
    assert (event.source, event.version, event.correlation_id, event.township_id) == (
        "intake", 1, case_id, "qingshui")
    assert event.payload["case_id"] == case_id and event.payload["title"] == DEMAND["title"]
    assert event.payload["duplicate_of"] is None
    assert "outbox" not in repo.cases.find_one({"_id": case_id})
    assert listener.quiet(1.5) == []


def test_duplicate_is_linked_and_announced_as_such(stack, http_base, event_listener):
    listener = event_listener("intake", "demand_received")
    first = post(http_base).json()
    second = post(http_base, {**DEMAND, "title": "桥护栏还没修", "reporter": {**DEMAND["reporter"]}}).json()
    assert second["status"] == "duplicate" and second["duplicate_of"] == first["id"]
    events = [load_event(b) for b in listener.collect(2)]
    assert [e.payload["duplicate_of"] for e in events] == [None, first["id"]]


def test_concurrent_retries_with_one_key_store_one_case(stack, http_base, repo, event_listener):
    listener = event_listener("intake", "demand_received")
    pool = eventlet.GreenPool(20)
    answers = list(pool.imap(lambda _: post(http_base, key="retry-42"), range(20)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.text for a in answers}) == 1
    assert repo.cases.count_documents({"idempotency_key": "client:retry-42"}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 19
    assert len(listener.quiet(2.0)) == 1

    conflict = post(http_base, {**DEMAND, "title": "别的事情"}, key="retry-42")
    assert conflict.status_code == 409 and conflict.json()["case_id"] == answers[0].json()["id"]


def test_crash_between_write_and_publish_loses_nothing(container_factory, service_config, repo, rabbit_manager,
                                                       service_process, event_listener, http_base):
    """intake dies (like SIGKILL) right after storing the case; after a restart the case is announced once
    and the waiting HTTP client gets its 201 for the one stored case."""
    from gateway.service import GatewayService

    container_factory(GatewayService, service_config).start()
    listener = event_listener("intake", "demand_received")
    doomed = service_process("intake.service", FAULT_CRASH_AT="intake.after_store")
    wait_for_consumer(rabbit_manager, service_config["vhost"], "rpc-intake")

    pending = eventlet.spawn(post, http_base, DEMAND, None, 60)
    assert doomed.returncode(timeout=20) == 137
    [stored] = list(repo.cases.find({}))
    assert stored["outbox"][0]["type"] == "demand_received"
    assert listener.quiet(1.0) == []

    service_process("intake.service")
    res = pending.wait()
    assert res.status_code == 201 and res.json()["id"] == stored["_id"]
    event = load_event(listener.next(timeout=20), "demand_received")
    assert event.correlation_id == stored["_id"]
    assert listener.quiet(2.0) == []
    assert repo.cases.count_documents({}) == 1
    assert "outbox" not in repo.cases.find_one({"_id": stored["_id"]})
