"""The identity service on the real RabbitMQ and MongoDB-compatible server, with dispatch beside it (its registry
of actors): resolving tokens, issuing (checked again in the service), revoking, the events and the audit trail of
every service's events."""
import json
import time
from datetime import datetime, timezone

import pytest
from kombu import Connection, Exchange
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from township_shared import auth
from township_shared.events import make_event
from township_shared.schemas.demands import DemandReceivedV1
from township_shared.testing import token_for, wait_for, take_dead_letters

pytestmark = pytest.mark.integration
KEY = auth.DEFAULT_PRINCIPAL_KEY


@pytest.fixture
def services(runner_factory, service_config, demo):
    from dispatch.service import DispatchService
    from identity.service import IdentityService

    demo("identity"), demo("dispatch")
    runner = runner_factory(service_config, IdentityService, DispatchService)
    runner.start()
    with ClusterRpcProxy(service_config, timeout=20) as cluster:
        yield cluster


def office(township="qingshui", actor="office:demo_clerk", key=KEY):
    return auth.sign(auth.Principal(role="office", actor=actor, township_id=township, county_id="lanxi",
                                    townships=(township,)), key)


def remote_error(call):
    with pytest.raises(RemoteError) as err:
        call()
    return err.value.exc_type, json.loads(err.value.value)




def publish(amqp_uri, exchange, routing_key, body, content_type="application/json"):
    ex = Exchange(exchange, type="topic", durable=True)
    with Connection(amqp_uri) as conn:
        if isinstance(body, bytes):
            conn.Producer().publish(body, exchange=ex, routing_key=routing_key, content_type=content_type,
                                    content_encoding="binary", declare=[ex])
        else:
            conn.Producer().publish(body, exchange=ex, routing_key=routing_key, serializer="json", declare=[ex])


def dead_letters(amqp_uri, count, timeout=15.0):
    return take_dead_letters(amqp_uri, count, timeout)


def test_a_demo_token_resolves_and_anything_else_is_one_401(services):
    principal = services.identity.resolve_token(token_for("unit:water_station"))
    assert auth.Principal.from_dict(principal) == auth.Principal(
        role="unit", actor="unit:water_station", township_id="qingshui", county_id="lanxi",
        townships=("qingshui",), token_id=auth.token_id(token_for("unit:water_station")))
    answers = [remote_error(lambda: services.identity.resolve_token(bad))
               for bad in ("tp_unknown", None, {"$ne": None}, "x" * 5000)]
    answers = {(kind, body["message"]) for kind, body in answers}
    assert answers == {("Unauthorized", "the token is unknown, revoked or malformed")}


def test_the_office_issues_lists_and_revokes_with_events_and_audit(services, event_listener):
    listener = event_listener("identity")
    issued = services.identity.issue_token(office(), {"role": "unit", "actor": "unit:water_station",
                                                      "label": "tablet"})
    token = issued["token"]
    assert issued["id"] == auth.token_id(token) and issued["issued_by"] == "office:demo_clerk"
    assert services.identity.resolve_token(token)["actor"] == "unit:water_station"

    listed = services.identity.list_tokens(office(), {"actor": "unit:water_station"})["items"]
    assert {t["id"] for t in listed} == {issued["id"], auth.token_id(token_for("unit:water_station"))}
    assert token not in json.dumps(listed) and auth.token_hash(token) not in json.dumps(listed)

    revoked = services.identity.revoke_token(office(actor="office:li"), issued["id"])
    assert revoked["active"] is False and revoked["revoked_by"] == "office:li"
    assert services.identity.revoke_token(office(), issued["id"])["revoked_by"] == "office:li"
    assert remote_error(lambda: services.identity.resolve_token(token))[0] == "Unauthorized"

    events = listener.collect(2)
    assert [(e["type"], e["actor"], e["township_id"]) for e in events] == [
        ("token_issued", "office:demo_clerk", "qingshui"), ("token_revoked", "office:li", "qingshui")]
    assert token not in json.dumps(events) and auth.token_hash(token) not in json.dumps(events)
    assert listener.quiet(1.0) == []  # the second revocation announced nothing

    def audit():
        items = services.identity.list_audit(office(), {"type": "token_revoked"})["items"]
        return items if items else None

    (entry,) = wait_for(audit)
    assert (entry["id"], entry["actor"], entry["source"]) == (events[1]["id"], "office:li", "identity")
    assert services.identity.list_audit(office("baiyun"), {})["items"] == []


def test_the_service_checks_the_principal_itself(services):
    body = {"role": "office", "actor": "office:mallory"}
    forged = {**office(), "township_id": "baiyun"}
    assert remote_error(lambda: services.identity.issue_token(forged, body))[0] == "Unauthorized"
    assert remote_error(lambda: services.identity.issue_token(office(key="another key"), body))[0] == "Unauthorized"
    assert remote_error(lambda: services.identity.issue_token({"role": "office"}, body))[0] == "Unauthorized"
    unit = auth.sign(auth.Principal(role="unit", actor="unit:water_station", township_id="qingshui"), KEY)
    for call in (lambda: services.identity.issue_token(unit, body), lambda: services.identity.list_tokens(unit, {}),
                 lambda: services.identity.revoke_token(unit, "0123456789abcdef"),
                 lambda: services.identity.list_audit(unit, {})):
        assert remote_error(call)[0] == "Forbidden"


def test_issuing_asks_dispatchs_registry_of_the_offices_own_township(services):
    kind, body = remote_error(lambda: services.identity.issue_token(
        office("baiyun"), {"role": "unit", "actor": "unit:water_station"}))
    assert kind == "Unprocessable" and "is not" in body["fields"]["actor"][0]
    kind, body = remote_error(lambda: services.identity.issue_token(
        office(), {"role": "unit", "actor": "unit:water_station", "township_id": "baiyun"}))
    assert kind == "ValidationFailed" and "township_id" in body["fields"]
    issued = services.identity.issue_token(office("baiyun"), {"role": "social_org",
                                                              "actor": "social_org:so_tea_village_elderly"})
    assert services.identity.resolve_token(issued["token"])["township_id"] == "baiyun"
    kind, _ = remote_error(lambda: services.identity.revoke_token(office(), issued["id"]))
    assert kind == "NotFound"


def test_every_services_events_are_audited_and_forgeries_dead_lettered(services, service_config):
    amqp = service_config["AMQP_URI"]
    good = make_event(DemandReceivedV1, {
        "case_id": "c1", "case_number": "QS-20261201-0001", "channel": "hotline",
        "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"}, "village": "dongpo",
        "location": None, "category": None, "title": "t", "description": "d", "urgency": "general",
        "attachments": [], "duplicate_of": None, "received_at": datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)},
        source="intake", township_id="qingshui", correlation_id="c1")
    publish(amqp, "intake.events", "demand_received", {**good, "actor": "public"})
    publish(amqp, "intake.events", "demand_received", {**good, "actor": "public"})  # redelivered
    publish(amqp, "dispatch.events", "demand_received", {**good, "id": "forged1"})  # not intake's exchange
    publish(amqp, "feedback.events", "anything", b"\x00{not json", content_type="application/json")

    def audited():
        items = services.identity.list_audit(office(), {"case": "c1"})["items"]
        return items if {"demand_received", "case_status_changed"} <= {e["type"] for e in items} else None

    entries = wait_for(audited)  # intake's event, and those of dispatch's consumer routing it
    assert [(e["id"], e["actor"]) for e in entries if e["type"] == "demand_received"] == [(good["id"], "public")]
    assert {e["actor"] for e in entries if e["source"] == "dispatch"} == {"service:dispatch"}
    letters = [d for d in dead_letters(amqp, 2) if d["service"] == "identity"]
    assert sorted(d["error"] for d in letters) == ["UndecodableMessage", "ValidationFailed"]
    forged = next(d for d in letters if d["error"] == "ValidationFailed")
    assert forged["handler"] == "record_event" and "intake.events" in forged["details"]["fields"]["source"][0]
    assert "forged1" not in {e["id"] for e in services.identity.list_audit(office(), {"limit": 200})["items"]}
