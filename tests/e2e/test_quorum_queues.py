"""``AMQP_QUEUE_TYPE=quorum`` (decision 80): every service declares its lasting queues as quorum queues, which a
RabbitMQ cluster replicates, and the platform works on them end to end (a demand becomes a task, an undecodable
message reaches the dead-letter queue). The local broker is a single node: quorum queues work there too, with
one replica."""
import time

import pytest
import requests
from kombu import Connection, Exchange, Producer

from township_shared.consumers import DEAD_LETTERS
from township_shared.events import load_event

pytestmark = pytest.mark.integration


@pytest.fixture
def service_config(service_config, bus_admin, rabbit_config):
    """The test's vhost as a quorum deployment's: its dead-letter queue declared again by the administrator as a
    quorum queue (``township_shared.bus.provision_vhost``)."""
    from urllib.parse import quote

    from township_shared import bus

    vhost = quote(rabbit_config["vhost"], safe="")
    bus_admin.session.delete(f"{bus_admin.base}/queues/{vhost}/{quote(DEAD_LETTERS, safe='')}",
                             timeout=10).raise_for_status()
    bus.provision_vhost(bus_admin, rabbit_config["vhost"], queue_type="quorum")
    return {**service_config, "AMQP_QUEUE_TYPE": "quorum"}


def test_every_lasting_queue_is_a_quorum_queue_and_the_platform_works_on_them(
        stack, http_base, service_config, rabbit_config, rabbit_manager, event_listener):
    listener = event_listener("dispatch", "task_assigned")
    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "停水三天", "description": "东坡村三组停水三天了"}
    res = requests.post(f"{http_base}/api/v1/demands", json=body, timeout=15)
    assert res.status_code == 201, res.text
    assigned = load_event(listener.next(timeout=20))
    assert assigned.correlation_id == res.json()["id"]

    with Connection(service_config["AMQP_URI"]) as conn:   # an undecodable body: dispatch dead-letters it
        Producer(conn.channel()).publish(b"\xff not json", exchange=Exchange("intake.events", type="topic"),
                                         routing_key="demand_received", content_type="application/json",
                                         content_encoding="utf-8")
    vhost = rabbit_config["vhost"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        queues = {q["name"]: q for q in rabbit_manager.get_queues(vhost)}
        if DEAD_LETTERS in queues and queues[DEAD_LETTERS].get("messages", 0) >= 1:
            break
        time.sleep(0.5)
    assert DEAD_LETTERS in queues

    lasting = {name: q for name, q in queues.items() if q["durable"] and not q["exclusive"]
               and not q["auto_delete"] and "x-expires" not in q.get("arguments", {})}
    assert {"rpc-intake", "rpc-dispatch", "evt-intake-demand_received--dispatch.receive_demand",
            DEAD_LETTERS} <= set(lasting)
    classic = sorted(name for name, q in lasting.items() if q["type"] != "quorum")
    assert not classic, f"lasting queues that are not quorum queues: {classic}"
    replies = [q for name, q in queues.items() if name.startswith("rpc.reply-")]
    assert replies and all(q["type"] == "classic" for q in replies), "reply queues expire: they stay classic"
