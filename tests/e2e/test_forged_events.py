"""Forged and foreign events published on the real broker are refused: each consumer dead-letters them with the
reason, and nothing is written (no callback, figures and case status unchanged; decision 51).

The events are published with the test vhost's administrator, i.e. what a leaked password or a bug in a
publisher could send; a service's own broker user cannot even publish to another service's exchange
(``tests/e2e/test_broker_users.py``)."""
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from township_shared.testing import as_actor, wait_for
from kombu import Connection, Exchange

from township_shared.events import make_event
from township_shared.schemas.dispatch import CaseStatusChangedV1, TaskAssignedV1, TaskCompletedV1
from township_shared.schemas.feedback import CallbackConcludedV1, CallbackRecordedV1

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")
UNIT = as_actor("unit:water_station")
NOW = datetime.now(timezone.utc)


def publish(amqp_uri, exchange, routing_key, body):
    """``body`` as JSON on ``exchange`` (``""``: the default exchange, which routes by queue name)."""
    with Connection(amqp_uri) as conn:
        target = Exchange(exchange, type="topic", durable=True) if exchange else ""
        conn.Producer().publish(body, exchange=target, routing_key=routing_key, serializer="json")




def forged(schema, payload, source, correlation_id):
    """An envelope ``make_event`` would build, with any ``source`` (``make_event`` refuses a wrong one)."""
    owner = schema.publisher
    body = make_event(schema, payload, source=owner, township_id="qingshui", correlation_id=correlation_id)
    return {**body, "source": source}


def task_completed(task, **changes):
    return {**task, "reply": "修好了", "attachments": [], "completed_at": NOW, "on_time": True,
            "handling_seconds": 3600.0, **changes}


def test_forged_and_foreign_events_are_dead_lettered_and_change_nothing(stack, http_base, service_config,
                                                                       mongo_client, db_prefix):
    base, amqp = http_base, service_config["AMQP_URI"]

    def callbacks():
        return requests.get(f"{base}/api/v1/callbacks", headers=OFFICE, timeout=10).json()["items"]

    def figures():
        res = requests.get(f"{base}/api/v1/assessment", params={"dimension": "actor", "period": "month"},
                           headers=OFFICE, timeout=10)
        return {r["key"]: r for r in res.json()["items"]}

    def dead_letters():
        """The letters of the consumers that act on events (identity's audit trail keeps its own rules)."""
        items = requests.get(f"{base}/api/v1/dead-letters", params={"limit": 200}, headers=OFFICE,
                             timeout=10).json()["items"]
        return [d for d in items if d["service"] != "identity"]

    # a real case, completed by its lead: one callback, figures with one completion
    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "停水三天", "description": "东坡村三组停水"}
    case_id = requests.post(f"{base}/api/v1/demands", json=body, timeout=10).json()["id"]
    task_id = wait_for(lambda: requests.get(f"{base}/api/v1/tasks", headers=UNIT, timeout=10).json()["items"],
                       bool)[0]["id"]
    requests.post(f"{base}/api/v1/tasks/{task_id}/sign", headers=UNIT, timeout=10).raise_for_status()
    requests.post(f"{base}/api/v1/tasks/{task_id}/complete", json={"reply": "已抢修"}, headers=UNIT,
                  timeout=10).raise_for_status()
    real_callbacks = wait_for(callbacks, lambda items: len(items) == 1)
    real_figures = wait_for(figures, lambda rows: rows.get("unit:water_station", {}).get("completed") == 1)
    case = requests.get(f"{base}/api/v1/demands/{case_id}", headers=OFFICE, timeout=10).json()
    case_number = case["case_number"]
    intake_case = wait_for(lambda: requests.get(f"{base}/api/v1/demands/{case_id}", headers=OFFICE,
                                                timeout=10).json(),
                           lambda c: c["status"] == "completed")

    water = {"kind": "unit", "id": "water_station"}
    real_task = {"case_id": case_id, "task_id": task_id, "assignee": water, "role": "lead",
                 "category": "drinking_water", "village": "dongpo"}
    ghost_task = {**real_task, "case_id": "no-such-case", "task_id": "no-such-case.1"}
    sent = {
        # the example: a callback and negative hours for a case that does not exist
        "ghost completion": ("dispatch.events", "task_completed",
                             forged(TaskCompletedV1, task_completed(ghost_task), "dispatch", "no-such-case")),
        "ghost assignment": ("dispatch.events", "task_assigned", forged(TaskAssignedV1, {
            **ghost_task, "task_id": "no-such-case.2", "urgency": "general", "assigned_at": NOW,
            "sign_deadline": NOW + timedelta(hours=24), "handling_deadline": NOW + timedelta(days=5)},
            "dispatch", "no-such-case")),
        "another unit's task": ("dispatch.events", "task_completed", forged(TaskCompletedV1, task_completed(
            {**real_task, "assignee": {"kind": "unit", "id": "power_station"}}), "dispatch", case_id)),
        "negative hours": ("dispatch.events", "task_completed", {
            **forged(TaskCompletedV1, task_completed(real_task), "dispatch", case_id),
            "payload": {**task_completed(real_task), "completed_at": NOW.isoformat(), "handling_seconds": -3600}}),
        "wrong source for the exchange": ("dispatch.events", "task_completed",
                                          forged(TaskCompletedV1, task_completed(real_task), "feedback", case_id)),
        "a type its source does not publish": ("feedback.events", "callback_recorded", forged(
            TaskCompletedV1, task_completed(real_task), "feedback", case_id)),
        "around the exchange": ("", f"evt-dispatch-task_completed--feedback.open_callback",
                                forged(TaskCompletedV1, task_completed(real_task), "dispatch", case_id)),
        "satisfaction outside its levels": ("feedback.events", "callback_recorded", {
            **forged(CallbackRecordedV1, {
                "case_id": case_id, "callback_id": task_id, "unit": water, "village": "dongpo",
                "category": "drinking_water", "reached": True, "final": True, "resolved": True,
                "satisfaction": "very_satisfied", "channel": "phone", "outcome": "resolved"}, "feedback", case_id),
        }),
        "ghost conclusion": ("feedback.events", "callback_concluded", forged(CallbackConcludedV1, {
            "case_id": "no-such-case", "callback_id": "no-such-case.1", "unit": water, "village": "dongpo",
            "category": "drinking_water", "outcome": "resolved", "reason": "r", "stage": None}, "feedback",
            "no-such-case")),
        "conclusion of another unit's callback": ("feedback.events", "callback_concluded", forged(
            CallbackConcludedV1, {"case_id": case_id, "callback_id": task_id,
                                  "unit": {"kind": "unit", "id": "power_station"}, "village": "dongpo",
                                  "category": "drinking_water", "outcome": "resolved", "reason": "r",
                                  "stage": None}, "feedback", case_id)),
        "ghost status": ("dispatch.events", "case_status_changed", forged(CaseStatusChangedV1, {
            "case_id": "no-such-case", "case_number": case_number, "status": "closed", "outcome": "resolved",
            "since": NOW, "seq": 99}, "dispatch", "no-such-case")),
        "status under another case number": ("dispatch.events", "case_status_changed", forged(
            CaseStatusChangedV1, {"case_id": case_id, "case_number": "QS-20260101-0001", "status": "closed",
                                  "outcome": "resolved", "since": NOW, "seq": 99}, "dispatch", case_id)),
    }
    sent["satisfaction outside its levels"][2]["payload"]["satisfaction"] = "ecstatic"
    for exchange, routing_key, event in sent.values():
        publish(amqp, exchange, routing_key, event)

    # each forged event is a dead letter of every consumer it reached, with the reason
    expected = {
        "ghost completion": {("feedback", "open_callback", "Refused", "payload.task_id"),
                             ("feedback", "fold_task_completed", "Refused", "payload.task_id")},
        "ghost assignment": {("feedback", "fold_task_assigned", "Refused", "payload.task_id")},
        "another unit's task": {("feedback", "open_callback", "Refused", "payload.assignee"),
                                ("feedback", "fold_task_completed", "Refused", "payload.assignee")},
        "negative hours": {("feedback", "open_callback", "ValidationFailed", "payload.handling_seconds"),
                           ("feedback", "fold_task_completed", "ValidationFailed", "payload.handling_seconds")},
        "wrong source for the exchange": {("feedback", "open_callback", "Refused", "source"),
                                          ("feedback", "fold_task_completed", "Refused", "source")},
        "a type its source does not publish": {("dispatch", "callback_under_way", "Refused", "type"),
                                               ("feedback", "fold_callback_recorded", "Refused", "type")},
        "around the exchange": {("feedback", "open_callback", "Refused", "exchange")},
        "satisfaction outside its levels": {
            ("dispatch", "callback_under_way", "ValidationFailed", "payload.satisfaction"),
            ("feedback", "fold_callback_recorded", "ValidationFailed", "payload.satisfaction")},
        "ghost conclusion": {("dispatch", "conclude_callback", "Refused", "payload.case_id")},
        "conclusion of another unit's callback": {("dispatch", "conclude_callback", "Refused", "payload.unit")},
        "ghost status": {("intake", "follow_case_status", "Refused", "payload.case_id")},
        "status under another case number": {("intake", "follow_case_status", "Refused", "payload.case_number")},
    }
    deadline = time.monotonic() + 20
    while len(letters := dead_letters()) < sum(map(len, expected.values())) and time.monotonic() < deadline:
        time.sleep(0.2)

    def where(letter):
        details = letter["details"]
        field = details.get("field") or next(iter(details.get("fields") or {}), None)
        return letter["service"], letter["handler"], letter["error"], field

    def of(event):  # a dead letter's body is the event without its personal data (decision 58): match by id
        return [d for d in letters if isinstance(d["body"], dict) and d["body"].get("id") == event["id"]]

    got = {name: {where(d) for d in of(event)} for name, (_, _, event) in sent.items()}
    assert got == expected
    for name, (exchange, routing_key, event) in sent.items():
        for letter in of(event):
            assert letter["reason"] and letter["exchange"] == exchange and letter["routing_key"] == routing_key
    assert len(letters) == sum(map(len, expected.values()))

    # nothing was written
    time.sleep(2.5)  # the figures fold within ~2 s of an event (decision 32); give a forged one the time to show
    assert callbacks() == real_callbacks
    assert figures() == real_figures
    assert requests.get(f"{base}/api/v1/demands/{case_id}", headers=OFFICE, timeout=10).json() == intake_case
    journal = mongo_client[f"{db_prefix}_feedback"]["folded_events"]
    forged_ids = [event["id"] for _, _, event in sent.values()]
    assert journal.count_documents({"_id": {"$in": forged_ids}}) == 0
    assert mongo_client[f"{db_prefix}_feedback"]["callbacks"].count_documents({"case_id": "no-such-case"}) == 0


def test_only_a_service_with_the_principal_key_learns_the_facts_of_a_task(stack, service_config):
    """``dispatch.task_facts`` (decision 52) answers a signed service principal only: anything else on the RPC
    exchange cannot use it to probe cases."""
    from nameko.exceptions import RemoteError
    from nameko.standalone.rpc import ClusterRpcProxy

    from township_shared.auth import DEFAULT_PRINCIPAL_KEY, Principal, service_principal, sign

    ref = {"case_id": "no-such-case", "task_id": "no-such-case.1"}
    with ClusterRpcProxy({"AMQP_URI": service_config["AMQP_URI"]}, timeout=20) as cluster:
        for principal, refusal in (({"actor": "service:feedback", "township_id": "qingshui"}, "Unauthorized"),
                                   (sign(service_principal("feedback", "qingshui"), "another key"), "Unauthorized"),
                                   (sign(Principal(role="public", actor="public", township_id="qingshui"),
                                         DEFAULT_PRINCIPAL_KEY), "Forbidden"),
                                   (sign(service_principal("feedback", "qingshui"), DEFAULT_PRINCIPAL_KEY),
                                    "NotFound")):
            with pytest.raises(RemoteError) as err:
                cluster.dispatch.task_facts(principal, ref)
            assert err.value.exc_type == refusal
