"""The services' broker users (decision 50) as data: their URIs, the least permissions derived from the code, and
the definitions for a production broker. On the real broker: tests/e2e/test_broker_users.py."""
import base64
import hashlib
import re

import pytest

from township_shared import bus
from township_shared.registry import services

LOCAL = "pyamqp://guest:guest@127.0.0.1:5672/mine"


def test_a_service_connects_as_its_own_user_with_the_password_from_the_environment():
    assert bus.service_uri(LOCAL, "intake", {}) == "pyamqp://township-intake:dev-intake@127.0.0.1:5672/mine"
    uri = bus.service_uri("amqps://admin:x@mq.example.org:5671/township", "dispatch",
                          {"AMQP_PASSWORD_DISPATCH": "s3cret/with@odd:chars"})
    assert uri == "amqps://township-dispatch:s3cret%2Fwith%40odd%3Achars@mq.example.org:5671/township"


def test_the_development_password_never_leaves_this_host():
    with pytest.raises(bus.InsecureBrokerAccount, match="AMQP_PASSWORD_FEEDBACK"):
        bus.service_uri("amqps://admin:x@mq.example.org:5671/township", "feedback", {})
    with pytest.raises(bus.InsecureBrokerAccount):
        bus.definitions("/township", {})


def test_each_container_of_a_listed_service_uses_its_user_and_declares_nothing_shared():
    from township_shared.service import rpc

    class Probe:
        name = "probe"

        @rpc
        def ping(self):
            return "pong"

    config = {"AMQP_URI": LOCAL}
    intake = bus.ServiceContainer(services()[0].service_class(), config)
    assert intake.config["AMQP_URI"].startswith(f"pyamqp://township-{services()[0].name}:")
    assert bus.declared_by_administrator(intake.config)
    other = bus.ServiceContainer(Probe, config)  # a test's service keeps AMQP_URI and declares what it uses
    assert other.config["AMQP_URI"] == LOCAL and not bus.declared_by_administrator(other.config)


def own_names(needs):
    names = [f"rpc-{needs.service}", f"rpc.reply-{needs.service}-0b0f1d3e-6a4c-4f8e-9d2b-1c2d3e4f5a6b"]
    names += [f"evt-all--{needs.service}.{m}" if kind == "#" else f"evt-{source}-{kind}--{needs.service}.{m}"
              for source, kind, m in needs.consumes]
    return names


def test_no_service_may_touch_another_services_queues_or_publish_to_its_exchange():
    """Every pair of services: A's regexes match none of B's queue names, nor B's exchange for writing."""
    names = [spec.name for spec in services()]
    needs = {spec.name: bus.needs_of(spec.name, spec.service_class(), names) for spec in services()}
    grants = {g.user: g for g in bus.grants()}
    for a in names:
        g = grants[bus.user(a)]
        for queue in own_names(needs[a]):
            if queue.startswith("rpc-") and not needs[a].serves_rpc or ".reply-" in queue and not needs[a].calls:
                continue
            assert re.fullmatch(g.read, queue) and re.fullmatch(g.configure, queue), (a, queue)
        for b in (n for n in names if n != a):
            for queue in own_names(needs[b]):
                for regex in (g.configure, g.write, g.read):
                    assert not re.fullmatch(regex, queue), (a, b, queue, regex)
            assert not re.fullmatch(g.write, bus.event_exchange(b)) and not re.fullmatch(g.configure,
                                                                                          bus.event_exchange(b))
        for shared in ("nameko-rpc", "township.dead_letters", bus.event_exchange(a)):
            assert not re.fullmatch(g.configure, shared), (a, shared)


def test_the_definitions_hold_the_grants_and_hashed_passwords():
    environ = {f"AMQP_PASSWORD_{spec.name.upper()}": f"pw-{spec.name}" for spec in services()}
    found = bus.definitions("/township", environ)
    assert [u["name"] for u in found["users"]] == [bus.user(spec.name) for spec in services()]
    for u in found["users"]:
        raw = base64.b64decode(u["password_hash"])
        secret = f"pw-{u['name'][len(bus.USER_PREFIX):]}".encode()
        assert raw[4:] == hashlib.sha256(raw[:4] + secret).digest()
        assert "pw-" not in str(u)
    assert {p["user"]: p["write"] for p in found["permissions"]} == {g.user: g.write for g in bus.grants()}
    consumed = {x for g in bus.grants() for x in g.topics if x.endswith(".events")}
    assert {e["name"] for e in found["exchanges"]} == (
        {bus.event_exchange(spec.name) for spec in services()} | consumed | {"nameko-rpc", "township.dead_letters"})
    assert found["queues"][0]["name"] == found["bindings"][0]["destination"] == "township.dead_letters"
