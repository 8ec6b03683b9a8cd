"""Dead letters carry no personal data (decision 58): a refused event's reporter, phones and comments are replaced
by markers and cut out of the reason and the traceback; an undecodable body is kept as its size and hash only.
Each letter names the township of its envelope, whose office lists it."""
import hashlib
import json
from types import SimpleNamespace

from township_shared.consumers import consumer, undecodable_letter
from township_shared.errors import ValidationFailed
from township_shared.privacy import cut_out, scrub

NAME, PHONE, COMMENT = "张三丰", "13812345678", "王主任收了我家的钱才办"
EVENT = {"id": "e1", "type": "demand_received", "version": 1, "time": "2026-11-29T08:00:00+00:00",
         "source": "intake", "correlation_id": "c1", "township_id": "qingshui",
         "payload": {"case_id": "c1", "village": "dongpo", "category": "drinking_water",
                     "reporter": {"name": NAME, "phone": PHONE, "village": "dongpo"},
                     "location": {"lat": 29.2101, "long": 119.4702, "address": "东坡村三组12号"},
                     "description": f"{NAME}家停水三天，电话{PHONE}", "title": "停水",
                     "answer": {"comment": COMMENT, "satisfaction": "unsatisfied"}}}
SECRETS = (NAME, PHONE, COMMENT, "东坡村三组12号", "29.2101", "119.4702")


class Sink(list):
    def __call__(self, record):
        self.append(record)


class Worker:
    name = "probe"

    def __init__(self, fail):
        self.fail = fail
        self.dead_letters = Sink()

    @consumer
    def handle(self, body):
        raise self.fail(body)


def assert_no_secret(letter):
    text = json.dumps(letter, ensure_ascii=False)
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{leaked} in {text}"


def test_a_refused_event_keeps_its_shape_and_ids_but_no_personal_data():
    worker = Worker(lambda body: ValidationFailed({"payload.reporter.phone": [f"{PHONE} is not a number"]}))
    worker.handle(EVENT)
    [letter] = worker.dead_letters
    assert_no_secret(letter)
    assert letter["township_id"] == "qingshui" and letter["error"] == "ValidationFailed"
    payload = letter["body"]["payload"]
    assert (payload["case_id"], payload["village"], payload["category"]) == ("c1", "dongpo", "drinking_water")
    assert payload["reporter"] == {"name": "<removed: 3 characters>", "phone": "<removed: 11 characters>",
                                   "village": "<removed: 6 characters>"}
    assert payload["answer"] == {"comment": f"<removed: {len(COMMENT)} characters>", "satisfaction": "unsatisfied"}
    assert payload["location"]["lat"] == "<removed: float>"
    assert letter["details"]["fields"] == {"payload.reporter.phone": ["<removed> is not a number"]}
    assert "<removed>" in letter["reason"]


def test_a_bug_quoting_a_phone_leaves_it_out_of_the_traceback():
    worker = Worker(lambda body: ValueError(f"invalid literal for int() with base 10: {body['payload']['reporter']}"))
    worker.handle(EVENT)
    [letter] = worker.dead_letters
    assert_no_secret(letter)
    assert "ValueError" in letter["traceback"] and letter["traceback"].count("<removed>") >= 2


def test_a_letter_without_a_township_names_none():
    worker = Worker(lambda body: ValidationFailed({"township_id": ["missing"]}))
    worker.handle(["not", "an", "envelope"])
    worker.handle({**EVENT, "township_id": {"$ne": 1}})
    assert [letter["township_id"] for letter in worker.dead_letters] == [None, None]


def test_an_undecodable_body_is_kept_as_its_size_and_hash_only():
    raw = f'{{"reporter": {{"phone": "{PHONE}", "name": "{NAME}"'.encode()
    message = SimpleNamespace(body=raw, content_type="application/json", content_encoding="utf-8",
                              delivery_info={"exchange": "intake.events", "routing_key": "demand_received"})
    letter = undecodable_letter("dispatch", "receive_demand", message, ValueError("Expecting ',' delimiter"))
    assert_no_secret(letter)
    assert letter["body"] is None and letter["size"] == len(raw)
    assert letter["sha256"] == hashlib.sha256(raw).hexdigest() and letter["township_id"] is None
    assert (letter["error"], letter["routing_key"]) == ("UndecodableMessage", "demand_received")
    again = undecodable_letter("dispatch", "receive_demand", message, ValueError("Expecting ',' delimiter"))
    assert again["letter_id"] == letter["letter_id"]


def test_scrub_marks_every_leaf_under_a_personal_key_and_collects_them():
    found = []
    assert scrub({"note": ["a", {"x": 12345}], "id": "k", "phone": None, "names": True}, found=found) == {
        "note": ["<removed: 1 characters>", {"x": "<removed: int>"}], "id": "k", "phone": None,
        "names": "<removed: bool>"}
    assert found == ["a", "12345"]
    assert cut_out("call 12345 or a", found) == "call <removed> or a"  # too short to cut: "a"
