"""The in-document outbox against the real MongoDB-compatible server: interleavings of flushes, sweeps and writes
that a broker outage produces (a publish blocked for seconds in kombu's retries while others go on)."""
from datetime import datetime, timedelta, timezone

import pytest

from township_shared import outbox

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def box(mongo_client, db_prefix):
    b = outbox.Outbox(mongo_client[f"{db_prefix}_outbox"]["docs"])
    b.ensure_indexes()
    return b


def event(ident):
    return {"id": ident, "type": "thing_happened", "payload": {}}


def write(box, doc_id, *events, now=T0):
    box.collection.update_one({"_id": doc_id}, outbox.push({"$set": {"touched": True}}, list(events), now))
    return box.collection.find_one({"_id": doc_id})


def pending(box, doc_id):
    return [e["id"] for e in (box.collection.find_one({"_id": doc_id}).get("outbox") or [])]


class Broker:
    """A publish function that records what it sent and refuses while ``down``."""

    def __init__(self):
        self.sent, self.down = [], False

    def __call__(self, ev):
        if self.down:
            raise ConnectionResetError("broker restarting")
        self.sent.append(ev["id"])


def test_a_late_clear_never_removes_an_event_written_after_it(box):
    """Chaos run 3 lost a ``task_completed`` this way: a flush of the earlier ``task_signed`` was blocked in
    publish retries long enough for the sweep to send and clear it; the case then got ``task_completed`` whose own
    publish failed (broker down); the blocked flush returned and its clear, matched by a revision counter that had
    restarted at 1, removed the unsent event."""
    box.collection.insert_one(outbox.attach({"_id": "case1"}, [event("signed")], T0))
    stale = box.collection.find_one({"_id": "case1"})
    broker = Broker()
    assert outbox.sweep(box, broker, T0 + timedelta(seconds=10), timedelta(seconds=5)) == 1
    assert pending(box, "case1") == []

    doc = write(box, "case1", event("completed"))
    broker.down = True
    with pytest.raises(ConnectionResetError):
        outbox.flush(box, doc, broker)
    broker.down = False
    outbox.flush(box, stale, broker)

    assert pending(box, "case1") == ["completed"]
    later = T0 + timedelta(seconds=20)
    assert outbox.sweep(box, broker, later, timedelta(seconds=5)) == 1
    assert broker.sent == ["signed", "signed", "completed"]
    assert pending(box, "case1") == []
    assert box.collection.count_documents({"outbox_since": {"$exists": True}}) == 0


def test_a_clear_keeps_what_was_pushed_after_the_read(box):
    box.collection.insert_one(outbox.attach({"_id": "case2"}, [event("a")], T0))
    first = box.collection.find_one({"_id": "case2"})
    write(box, "case2", event("b"))
    broker = Broker()
    outbox.flush(box, first, broker)
    assert pending(box, "case2") == ["b"]
    assert outbox.sweep(box, broker, T0 + timedelta(seconds=10), timedelta(seconds=5)) == 1
    assert broker.sent == ["a", "b"]


def test_a_document_left_with_an_empty_outbox_leaves_the_sweep(box):
    """A pending marker without events must not stay due forever: the sweep reads at most ``limit`` documents
    in ``outbox_since`` order, so enough such documents would hide every real pending event behind them."""
    for i in range(3):
        box.collection.insert_one({"_id": f"empty{i}", "outbox": [], "outbox_since": T0, "outbox_rev": 4})
    box.collection.insert_one(outbox.attach({"_id": "real"}, [event("x")], T0 + timedelta(seconds=1)))
    broker = Broker()
    assert outbox.sweep(box, broker, T0 + timedelta(seconds=10), timedelta(seconds=5), limit=3) == 0
    assert outbox.sweep(box, broker, T0 + timedelta(seconds=10), timedelta(seconds=5), limit=3) == 1
    assert broker.sent == ["x"]
    assert box.collection.count_documents({"outbox_since": {"$exists": True}}) == 0
