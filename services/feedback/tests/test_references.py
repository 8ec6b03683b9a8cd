"""Feedback acts only on tasks dispatch confirms and callbacks it has (decisions 51, 52), on the real
MongoDB-compatible server with a fake dispatch."""
from datetime import datetime, timezone

import pytest

from township_shared.errors import Refused, Unavailable
from township_shared.events import load_event, make_event
from township_shared.schemas.dispatch import CaseReopenedV1, TaskCompletedV1, TaskSignedV1

from feedback import domain, handlers
from feedback.repository import FeedbackRepository

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 29, 3, tzinfo=timezone.utc)
WATER = {"kind": "unit", "id": "water_station"}
TASK = {"case_id": "c1", "task_id": "c1.1", "assignee": WATER, "role": "lead", "category": "drinking_water",
        "village": "dongpo"}


class FakeDispatch:
    """Dispatch's ``task_facts`` over a dict of tasks; counts the questions; ``down`` makes it unavailable."""

    def __init__(self, *tasks, down=False):
        self.tasks = {(t["township_id"], t["case_id"], t["task_id"]): t for t in tasks}
        self.asked, self.down = 0, down

    def task_facts(self, township_id, case_id, task_id):
        self.asked += 1
        if self.down:
            raise Unavailable("dispatch did not answer within 5 s")
        found = self.tasks.get((township_id, case_id, task_id))
        return None if found is None else {k: v for k, v in found.items() if k != "township_id"}


def facts(**changes):
    return {"township_id": "qingshui", "case_id": "c1", "task_id": "c1.1", "assignee": WATER, "role": "lead",
            "status": "completed", **changes}


def completed(township="qingshui", **changes):
    return load_event(make_event(TaskCompletedV1, {**TASK, "reply": "done", "attachments": [], "completed_at": NOW,
                                                   "on_time": True, "handling_seconds": 3600.0, **changes},
                                 source="dispatch", township_id=township, correlation_id="c1"))


def signed(**changes):
    return load_event(make_event(TaskSignedV1, {**TASK, "signed_at": NOW, "within_deadline": True,
                                                "lead_now": False, **changes},
                                 source="dispatch", township_id="qingshui", correlation_id="c1"))


@pytest.fixture
def repo(mongo_client, db_prefix):
    repo = FeedbackRepository(mongo_client[f"{db_prefix}_feedback"])
    repo.ensure_indexes()
    return repo


def test_a_task_dispatch_confirms_is_asked_about_once(repo):
    dispatch = FakeDispatch(facts())
    assert handlers.open_callback(repo, dispatch, completed(), NOW)["_id"] == "c1.1"
    handlers.check_task(repo, dispatch, signed())
    assert dispatch.asked == 1
    assert repo.known_task("c1.1") == {"_id": "c1.1", "township_id": "qingshui", "case_id": "c1",
                                       "assignee": WATER}


@pytest.mark.parametrize("event, field", [
    (completed(task_id="c9.1", case_id="c9"), "payload.task_id"),     # no such task at dispatch
    (completed(township="baiyun"), "payload.task_id"),                # the task of another township
    (completed(assignee={"kind": "unit", "id": "power_station"}), "payload.assignee"),
])
def test_a_task_dispatch_does_not_have_opens_no_callback(repo, event, field):
    with pytest.raises(Refused) as refused:
        handlers.open_callback(repo, FakeDispatch(facts()), event, NOW)
    assert refused.value.body["field"] == field
    assert repo.get_callback(event.township_id, event.payload["task_id"]) is None


def test_a_known_task_under_another_case_or_unit_is_refused_without_asking(repo):
    dispatch = FakeDispatch(facts())
    handlers.check_task(repo, dispatch, signed())
    for event, field in ((signed(case_id="c2"), "payload.case_id"),
                         (signed(assignee={"kind": "unit", "id": "power_station"}), "payload.assignee")):
        with pytest.raises(Refused) as refused:
            handlers.check_task(repo, dispatch, event)
        assert refused.value.body["field"] == field
    assert dispatch.asked == 1


def test_dispatch_unavailable_leaves_the_event_for_later_and_remembers_nothing(repo):
    with pytest.raises(Unavailable):
        handlers.open_callback(repo, FakeDispatch(facts(), down=True), completed(), NOW)
    assert repo.known_task("c1.1") is None and repo.get_callback("qingshui", "c1.1") is None


def test_a_reopening_names_a_callback_feedback_has(repo):
    repo.insert_callback(domain.new_callback("c1", "c1.1", "qingshui", WATER, "dongpo", "drinking_water", "done",
                                             NOW))

    def reopened(**changes):
        return load_event(make_event(CaseReopenedV1, {
            "case_id": "c1", "callback_id": "c1.1", "unit": WATER, "village": "dongpo",
            "category": "drinking_water", "reason": "水压不足", "stage": "handling", **changes},
            source="dispatch", township_id="qingshui", correlation_id="c1"))

    handlers.check_references(repo, FakeDispatch(), reopened())
    for event, field in ((reopened(callback_id="c1.9"), "payload.callback_id"),
                         (reopened(case_id="c2"), "payload.case_id"),
                         (reopened(unit={"kind": "unit", "id": "power_station"}), "payload.unit")):
        with pytest.raises(Refused) as refused:
            handlers.check_references(repo, FakeDispatch(), event)
        assert refused.value.body["field"] == field
