"""Upgrades with versioned events (decision 84): an old and a new release of a consumer side by side on one queue,
as during a rolling upgrade, with the product's own consumer machinery (event_handler, consumer, load_event, the
dead-letter queue) and a test event type registered at versions 1 and 2.

The order that keeps every event: (1) the new release, which reads v1 and v2, replaces the old one while
publishers still emit v1; (2) once no old consumer runs, publishers emit v2; (3) v1 is dropped when no v1 is left
in a queue or an outbox. A v2 reaching an old consumer (step 2 too early) is not lost: the old release cannot
read it and dead-letters it, where the office sees it."""
import time
import uuid
from collections import Counter

import pytest
from kombu import Connection, Exchange, Producer
from marshmallow import Schema, fields

from township_shared.consumers import DeadLetterPublisher, consumer, dead_letter_queue, event_handler
from township_shared.errors import ValidationFailed
from township_shared.events import PAYLOAD_SCHEMAS, PUBLISHERS, load_event, make_event, register

pytestmark = pytest.mark.integration
SOURCE = "upgrade_source"
HANDLED: list[tuple[str, str, int, str | None]] = []   # (release, event id, version, colour)


class Widgets:
    """What both releases share: the service name (so one queue) and the dead letters."""

    name = "widgets"
    dead_letters = DeadLetterPublisher()


class OldWidgets(Widgets):
    """Release N: its registry has widget_made v1 only, so ``load_event`` answers a v2 with "no schema"."""

    @event_handler(SOURCE, "widget_made", requeue_on_error=True)
    @consumer
    def made(self, body):
        if body.get("version") != 1:
            raise ValidationFailed({"version": [f"no schema for widget_made v{body.get('version')}"]})
        event = load_event(body, "widget_made")
        HANDLED.append(("old", event.id, event.version, None))


class NewWidgets(Widgets):
    """Release N+1: reads v1 and v2; a v1 widget is taken as a v2 one whose colour is unknown."""

    @event_handler(SOURCE, "widget_made", requeue_on_error=True)
    @consumer
    def made(self, body):
        event = load_event(body, "widget_made")
        colour = event.payload["colour"] if event.version >= 2 else None
        HANDLED.append(("new", event.id, event.version, colour))


@pytest.fixture
def versions():
    class WidgetMadeV1(Schema):
        name = fields.String(required=True)

    class WidgetMadeV2(Schema):
        name = fields.String(required=True)
        colour = fields.String(required=True)

    v1 = register("widget_made", 1, SOURCE)(WidgetMadeV1)
    v2 = register("widget_made", 2, SOURCE)(WidgetMadeV2)
    HANDLED.clear()
    yield v1, v2
    PAYLOAD_SCHEMAS.pop(("widget_made", 1), None)
    PAYLOAD_SCHEMAS.pop(("widget_made", 2), None)
    PUBLISHERS.pop("widget_made", None)


def publish(config, schema, count, **payload):
    ids = []
    with Connection(config["AMQP_URI"]) as conn:
        producer = Producer(conn.channel(), exchange=Exchange(f"{SOURCE}.events", type="topic", durable=True))
        for i in range(count):
            event = make_event(schema, {"name": f"widget {uuid.uuid4().hex[:6]}", **payload}, source=SOURCE,
                               township_id="qingshui", correlation_id=None)
            producer.publish(event, routing_key="widget_made", delivery_mode=2, serializer="json")
            ids.append(event["id"])
    return ids


def dead_letters(config):
    with Connection(config["AMQP_URI"]) as conn:
        queue = conn.SimpleQueue(dead_letter_queue)
        got = []
        while True:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                return got
            got.append(message.payload)
            message.ack()


def settle(ids, dead, config, timeout=20):
    """Wait until every id was handled or dead-lettered; return (handled by release, dead-lettered ids)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead.extend(dead_letters(config))
        done = {h[1] for h in HANDLED} | {d["body"]["id"] for d in dead}
        if set(ids) <= done:
            break
        time.sleep(0.2)
    handled = [h for h in HANDLED if h[1] in ids]
    return handled, [d["body"]["id"] for d in dead if d["body"]["id"] in ids]


def test_old_and_new_consumers_side_by_side_through_a_version_change(versions, container_factory,
                                                                       service_config):
    v1, v2 = versions
    config = service_config
    old, new = container_factory(OldWidgets, config), container_factory(NewWidgets, config)
    old.start()
    new.start()
    dead: list[dict] = []

    # (1) the roll-out: both releases on one queue, publishers still on v1: every event read once, none refused
    ids = publish(config, v1, 40)
    handled, refused = settle(ids, dead, config)
    assert not refused
    assert Counter(h[1] for h in handled) == Counter(ids), "each event handled exactly once"
    assert {h[0] for h in handled} == {"old", "new"}, "both releases consumed (competing consumers)"

    # (2) no old consumer left: publishers move to v2; a v1 still queued (an outbox's) is read too
    old.stop()
    ids2, late_v1 = publish(config, v2, 20, colour="red"), publish(config, v1, 5)
    handled, refused = settle(ids2 + late_v1, dead, config)
    assert not refused and {h[0] for h in handled} == {"new"}
    assert Counter(h[1] for h in handled) == Counter(ids2 + late_v1)
    assert {h[3] for h in handled if h[2] == 2} == {"red"} and {h[3] for h in handled if h[2] == 1} == {None}

    # the wrong order: an old consumer still running when v2 is published. What it gets is refused into the
    # dead letters, with why; nothing is lost
    straggler = container_factory(OldWidgets, config)
    straggler.start()
    ids3 = publish(config, v2, 30, colour="blue")
    handled, refused = settle(ids3, dead, config)
    assert set(h[1] for h in handled) | set(refused) == set(ids3) and not set(h[1] for h in handled) & set(refused)
    assert refused, "the old release got some of the v2 events and refused them"
    reasons = {d["reason"] for d in dead if d["body"]["id"] in refused}
    assert all("no schema for widget_made v2" in r for r in reasons)
