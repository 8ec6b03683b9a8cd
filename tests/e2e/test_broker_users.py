"""Each service on the real RabbitMQ as its own user (decision 50): it connects as ``township-<service>``, may
publish only its own event types to its own exchange, read only its own queues, bind only to what it consumes,
and declares or deletes nothing shared; RPC works (every end-to-end test runs on these users)."""
import time
import uuid

import amqp
import pytest
import requests
from amqp.exceptions import AccessRefused
from urllib.parse import quote, urlparse

from township_shared import bus
from township_shared.registry import services

pytestmark = pytest.mark.integration


def channel_of(amqp_uri, service=None):
    """A channel with publisher confirms on the test's vhost, as ``service``'s user (else as the administrator)."""
    uri = bus.service_uri(amqp_uri, service) if service else amqp_uri
    parts = urlparse(uri)
    conn = amqp.Connection(f"{parts.hostname}:{parts.port or 5672}", userid=parts.username,
                           password=bus.password(service) if service else parts.password,
                           virtual_host=bus.vhost_of(uri), confirm_publish=True)
    conn.connect()
    return conn, conn.channel()


def refused(amqp_uri, service, action):
    """True if the broker refuses ``action(channel)`` to ``service``'s user (403 ACCESS_REFUSED)."""
    conn, channel = channel_of(amqp_uri, service)
    try:
        action(channel)
        return False
    except AccessRefused:
        return True
    finally:
        try:
            conn.close()
        except Exception:
            pass


def publish(exchange, routing_key):
    return lambda ch: ch.basic_publish(amqp.Message(b'{"id": "x"}', content_type="application/json"),
                                       exchange=exchange, routing_key=routing_key)


def test_each_service_connects_as_its_own_user(stack, rabbit_config, bus_admin):
    """The stack's connections, as the broker sees them: one user per service, none of them the administrator."""
    vhost, wanted = rabbit_config["vhost"], {bus.user(spec.name) for spec in services()}
    deadline, users = time.monotonic() + 20, set()
    while users != wanted and time.monotonic() < deadline:
        listed = bus_admin.session.get(f"{bus_admin.base}/vhosts/{quote(vhost, safe='')}/connections",
                                       timeout=10).json()
        users = {c["user"] for c in listed}
        time.sleep(0.5)
    assert users == wanted


def test_a_service_may_publish_only_its_own_events_to_its_own_exchange(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    assert not refused(uri, "dispatch", publish("dispatch.events", "task_completed"))
    assert refused(uri, "feedback", publish("dispatch.events", "task_completed"))       # another's exchange
    assert refused(uri, "feedback", publish("feedback.events", "task_completed"))       # a type it does not own
    assert refused(uri, "feedback", publish("", "evt-dispatch-task_completed--feedback.open_callback"))  # around
    assert refused(uri, "gateway", publish("township.dead_letters", ""))  # it consumes no event: nothing to refuse
    assert not refused(uri, "dispatch", publish("township.dead_letters", ""))


def test_a_service_may_read_only_its_own_queues(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    theirs = "evt-intake-demand_received--dispatch.receive_demand"
    conn, admin = channel_of(uri)
    admin.queue_declare(theirs, durable=True, auto_delete=False)
    conn.close()
    assert refused(uri, "feedback", lambda ch: ch.basic_get(theirs))
    assert refused(uri, "feedback", lambda ch: ch.basic_consume(theirs, callback=lambda m: None))
    assert refused(uri, "feedback", lambda ch: ch.basic_get("township.dead_letters"))
    assert not refused(uri, "dispatch", lambda ch: ch.basic_get(theirs))
    assert not refused(uri, "gateway", lambda ch: ch.basic_get("township.dead_letters"))  # /dead-letters


def test_a_service_binds_only_its_own_queues_and_only_to_what_it_consumes(rabbit_config):
    """Binding a queue of its own to another service's RPC key would copy that service's requests (with their
    callers' principals); binding to events it does not consume would copy other people's data."""
    uri = rabbit_config["AMQP_URI"]
    key = str(uuid.uuid4())
    reply = f"rpc.reply-feedback-{key}"

    def own_reply_queue_bound_to(routing_key):
        def action(ch):
            ch.queue_declare(reply, auto_delete=True)
            ch.queue_bind(reply, "nameko-rpc", routing_key)
        return action

    assert not refused(uri, "feedback", own_reply_queue_bound_to(key))
    assert refused(uri, "feedback", own_reply_queue_bound_to("dispatch.*"))
    assert refused(uri, "feedback", own_reply_queue_bound_to("#"))

    def own_event_queue_bound(exchange, routing_key):
        queue = "evt-dispatch-task_completed--feedback.open_callback"
        return lambda ch: (ch.queue_declare(queue, durable=True, auto_delete=False),
                           ch.queue_bind(queue, exchange, routing_key))

    assert not refused(uri, "feedback", own_event_queue_bound("dispatch.events", "task_completed"))
    assert refused(uri, "feedback", own_event_queue_bound("dispatch.events", "case_escalated"))
    assert refused(uri, "feedback", own_event_queue_bound("dispatch.events", "#"))
    assert refused(uri, "feedback", lambda ch: ch.queue_declare("evt-dispatch-task_completed--dispatch.spy"))


def test_no_service_declares_or_deletes_what_is_shared(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    for name in ("dispatch.events", "nameko-rpc", "township.dead_letters"):
        assert refused(uri, "feedback", lambda ch: ch.exchange_delete(name)), name
    assert refused(uri, "dispatch", lambda ch: ch.exchange_declare("dispatch.events", "topic", durable=True,
                                                                    auto_delete=False))
    assert refused(uri, "gateway", lambda ch: ch.queue_delete("township.dead_letters"))


def test_provisioning_is_idempotent_and_what_it_grants_is_what_the_broker_has(rabbit_config, bus_admin):
    bus.provision(bus_admin, rabbit_config["vhost"])
    bus.provision(bus_admin, rabbit_config["vhost"])
    vhost = quote(rabbit_config["vhost"], safe="")
    for g in bus.grants():
        got = requests.get(f"{bus_admin.base}/permissions/{vhost}/{quote(g.user, safe='')}",
                           auth=bus_admin.session.auth, timeout=10).json()
        assert (got["configure"], got["write"], got["read"]) == (g.configure, g.write, g.read)
        topics = requests.get(f"{bus_admin.base}/topic-permissions/{vhost}/{quote(g.user, safe='')}",
                              auth=bus_admin.session.auth, timeout=10).json()
        assert {t["exchange"]: (t["write"], t["read"]) for t in topics} == g.topics
