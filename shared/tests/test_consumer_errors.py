"""An event consumer against the real MongoDB-compatible server: a write the server refuses, or a document it cannot
hold, becomes a dead letter with the reason (the same message would fail for ever); an unreachable database is
raised again so the message is requeued (decision 14)."""
import pytest
from pymongo.errors import ServerSelectionTimeoutError

from township_shared.consumers import consumer
from township_shared.mongo import make_client

pytestmark = pytest.mark.integration


class Sink(list):
    def __call__(self, record):
        self.append(record)


class Worker:
    """What ``consumer`` needs of a service: its name and a dead-letter publisher."""

    name = "probe"

    def __init__(self, collection):
        self.collection = collection
        self.dead_letters = Sink()

    @consumer
    def handle(self, body):
        """Does to the database what the body says: each kind is refused by the server or by the encoder."""
        kind = body["kind"]
        if kind == "inc_text":  # the server refuses: $inc on a string
            self.collection.update_one({"_id": "doc"}, {"$inc": {"text": 1}})
        elif kind == "conflict":  # the server refuses: two updates of one path
            self.collection.update_one({"_id": "doc"}, {"$set": {"a": 1, "a.b": 2}})
        elif kind == "too_large":
            self.collection.insert_one({"_id": "big", "blob": "x" * (17 * 1024 * 1024)})
        elif kind == "overflow":
            self.collection.insert_one({"_id": "n", "n": 2**64})
        elif kind == "fine":
            self.collection.update_one({"_id": "doc"}, {"$set": {"ok": True}})


@pytest.fixture
def worker(mongo_client, db_prefix):
    collection = mongo_client[f"{db_prefix}_probe"]["docs"]
    collection.insert_one({"_id": "doc", "text": "not a number"})
    return Worker(collection)


@pytest.mark.parametrize("kind, error", [("inc_text", "WriteError"), ("conflict", "WriteError"),
                                         ("too_large", "DocumentTooLarge"), ("overflow", "OverflowError")])
def test_a_write_the_database_refuses_is_a_dead_letter(worker, kind, error):
    assert worker.handle({"kind": kind}) is None  # not raised: nameko acknowledges, no requeue
    [letter] = worker.dead_letters
    assert (letter["service"], letter["handler"], letter["error"]) == ("probe", "handle", error)
    assert letter["body"] == {"kind": kind} and letter["reason"] and letter["traceback"]


def test_a_handled_message_is_no_dead_letter(worker):
    worker.handle({"kind": "fine"})
    assert worker.dead_letters == [] and worker.collection.find_one({"_id": "doc"})["ok"] is True


def test_an_unreachable_database_is_raised_for_a_requeue(db_prefix):
    client = make_client("mongodb://127.0.0.1:9", serverSelectionTimeoutMS=300)
    worker = Worker(client[f"{db_prefix}_probe"]["docs"])
    with pytest.raises(ServerSelectionTimeoutError):
        worker.handle({"kind": "fine"})
    assert worker.dead_letters == []


class Echo:
    """A consumer that records what it handled, fed with a ``delivery`` as nameko's handler would give it."""

    name = "probe"

    def __init__(self):
        self.dead_letters, self.handled = Sink(), []

    @consumer
    def handle(self, body):
        self.handled.append(body)

    @consumer
    def ask_someone(self, body):
        from township_shared.errors import Unavailable

        raise Unavailable("dispatch did not answer within 5 s")


def envelope(source="dispatch", kind="task_completed"):
    return {"id": "e1", "type": kind, "version": 1, "time": "2026-11-29T01:00:00+00:00", "source": source,
            "correlation_id": None, "township_id": "qingshui", "payload": {}}


@pytest.mark.parametrize("exchange, body, field", [
    ("", envelope(), "exchange"),                                      # put on the queue around the exchange
    ("feedback.events", envelope(), "exchange"),                       # another service's exchange
    ("dispatch.events", envelope(source="feedback"), "source"),        # a source that does not own the exchange
    ("dispatch.events", envelope(kind="callback_recorded"), "type"),   # a type its source does not publish
])
def test_an_event_not_from_its_publishers_exchange_is_refused(exchange, body, field):
    """Decision 51: the exchange names the service, the envelope's source must be it, and ``PUBLISHERS`` must name it
    for the type; the dead letter says which and where the message came from."""
    probe = Echo()
    delivery = {"exchange": exchange, "routing_key": "task_completed", "subscribed": "dispatch"}
    assert probe.handle(body, delivery=delivery) is None
    [letter] = probe.dead_letters
    assert probe.handled == []
    assert (letter["error"], letter["details"]["field"]) == ("Refused", field)
    assert (letter["exchange"], letter["routing_key"]) == (exchange, "task_completed") and letter["reason"]


def test_an_event_from_its_publishers_exchange_is_handled_and_an_unusable_envelope_left_to_validation():
    probe = Echo()
    delivery = {"exchange": "dispatch.events", "routing_key": "task_completed", "subscribed": "dispatch"}
    probe.handle(envelope(), delivery=delivery)
    probe.handle({"type": "task_completed"}, delivery=delivery)  # no source: the schema names what is missing
    assert probe.handled == [envelope(), {"type": "task_completed"}] and probe.dead_letters == []


def test_a_service_that_cannot_answer_now_is_raised_for_a_requeue():
    from township_shared.errors import Unavailable

    probe = Echo()
    with pytest.raises(Unavailable):
        probe.ask_someone(envelope())
    assert probe.dead_letters == []
