"""Folding figures on the real MongoDB-compatible server: each event counts once, whenever it comes back, and a
day document stays small however busy the day."""
import pytest

from feedback.repository import RECENT_APPLIED, FeedbackRepository

pytestmark = pytest.mark.integration
PERIODS = {"day": "2026-11-29", "month": "2026-11", "year": "2026"}
DAY_ID = "qingshui:2026-11-29"


@pytest.fixture
def figures_repo(mongo_client, db_prefix):
    repo = FeedbackRepository(mongo_client[f"{db_prefix}_feedback"])
    repo.ensure_indexes()
    return repo


def fold(repo, event_id, n=1):
    return repo.apply_figures("qingshui", PERIODS, [("actor", "unit:water_station", "dispatched", n)], event_id)


def dispatched(repo):
    return repo.read_figures("qingshui", "day", "2026-11-29")["actor"]["unit:water_station"]["dispatched"]


def test_a_redelivered_event_counts_once_even_after_its_id_left_the_window(figures_repo):
    assert fold(figures_repo, "e-first") is True
    for i in range(RECENT_APPLIED + 5):
        fold(figures_repo, f"e-{i}")
    day = figures_repo.figures.find_one({"_id": DAY_ID})
    assert "e-first" not in day["applied"] and len(day["applied"]) == RECENT_APPLIED
    assert fold(figures_repo, "e-first") is False
    assert dispatched(figures_repo) == RECENT_APPLIED + 6


def test_a_crash_between_the_count_and_the_marker_does_not_count_twice(figures_repo):
    assert fold(figures_repo, "e-crash") is True
    figures_repo.folded_events.delete_one({"_id": "e-crash"})  # the process died before it wrote the marker
    assert fold(figures_repo, "e-crash") is False
    assert figures_repo.folded_events.find_one({"_id": "e-crash"})["day"] == DAY_ID
    assert dispatched(figures_repo) == 1
