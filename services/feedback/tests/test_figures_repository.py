"""Figures on the real MongoDB-compatible server (decision 32): every event counts once in its day, month and year,
whenever it comes back and wherever a fold stops; the historical import fills months and years once."""
from datetime import datetime, timedelta, timezone

import eventlet
import pytest

from township_shared.clock import FixedClock

from feedback import figures as figures_module
from feedback.figures import FiguresRepository

pytestmark = pytest.mark.integration
PERIODS = {"day": "2026-11-29", "month": "2026-11", "year": "2026"}
NEXT_DAY = {"day": "2026-11-30", "month": "2026-11", "year": "2026"}
NEXT_YEAR = {"day": "2027-01-01", "month": "2027-01", "year": "2027"}
AT = datetime(2026, 11, 29, 3, tzinfo=timezone.utc)


@pytest.fixture
def db(mongo_client, db_prefix):
    return mongo_client[f"{db_prefix}_feedback"]


@pytest.fixture
def figures_repo(db):
    repo = FiguresRepository(db)
    repo.ensure_indexes()
    return repo


@pytest.fixture
def clock():
    return FixedClock(AT)


def record(repo, event_id, periods=PERIODS, n=1, key="unit:water_station", counter="dispatched"):
    return repo.record("qingshui", periods, [("actor", key, counter, n), ("village", "dongpo", counter, n)],
                       event_id, AT)


def dispatched(repo, period="day", at="2026-11-29", key="unit:water_station"):
    return repo.read_figures("qingshui", period, at).get("actor", {}).get(key, {}).get("dispatched", 0)


def every_period(repo, periods=PERIODS, key="unit:water_station"):
    return [dispatched(repo, period, periods[period], key) for period in ("day", "month", "year")]


def test_a_fold_adds_each_event_to_its_day_month_and_year(figures_repo, clock):
    record(figures_repo, "e1")
    record(figures_repo, "e2", n=2)
    record(figures_repo, "e3", NEXT_DAY)
    record(figures_repo, "e4", NEXT_YEAR)
    assert figures_repo.fold_pending(clock.now) == 4
    assert every_period(figures_repo) == [3, 4, 4]
    assert every_period(figures_repo, NEXT_DAY) == [1, 4, 4]
    assert every_period(figures_repo, NEXT_YEAR) == [1, 1, 1]
    assert figures_repo.read_figures("qingshui", "month", "2026-11")["village"]["dongpo"]["dispatched"] == 4
    assert figures_repo.read_figures("qingshui", "year", "2025") == {}
    assert set(figures_repo.read_figures("qingshui", "month", "2026-11", "village")) == {"village"}
    assert figures_repo.pending() == 0


def test_a_redelivered_event_counts_once_whenever_it_comes_back(figures_repo, clock):
    assert record(figures_repo, "e-first") is True
    figures_repo.fold_pending(clock.now)
    for i in range(figures_module.RECENT_BATCHES + 5):  # far more batches than any document remembers
        record(figures_repo, f"e-{i}")
        figures_repo.fold_pending(clock.now)
    assert record(figures_repo, "e-first") is False
    assert figures_repo.fold_pending(clock.now) == 0
    assert every_period(figures_repo) == [figures_module.RECENT_BATCHES + 6] * 3


def test_an_event_marked_before_this_design_is_not_journalled_again(figures_repo, db):
    db["folded_events"].insert_one({"_id": "e-old", "township_id": "qingshui", "day": "qingshui:2026-11-29"})
    assert record(figures_repo, "e-old") is False
    assert figures_repo.pending() == 0


class Crash(Exception):
    pass


def crash_after(repo, monkeypatch, documents):
    """Make the next fold die after ``documents`` period documents took its batch."""
    real, calls = repo._add, []

    def add(*args, **kwargs):
        if len(calls) == documents:
            raise Crash()
        calls.append(args[1])
        return real(*args, **kwargs)
    monkeypatch.setattr(repo, "_add", add)
    return lambda: monkeypatch.setattr(repo, "_add", real)


@pytest.mark.parametrize("documents", [0, 1, 2])
def test_a_fold_that_dies_midway_is_finished_once_by_recovery(figures_repo, clock, monkeypatch, documents):
    record(figures_repo, "e1")
    record(figures_repo, "e2")
    figures_repo.fold_pending(clock.now)
    record(figures_repo, "e3")
    restore = crash_after(figures_repo, monkeypatch, documents)
    with pytest.raises(Crash):
        figures_repo.fold_pending(clock.now)
    restore()
    assert figures_repo.pending() == 1
    assert record(figures_repo, "e3") is False  # the redelivery of the message the dead process held
    assert figures_repo.fold_pending(clock.now) == 0  # nothing pending: the entry is in the open batch
    assert figures_repo.recover(clock.now) == 0  # not before the grace: its fold may still be running
    clock.advance(seconds=figures_module.CLAIM_GRACE.total_seconds() + 1)
    assert figures_repo.recover(clock.now) == 1
    assert every_period(figures_repo) == [3, 3, 3]
    assert figures_repo.recover(clock.now) == 0
    assert every_period(figures_repo) == [3, 3, 3]
    assert figures_repo.pending() == 0


class FailingClose:
    """The batches collection of a process that dies when it closes a batch."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def update_one(self, *args, **kwargs):
        raise Crash()


def test_a_fold_that_dies_after_the_documents_but_before_closing_its_batch_counts_once(figures_repo, clock,
                                                                                         monkeypatch):
    record(figures_repo, "e1")
    monkeypatch.setattr(figures_repo, "batches", FailingClose(figures_repo.batches))
    with pytest.raises(Crash):
        figures_repo.fold_pending(clock.now)
    monkeypatch.undo()
    assert every_period(figures_repo) == [1, 1, 1] and figures_repo.pending() == 1
    clock.advance(seconds=60)
    assert figures_repo.recover(clock.now) == 1
    assert every_period(figures_repo) == [1, 1, 1]
    assert figures_repo.pending() == 0


def test_two_processes_folding_at_once_count_each_event_once(db, clock):
    first, second = FiguresRepository(db), FiguresRepository(db)
    first.ensure_indexes()

    def feed(repo, prefix):
        for i in range(40):
            record(repo, f"{prefix}-{i}")
            record(repo, f"shared-{i}")  # both processes got this message (a redelivery)
            repo.fold_pending(clock.now)
            eventlet.sleep(0)
    threads = [eventlet.spawn(feed, first, "a"), eventlet.spawn(feed, second, "b")]
    for t in threads:
        t.wait()
    first.fold_pending(clock.now)
    assert every_period(first) == [120, 120, 120]
    assert first.pending() == 0


def test_many_counters_at_once_take_the_read_and_set_path_with_the_same_result(figures_repo, clock):
    for i in range(figures_module.INC_PATHS):  # one batch with more counters than one $inc takes
        record(figures_repo, f"wide-{i}", key=f"unit:u{i}")
    assert figures_repo.fold_pending(clock.now) == figures_module.INC_PATHS
    record(figures_repo, "narrow", key="unit:u0")
    figures_repo.fold_pending(clock.now)
    assert every_period(figures_repo, key="unit:u0") == [2, 2, 2]
    assert every_period(figures_repo, key="unit:u5") == [1, 1, 1]
    day = figures_repo.figures.find_one({"_id": "qingshui:2026-11-29"})
    assert len(day["batches"]) == 2 and day["v"] == 2
    assert figures_repo.read_figures("qingshui", "year", "2026")["village"]["dongpo"]["dispatched"] == 65
    doc = figures_repo.periods["month"].find_one({"_id": "qingshui:2026-11"})
    assert figures_repo._add(figures_repo.periods["month"], doc["_id"], {}, {
        f"c.actor.unit:u{i}.dispatched": 1 for i in range(figures_module.INC_PATHS + 1)}, doc["batches"][0]) is False
    assert every_period(figures_repo, key="unit:u5") == [1, 1, 1]


def day_doc(day, n):
    month, year = day[:7], day[:4]
    return {"_id": f"benchtown:{day}", "township_id": "benchtown", "day": day, "month": month, "year": year,
            "c": {"actor": {"unit:a": {"dispatched": n, "handling_seconds": 1.5 * n}}, "village": {"x": {"signed": n}}}}


def test_the_historical_import_fills_months_and_years_once_in_any_grouping(figures_repo):
    days = [day_doc("2025-12-31", 1), day_doc("2026-01-01", 2), day_doc("2026-01-15", 4), day_doc("2026-02-01", 8)]
    figures_repo.load_day_figures(days[:3])
    figures_repo.load_day_figures(days[1:])  # a rerun after a failure, grouped differently
    read = lambda period, at: figures_repo.read_figures("benchtown", period, at)  # noqa: E731
    assert read("month", "2026-01")["actor"]["unit:a"] == {"dispatched": 6, "handling_seconds": 9.0}
    assert read("year", "2026")["village"]["x"]["signed"] == 14
    assert read("year", "2025")["actor"]["unit:a"]["dispatched"] == 1
    assert read("day", "2026-01-15")["actor"]["unit:a"]["dispatched"] == 4


def test_an_import_that_died_after_storing_its_days_is_completed_by_running_it_again(figures_repo, monkeypatch):
    days = [day_doc("2026-03-01", 1), day_doc("2026-03-02", 2)]
    monkeypatch.setattr(figures_repo, "roll_up", lambda docs: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        figures_repo.load_day_figures(days)
    monkeypatch.undo()
    assert figures_repo.read_figures("benchtown", "month", "2026-03") == {}
    figures_repo.load_day_figures(days)
    figures_repo.load_day_figures(days)
    assert figures_repo.read_figures("benchtown", "month", "2026-03")["actor"]["unit:a"]["dispatched"] == 3


def test_live_folds_and_an_import_of_the_same_year_add_up(figures_repo, clock):
    record(figures_repo, "live")
    figures_repo.fold_pending(clock.now)
    old = {**day_doc("2026-01-02", 5), "_id": "qingshui:2026-01-02", "township_id": "qingshui"}
    old["c"]["actor"] = {"unit:water_station": {"dispatched": 5}}
    figures_repo.load_day_figures([old])
    assert dispatched(figures_repo, "year", "2026") == 6


def test_backfill_adds_day_documents_written_before_months_and_years_existed(figures_repo, db):
    db["figures"].insert_one({**day_doc("2026-05-05", 7), "applied": ["e1"]})  # as decision 19 left it
    assert figures_repo.backfill() == 1
    assert figures_repo.backfill() == 1  # again: nothing changes
    assert figures_repo.read_figures("benchtown", "year", "2026")["actor"]["unit:a"]["dispatched"] == 7


def test_a_fold_takes_the_period_of_the_event_not_of_the_clock(figures_repo):
    late = FixedClock(AT + timedelta(days=400))
    record(figures_repo, "e1")
    figures_repo.fold_pending(late.now)
    assert every_period(figures_repo) == [1, 1, 1]
