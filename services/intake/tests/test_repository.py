"""Integration tests of intake's repository and handlers against the real MongoDB-compatible server."""
from datetime import datetime, timedelta, timezone

import pytest

from intake import handlers
from township_shared import outbox
from township_shared.errors import Conflict, NotFound, Refused, ValidationFailed
from township_shared.events import load_event, make_event
from township_shared.schemas.dispatch import CaseStatusChangedV1

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 29, 1, 0, tzinfo=timezone.utc)


def submission(i=0, **over):
    base = {"channel": "hotline", "reporter": {"name": f"居民{i}", "phone": f"139{i:08d}", "village": "dongpo"},
            "village": "dongpo", "category": "roads_bridges", "title": f"路面坑洼 {i}", "description": "坑很深",
            "location": None, "attachments": []}
    base.update(over)
    return base


def test_every_listing_query_has_its_index(repo):
    names = {ix["name"] for ix in repo.cases.list_indexes()}
    assert {"township_seq", "township_village_seq", "township_category_seq", "township_status_seq",
            "township_channel_seq", "township_idempotency_key", "duplicate_candidates"} <= names


def test_case_numbers_count_per_local_day_and_township(repo):
    a = handlers.submit_demand(repo, T0, "qingshui", submission(1)).case
    b = handlers.submit_demand(repo, T0 + timedelta(minutes=1), "qingshui", submission(2)).case
    # 16:30 UTC is 00:30 the next day in Asia/Shanghai: a new local day restarts the count
    c = handlers.submit_demand(repo, T0.replace(hour=16, minute=30), "qingshui", submission(3)).case
    other = handlers.submit_demand(repo, T0, "baiyun", submission(4, village="yunfeng",
                                   reporter={"name": "x", "phone": "13700000000", "village": "yunfeng"})).case
    assert [a["case_number"], b["case_number"], c["case_number"]] == [
        "QS-20261129-0001", "QS-20261129-0002", "QS-20261130-0001"]
    assert other["case_number"] == "BY-20261129-0001"
    assert other["township_id"] == "baiyun" and a["township_id"] == "qingshui"


def test_stored_case_carries_its_pending_event(repo):
    case = handlers.submit_demand(repo, T0, "qingshui", submission(urgency=None)).case
    stored = repo.get_case("qingshui", case["_id"])
    assert stored["urgency"] == "general" and stored["status"] == "received"
    [event] = stored["outbox"]
    assert event["type"] == "demand_received" and event["correlation_id"] == case["_id"]
    assert event["township_id"] == "qingshui" and event["payload"]["case_number"] == case["case_number"]


def test_townships_see_only_their_own_cases(repo):
    case = handlers.submit_demand(repo, T0, "qingshui", submission()).case
    with pytest.raises(NotFound):
        handlers.get_demand(repo, "baiyun", case["_id"])
    items, _ = handlers.list_demands(repo, "baiyun", {"limit": 20})
    assert items == []


def test_unknown_township_and_codes_are_refused_before_writing(repo):
    with pytest.raises(NotFound):
        handlers.submit_demand(repo, T0, "atlantis", submission())
    with pytest.raises(ValidationFailed) as err:
        handlers.submit_demand(repo, T0, "qingshui", submission(village="yunfeng"))
    assert "village" in err.value.body["fields"]
    assert repo.cases.count_documents({}) == 0


def test_idempotency_key_replays_or_conflicts(repo):
    first = handlers.submit_demand(repo, T0, "qingshui", submission(), "key-1")
    again = handlers.submit_demand(repo, T0 + timedelta(seconds=5), "qingshui", submission(), "key-1")
    assert again.replayed and again.case["_id"] == first.case["_id"]
    with pytest.raises(Conflict):
        handlers.submit_demand(repo, T0, "qingshui", submission(title="另一件事"), "key-1")
    assert repo.cases.count_documents({}) == 1


def test_duplicate_links_to_open_case_by_phone(repo):
    first = handlers.submit_demand(repo, T0, "qingshui", submission(1)).case
    dup = handlers.submit_demand(repo, T0 + timedelta(hours=71), "qingshui", submission(1, title="又坏了")).case
    later = handlers.submit_demand(repo, T0 + timedelta(hours=73), "qingshui", submission(1, title="还是坏")).case
    assert dup["duplicate_of"] == first["_id"] and dup["status"] == "duplicate"
    assert dup["outbox"][0]["payload"]["duplicate_of"] == first["_id"]
    assert later["duplicate_of"] is None


def test_duplicate_by_location_from_another_reporter(repo):
    here = {"lat": 29.2101, "long": 119.4702, "address": None}
    first = handlers.submit_demand(repo, T0, "qingshui", submission(1, location=here)).case
    near = {"lat": 29.2110, "long": 119.4702, "address": None}  # about 100 m
    dup = handlers.submit_demand(repo, T0 + timedelta(hours=1), "qingshui", submission(2, location=near)).case
    assert dup["duplicate_of"] == first["_id"]


def _fill(repo, n, vary):
    return [handlers.submit_demand(repo, T0 + timedelta(minutes=i), "qingshui", submission(i, **vary(i))).case
            for i in range(n)]


def test_pages_walk_all_cases_newest_first_without_repeats(repo):
    _fill(repo, 45, lambda i: {"channel": "online" if i % 3 == 0 else "hotline",
                                    "village": "xihe" if i % 5 == 0 else "dongpo"})
    seen, cursor = [], None
    while True:
        items, cursor = handlers.list_demands(repo, "qingshui", {"limit": 10, **({"cursor": cursor} if cursor else {})})
        seen.extend(items)
        if cursor is None:
            break
    assert len(seen) == 45 and len({c["_id"] for c in seen}) == 45
    assert [c["seq"] for c in seen] == sorted((c["seq"] for c in seen), reverse=True)

    online, _ = handlers.list_demands(repo, "qingshui", {"limit": 100, "channel": "online"})
    assert len(online) == 15 and all(c["channel"] == "online" for c in online)
    both, _ = handlers.list_demands(repo, "qingshui", {"limit": 100, "channel": "online", "village": "xihe"})
    assert {c["title"] for c in both} == {f"路面坑洼 {i}" for i in range(0, 45, 15)}


def test_time_range_filter(repo):
    _fill(repo, 30, lambda i: {})
    items, _ = handlers.list_demands(repo, "qingshui", {
        "limit": 100, "received_from": T0 + timedelta(minutes=10), "received_to": T0 + timedelta(minutes=19)})
    assert sorted(c["received_at"] for c in items) == [T0 + timedelta(minutes=m) for m in range(10, 20)]
    with pytest.raises(ValidationFailed):
        handlers.list_demands(repo, "qingshui", {"limit": 5, "received_from": T0, "received_to": T0 - timedelta(1)})


def test_sparse_filter_reaches_old_cases(repo):
    _fill(repo, 300, lambda i: {"category": "education" if i in (3, 250) else "roads_bridges"})
    items, cursor = handlers.list_demands(repo, "qingshui", {"limit": 5, "category": "education"})
    assert [c["title"] for c in items] == ["路面坑洼 250", "路面坑洼 3"] and cursor is None


def test_outbox_flush_clears_and_sweep_finds_only_overdue(repo):
    box = outbox.Outbox(repo.cases)
    a = handlers.submit_demand(repo, T0, "qingshui", submission(1)).case
    b = handlers.submit_demand(repo, T0 + timedelta(seconds=10), "qingshui", submission(2)).case
    published = []
    assert outbox.sweep(box, published.append, T0 + timedelta(seconds=12), timedelta(seconds=5)) == 1
    assert [e["correlation_id"] for e in published] == [a["_id"]]
    assert "outbox" not in repo.get_case("qingshui", a["_id"])
    assert outbox.flush(box, repo.get_case("qingshui", b["_id"]), published.append) == 1
    assert box.due(T0 + timedelta(days=1)) == []


def test_events_pushed_during_publish_stay_pending(repo):
    case = handlers.submit_demand(repo, T0, "qingshui", submission()).case
    stored = repo.get_case("qingshui", case["_id"])
    extra = {"id": "later", "type": "x"}
    repo.cases.update_one({"_id": case["_id"]}, outbox.push({}, [extra], T0))
    outbox.flush(outbox.Outbox(repo.cases), stored, lambda e: None)
    assert [e["id"] for e in repo.get_case("qingshui", case["_id"])["outbox"]] == ["later"]


def test_concurrent_numbering_of_a_fresh_township_gives_distinct_numbers(repo):
    import eventlet

    pool = eventlet.GreenPool(20)
    numbers = list(pool.imap(lambda _: repo.next_numbers("brand-new", "20261129"), range(40)))
    assert sorted(seq for seq, _ in numbers) == list(range(1, 41))
    assert sorted(day for _, day in numbers) == list(range(1, 41))


def status_changed(case_id, case_number, status, outcome, since, seq, township="qingshui"):
    return load_event(make_event(CaseStatusChangedV1, {
        "case_id": case_id, "case_number": case_number, "status": status, "outcome": outcome, "since": since,
        "seq": seq}, source="dispatch", township_id=township, correlation_id=case_id))


def test_status_follows_dispatch_and_a_late_older_announcement_changes_nothing(repo):
    case = handlers.submit_demand(repo, T0, "qingshui", submission(7)).case
    number = case["case_number"]
    assert handlers.follow_status(repo, status_changed(case["_id"], number, "in_progress", None,
                                                       T0 + timedelta(minutes=5), 3))
    assert not handlers.follow_status(repo, status_changed(case["_id"], number, "dispatched", None,
                                                           T0 + timedelta(minutes=1), 2))
    assert not handlers.follow_status(repo, status_changed(case["_id"], number, "in_progress", None,
                                                           T0 + timedelta(minutes=5), 3))
    assert handlers.follow_status(repo, status_changed(case["_id"], number, "closed", "resolved",
                                                       T0 + timedelta(hours=1), 4))
    stored = repo.get_case("qingshui", case["_id"])
    assert (stored["status"], stored["outcome"], stored["status_seq"]) == ("closed", "resolved", 4)


def test_status_of_a_case_intake_does_not_have_is_refused(repo):
    """Another township's case, an unknown case, or a known case under another number: refused, nothing
    written (decision 51)."""
    case = handlers.submit_demand(repo, T0, "qingshui", submission(8)).case
    before = repo.get_case("qingshui", case["_id"])
    for event, field in ((status_changed(case["_id"], case["case_number"], "triage", None, T0, 5, "baiyun"),
                          "payload.case_id"),
                         (status_changed("no-such-case", case["case_number"], "triage", None, T0, 5),
                          "payload.case_id"),
                         (status_changed(case["_id"], "QS-20261129-9999", "triage", None, T0, 5),
                          "payload.case_number")):
        with pytest.raises(Refused) as refused:
            handlers.follow_status(repo, event)
        assert refused.value.body["field"] == field
    assert repo.get_case("qingshui", case["_id"]) == before
