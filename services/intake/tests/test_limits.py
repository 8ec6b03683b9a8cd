"""Limits on public demand submission (decision 55): the rules alone, then the counters against the real
MongoDB-compatible server, concurrent takers included, and the handler: over a limit nothing is stored."""
from datetime import datetime, timedelta, timezone

import eventlet
import pytest

from intake import handlers, limits
from intake.repository import DemandRepository
from township_shared.errors import TooManyRequests

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def submission(i=0, phone="13900000001"):
    return {"channel": "online", "reporter": {"name": f"居民{i}", "phone": phone, "village": "dongpo"},
            "village": "dongpo", "category": "roads_bridges", "title": f"路面坑洼 {i}", "description": "坑很深",
            "location": None, "attachments": []}


def test_limits_come_from_config_with_defaults():
    assert limits.from_config({}) == (limits.Limit("address", 60, HOUR), limits.Limit("phone", 10, 24 * HOUR))
    got = limits.from_config({"RATE_LIMIT_PER_ADDRESS": "0", "RATE_LIMIT_PER_PHONE": 3,
                              "RATE_LIMIT_PHONE_WINDOW_MINUTES": "30"})
    assert not got[0].active and got[1] == limits.Limit("phone", 3, timedelta(minutes=30))


def test_counters_hold_no_address_or_number():
    counter = limits.counter_id("qingshui", "phone", "+8613900000001")
    assert counter.startswith("qingshui:phone:") and "13900000001" not in counter
    assert counter != limits.counter_id("baiyun", "phone", "+8613900000001")


def test_retry_after_is_when_the_oldest_leaves_the_window():
    assert limits.retry_after(T0, HOUR, T0 + timedelta(minutes=59, seconds=30)) == 30
    assert limits.retry_after(T0, HOUR, T0 + HOUR) == 1
    assert limits.describe(HOUR) == "1 hour" and limits.describe(timedelta(minutes=90)) == "90 minutes"


INTEGRATION = pytest.mark.integration


@INTEGRATION
def test_a_sliding_window_admits_count_then_one_more_per_slot_freed(repo):
    take = lambda at, slot: repo.take_slot("qingshui:address:k", "qingshui", at, 3, HOUR, slot)  # noqa: E731
    assert [take(T0 + timedelta(minutes=m), f"s{m}") for m in (0, 10, 20)] == [None] * 3
    assert take(T0 + timedelta(minutes=30), "s30") == T0  # refused: the oldest is still in the window
    assert take(T0 + timedelta(minutes=59), "s59") == T0
    assert take(T0 + timedelta(minutes=60), "s60") is None  # the first left the window
    assert take(T0 + timedelta(minutes=61), "s61") == T0 + timedelta(minutes=10)
    repo.release_slot("qingshui:address:k", "s60")
    assert take(T0 + timedelta(minutes=62), "s62") is None
    doc = repo.limits.find_one({"_id": "qingshui:address:k"})
    assert [e["slot"] for e in doc["entries"]] == ["s10", "s20", "s62"]
    assert doc["expires_at"] == T0 + timedelta(minutes=62) + HOUR
    assert "expires_at" in {k for ix in repo.limits.list_indexes() for k in ix["key"]}


@INTEGRATION
def test_concurrent_takers_on_two_clients_never_exceed_the_limit(repo, mongo_uri, db_prefix):
    """Two repositories on their own connections, as two intake instances behind two gateways would be."""
    from township_shared.mongo import make_client

    other_client = make_client(mongo_uri)
    try:
        other = DemandRepository(other_client[f"{db_prefix}_intake"])
        pool = eventlet.GreenPool(40)
        results = list(pool.imap(lambda i: (repo if i % 2 else other).take_slot(
            "qingshui:phone:race", "qingshui", T0 + timedelta(milliseconds=i), 7, HOUR, f"s{i}"), range(40)))
    finally:
        other_client.close()
    assert sum(r is None for r in results) == 7
    assert len(repo.limits.find_one({"_id": "qingshui:phone:race"})["entries"]) == 7


@INTEGRATION
def test_over_a_limit_nothing_is_stored_and_the_answer_says_when_to_retry(repo):
    rules = (limits.Limit("address", 3, HOUR), limits.Limit("phone", 2, 24 * HOUR))
    submit = lambda i, at, client="198.51.100.9", phone="13900000001": handlers.submit_demand(  # noqa: E731
        repo, at, "qingshui", submission(i, phone), None, client, rules)
    submit(1, T0)
    submit(2, T0 + timedelta(minutes=5))
    with pytest.raises(TooManyRequests) as refused:  # third from this phone within a day
        submit(3, T0 + timedelta(minutes=10))
    assert refused.value.body["limit"] == "phone" and refused.value.body["retry_after"] == 24 * 3600 - 600
    submit(4, T0 + timedelta(minutes=15), phone="13900000002")
    with pytest.raises(TooManyRequests) as refused:  # fourth from this address within the hour
        submit(5, T0 + timedelta(minutes=20), phone="13900000003")
    assert refused.value.body["limit"] == "address" and refused.value.body["retry_after"] == 40 * 60
    assert repo.cases.count_documents({}) == 3
    # a refusal took no slot anywhere: the other address gets its demand in for the third phone
    submit(6, T0 + timedelta(minutes=21), client="203.0.113.1", phone="13900000003")
    submit(7, T0 + timedelta(minutes=22), client=None, phone="13900000004")  # an exempt caller is not counted
    assert repo.cases.count_documents({}) == 5


@INTEGRATION
def test_a_replayed_idempotency_key_takes_no_slot(repo):
    rules = (limits.Limit("phone", 1, HOUR),)
    first = handlers.submit_demand(repo, T0, "qingshui", submission(1), "key-1", "198.51.100.9", rules)
    again = handlers.submit_demand(repo, T0 + timedelta(minutes=1), "qingshui", submission(1), "key-1",
                                   "198.51.100.9", rules)
    assert again.replayed and again.case["_id"] == first.case["_id"]
    with pytest.raises(TooManyRequests):
        handlers.submit_demand(repo, T0 + timedelta(minutes=2), "qingshui", submission(2), "key-2", None, rules)
