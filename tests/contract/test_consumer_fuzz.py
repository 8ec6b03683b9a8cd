"""Every event consumer fed arbitrary bodies (hypothesis): no exception escapes, nothing is written for a body that
is not a valid event, and each refused body is dead-lettered with a reason: invalid, or naming a case, task or
callback that does not exist (decision 51)."""
import logging
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nameko.testing.services import worker_factory

from township_shared.clock import FixedClock
from township_shared.events import make_event
from township_shared.schemas.demands import DemandReceivedV1
from township_shared.schemas.dispatch import (ActorUpdatedV1, CaseClosedV1, CaseDecisionAppliedV1, CaseEscalatedV2,
                                              CaseReopenedV1, CaseRoutedV1, CaseStatusChangedV1, TaskAssignedV1,
                                              TaskCompletedV1)
from township_shared.schemas.feedback import (CallbackConcludedV1, HotspotDetectedV1, MilestoneVerifiedV1,
                                              ProjectCompletedV1)
from township_shared.schemas.funds import (AllocationRefusedV1, FundsAllocatedV1, ProjectApprovedV1,
                                           ProjectReferredV1)
from township_shared.schemas.meetings import MeetingDecisionMadeV1

pytestmark = pytest.mark.integration

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                        max_size=4), max_leaves=12)
NOW = FixedClock().now()
TASK = {"case_id": "c1", "task_id": "c1.1", "assignee": {"kind": "unit", "id": "water_station"}, "role": "lead",
        "category": "drinking_water", "village": "dongpo"}
VALID = make_event(DemandReceivedV1, {
    "case_id": "c1", "case_number": "QS-20261129-0001", "channel": "hotline",
    "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"}, "village": "dongpo", "location": None,
    "category": "drinking_water", "title": "t", "description": "d", "urgency": "general", "attachments": [],
    "duplicate_of": None, "received_at": NOW}, source="intake", township_id="qingshui",
    correlation_id="c1")
# one valid event of each type the consumers below take, so a mutation reaches their handlers, not only the
# type check
VALID_EVENTS = [VALID, make_event(TaskAssignedV1, {
    **TASK, "urgency": "general", "assigned_at": NOW, "sign_deadline": NOW + timedelta(hours=24),
    "handling_deadline": NOW + timedelta(days=5)}, source="dispatch", township_id="qingshui", correlation_id="c1"),
    make_event(TaskCompletedV1, {**TASK, "reply": "done", "attachments": [], "completed_at": NOW, "on_time": True,
                                 "handling_seconds": 3600.0}, source="dispatch", township_id="qingshui",
               correlation_id="c1"),
    make_event(CaseStatusChangedV1, {"case_id": "c1", "case_number": "QS-20261129-0001", "status": "closed",
                                     "outcome": "resolved", "since": NOW, "seq": 3},
               source="dispatch", township_id="qingshui", correlation_id="c1"),
    make_event(CallbackConcludedV1, {"case_id": "c1", "callback_id": "c1.1", "unit": TASK["assignee"],
                                     "village": "dongpo", "category": "drinking_water", "outcome": "redo",
                                     "reason": "r", "stage": "handling"},
               source="feedback", township_id="qingshui", correlation_id="c1"),
    make_event(CaseReopenedV1, {"case_id": "c1", "callback_id": "c1.1", "unit": TASK["assignee"],
                                "village": "dongpo", "category": "drinking_water", "reason": "r",
                                "stage": "handling"}, source="dispatch", township_id="qingshui",
               correlation_id="c1"),
    make_event(CaseRoutedV1, {"case_id": "c1", "case_number": "QS-20261129-0001", "category": "drinking_water",
                              "village": "dongpo", "lead": TASK["assignee"], "co_handlers": [], "by": "office",
                              "reason": "r", "classified_by": "office"}, source="dispatch",
               township_id="qingshui", correlation_id="c1"),
    *(make_event(schema, {"report_id": "r1", "project": "pfuzz", "organisation": {"kind": "social_org", "id": "so"},
                          "people_served": 3, "hours": 2.0, "verified_by": "office:clerk", **extra},
                 source="feedback", township_id="qingshui", correlation_id="pfuzz")
      for schema, extra in ((MilestoneVerifiedV1, {"milestone": "m1"}), (ProjectCompletedV1, {}))),
    make_event(MeetingDecisionMadeV1, {"meeting_id": "m1", "item_id": "i1", "decided_at": NOW,
                                       "subject": {"kind": "project", "id": "pfuzz"}, "decision": "approve",
                                       "reason": "r", "funding": {"approved_fen": 1000}},
               source="meetings", township_id="qingshui", correlation_id="pfuzz"),
    make_event(ActorUpdatedV1, {"kind": "unit", "id": "water_station", "fields_changed": ["active"],
                                "active": False}, source="dispatch", township_id="qingshui", correlation_id=None),
    make_event(ProjectApprovedV1, {"project_id": "pfuzz", "village": "dongpo",
                                   "proposer": {"kind": "social_org", "id": "so"}, "title": "t",
                                   "approved_fen": 10_000, "advance_percent": 30,
                                   "milestones": [{"name": "m1", "share_percent": 40, "due": NOW.date()}],
                                   "decided_by": "office:clerk", "reason": None},
               source="funds", township_id="qingshui", correlation_id="pfuzz"),
    make_event(CaseEscalatedV2, {"case_id": "c1", "case_number": "QS-20261129-0001", "reason": "overdue",
                                 "detail": "d", "units": [TASK["assignee"]], "title": "t", "village": "dongpo",
                                 "category": None, "urgency": "general", "status": "dispatched"},
               source="dispatch", township_id="qingshui", correlation_id="c1"),
    make_event(CaseClosedV1, {"case_id": "c1", "outcome": "resolved", "reason": "r", "by": "office"},
               source="dispatch", township_id="qingshui", correlation_id="c1"),
    make_event(CaseDecisionAppliedV1, {"decision_id": "m1.c1", "meeting_id": "m1", "item_id": "c1",
                                       "case_id": "c1", "decision": "assign", "applied": True,
                                       "task_ids": ["c1.2"], "reason": None},
               source="dispatch", township_id="qingshui", correlation_id="c1"),
    make_event(HotspotDetectedV1, {"village": "dongpo", "category": "drinking_water", "count": 5,
                                   "window_hours": 24.0, "first_at": NOW, "last_at": NOW, "case_ids": ["c1"]},
               source="feedback", township_id="qingshui", correlation_id=None),
    make_event(MeetingDecisionMadeV1, {"meeting_id": "m1", "item_id": "c1", "decision_id": "m1.c1",
                                       "decided_at": NOW, "subject": {"kind": "case", "id": "c1"},
                                       "decision": "assign", "reason": "r", "assignment": {
                                           "lead": TASK["assignee"], "co_units": [],
                                           "deadline": NOW + timedelta(days=5)}},
               source="meetings", township_id="qingshui", correlation_id="c1"),
    *(make_event(schema, {"project_id": "pfuzz", "village": "dongpo",
                          "proposer": {"kind": "social_org", "id": "so"}, **extra},
                 source="funds", township_id="qingshui", correlation_id="pfuzz")
      for schema, extra in ((ProjectReferredV1, {"title": "t", "requested_fen": 6_000_000,
                                                 "threshold_fen": 5_000_000, "reason": "r"}),
                            (FundsAllocatedV1, {"allocation_id": "a1", "parts": [{"pool": "p", "amount_fen": 1}],
                                                "amount_fen": 1, "allocated_total_fen": 1}),
                            (AllocationRefusedV1, {"decided_by": "meeting:m1", "decision_id": "m1.c1",
                                                   "parts": [{"pool": "p", "amount_fen": 1}], "reason": "r"})))]


def mutated_envelopes(values):
    """Valid envelopes with one field, or one payload field, replaced by one of ``values``."""
    def one(valid):
        field = st.sampled_from(sorted(valid))
        payload_field = st.sampled_from(sorted(valid["payload"]))
        return st.one_of(
            st.tuples(field, values).map(lambda kv: {**valid, kv[0]: kv[1]}),
            st.tuples(payload_field, values).map(
                lambda kv: {**valid, "payload": {**valid["payload"], kv[0]: kv[1]}}))

    return st.one_of([one(valid) for valid in VALID_EVENTS])


class Sink(list):
    def __call__(self, record):
        self.append(record)


class DispatchOf:
    """Feedback's question to dispatch (``task_facts``) answered by dispatch's own handler on its repository."""

    def __init__(self, dispatch_repo):
        self.repo = dispatch_repo

    def task_facts(self, township_id, case_id, task_id):
        from dispatch import handlers

        from township_shared.errors import NotFound

        try:
            return handlers.task_facts(self.repo, township_id, case_id, task_id)
        except NotFound:
            return None


def consumers(intake_repo, dispatch_repo, feedback_repo, identity_repo, funds_repo, meetings_repo):
    from types import SimpleNamespace

    from dispatch.calendar import WorkCalendar
    from dispatch.domain import Policy
    from dispatch.service import DispatchService
    from feedback.service import FeedbackService
    from funds.service import FundsService
    from identity.service import IdentityService
    from intake.service import IntakeService
    from meetings.service import MeetingsService

    routing = SimpleNamespace(policy=Policy(), calendar=WorkCalendar.default())
    settings_ = SimpleNamespace(max_attempts=3, hotspot_min=5, hotspot_window=timedelta(hours=24),
                                timezone="Asia/Shanghai")
    dispatch = worker_factory(DispatchService, repo=dispatch_repo, clock=FixedClock(), routing=routing,
                              dead_letters=Sink())
    feedback = worker_factory(FeedbackService, repo=feedback_repo, clock=FixedClock(), settings=settings_,
                              dead_letters=Sink(), dispatch=DispatchOf(dispatch_repo))
    intake = worker_factory(IntakeService, repo=intake_repo, clock=FixedClock(), dead_letters=Sink())
    identity = worker_factory(IdentityService, repo=identity_repo, clock=FixedClock(), dead_letters=Sink())
    funds = worker_factory(FundsService, repo=funds_repo, clock=FixedClock(), dead_letters=Sink(),
                           settings=SimpleNamespace(threshold_fen=5_000_000, advance_percent=30))
    meetings = worker_factory(MeetingsService, repo=meetings_repo, clock=FixedClock(), dead_letters=Sink())
    return [(dispatch, "receive_demand"), (dispatch, "callback_under_way"), (dispatch, "conclude_callback"),
            (dispatch, "learn_from_routing"), (dispatch, "apply_meeting_decision"),
            (meetings, "gather_escalation"), (meetings, "gather_hotspot"), (meetings, "case_closed"),
            (meetings, "follow_case_decision"), (meetings, "follow_case_status"), (meetings, "settle_decision"),
            (meetings, "gather_project"), (meetings, "follow_allocation"), (meetings, "follow_allocation_refused"),
            (meetings, "follow_project_approved"), (meetings, "follow_project_rejected"),
            (feedback, "watch_hotspots"), (feedback, "open_callback"), (feedback, "fold_task_assigned"),
            (feedback, "fold_callback_recorded"), (feedback, "fold_task_completed"),
            (feedback, "fold_case_reopened"), (intake, "follow_case_status"), (identity, "record_event"),
            (funds, "pay_milestone"), (funds, "pay_completion"), (funds, "follow_meeting_decision"),
            (identity, "revoke_tokens_of_inactive_actor"),
            (feedback, "learn_project")]


@pytest.fixture
def feedback_repo(mongo_client, db_prefix):
    from feedback.repository import FeedbackRepository

    repo = FeedbackRepository(mongo_client[f"{db_prefix}_feedback"])
    repo.ensure_indexes()
    return repo


@pytest.fixture
def funds_repo(mongo_client, db_prefix):
    """Funds' repository with the demo pools and an approved project ``pfuzz``, allocated, that the valid events
    name (a mutated one may name another: a dead letter as well)."""
    from funds import demo, domain, handlers

    repo = demo.load_demo(mongo_client[f"{db_prefix}_funds"])
    project, _ = domain.new_project("pfuzz", "qingshui", {
        "title": "t", "village": "dongpo", "category": "elderly_care", "requested_fen": 10_000, "advance_percent": 30,
        "milestones": [{"name": "m1", "share_percent": 40, "due": NOW.date()}]},
        {"kind": "social_org", "id": "so"}, 30, domain.Act("office:clerk", NOW))
    repo.insert_project(project, [])
    act = domain.Act("office:clerk", NOW)
    handlers.review(repo, act, "qingshui", "pfuzz", {"decision": "approve", "reason": None}, 5_000_000)
    handlers.allocate(repo, act, "qingshui", "pfuzz", {"parts": [{"pool": "venture-2026", "amount_fen": 10_000}]},
                      "k")
    return repo


@pytest.fixture
def meetings_repo(mongo_client, db_prefix):
    from meetings.repository import MeetingsRepository

    repo = MeetingsRepository(mongo_client[f"{db_prefix}_meetings"])
    repo.ensure_indexes()
    return repo


@pytest.fixture
def identity_repo(demo):
    """With the demo county's tokens, so a deactivation has tokens to revoke."""
    return demo("identity")


def test_consumers_survive_arbitrary_bodies(repo, dispatch_repo, feedback_repo, identity_repo, funds_repo,
                                           meetings_repo, caplog, extremes):
    """Arbitrary JSON, and valid events with one field made arbitrary or extreme (integers beyond 64 bits, dates
    at year 1 and 9999 with offsets, lone surrogates, astral text, nesting past the limit: ``conftest.py``)."""
    caplog.set_level(logging.WARNING)
    workers = consumers(repo, dispatch_repo, feedback_repo, identity_repo, funds_repo, meetings_repo)
    values = st.one_of(json_values, extremes.EXTREMES)
    bodies = st.one_of(json_values, extremes.DEEP, mutated_envelopes(values))

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(bodies, st.sampled_from(range(len(workers))))
    def feed(body, which):
        worker, method = workers[which]
        before = len(worker.dead_letters)
        getattr(worker, method)(body)  # must not raise
        for record in worker.dead_letters[before:]:
            # refused for what the body is (invalid, or naming what does not exist), never for a crash of the
            # consumer (that would carry a traceback)
            assert record["error"] in ("ValidationFailed", "Refused"), record.get("traceback")
            assert record["details"].get("fields") or record["details"].get("field")
            assert record["handler"] == method

    feed()
    assert any(len(w.dead_letters) for w, _ in workers)
    errors = [f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records
              if r.levelno >= logging.ERROR or (r.exc_info and "(expected)" not in r.getMessage())]
    assert not errors, "unhandled exceptions in the logs:\n" + "\n".join(errors)
