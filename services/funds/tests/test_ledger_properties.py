"""Property test against the real MongoDB-compatible server: random sequences of funds operations (pools, budget
changes, proposals, reviews, the meeting's decisions, allocations with replayed keys, crashes midway, verified
milestones and completions each delivered up to three times, closings, reversals, dividends) always leave

- a ledger that balances, every entry a positive integer of fen;
- pools that never committed more than their budget, whose figures equal the ledger's once the recovery ran;
- projects never paid beyond their allocation nor allocated beyond their approval, whose figures equal the
  ledger's, each payment made once whatever the redeliveries;
- reports (by pool, source, village; the database's aggregation) equal to a recomputation from the entries alone.
"""
import uuid
from datetime import datetime, timedelta, timezone

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from township_shared import auth, faults
from township_shared.errors import ServiceError
from township_shared.events import load_event, make_event
from township_shared.schemas import funds as fs
from township_shared.schemas.feedback import MilestoneVerifiedV1, ProjectCompletedV1
from township_shared.schemas.meetings import MeetingDecisionMadeV1

from funds import domain, handlers, ledger
from funds.domain import Act
from funds.repository import FundsRepository

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
POOLS = [("p0", None, "venture_philanthropy"), ("p1", None, "award_subsidy"),
         ("p2", "dongpo", "village_collective")]
THRESHOLD = 50_000
MILESTONES = ["m1", "m2"]


class Crash(BaseException):
    """A worker dying at a fault point (not an exception any handler catches)."""


@pytest.fixture
def funds_repo(mongo_client, db_prefix):
    repo = FundsRepository(mongo_client[f"{db_prefix}_funds"])
    repo.ensure_indexes()
    return repo


def principal(role, actor, township):
    return auth.Principal(role=role, actor=actor, township_id=township)


amounts = st.integers(min_value=1, max_value=40_000)
small = st.integers(min_value=1, max_value=12_000)
project = st.integers(0, 3)
allocation = st.tuples(st.just("allocate"), project,
                       st.lists(st.tuples(st.integers(0, 2), small), min_size=1, max_size=3,
                                unique_by=lambda part: part[0]),
                       st.integers(0, 2), st.sampled_from([None] * 6 + ["funds.allocation_held",
                                                                          "funds.allocation_recorded"]))
milestone = st.tuples(st.just("milestone"), project, st.sampled_from(MILESTONES), st.integers(1, 3))
STRATEGIES = {
    "pool": st.tuples(st.just("pool"), st.integers(0, 2), st.integers(0, 100_000)),
    "budget": st.tuples(st.just("budget"), st.integers(0, 2), st.sampled_from(["raise", "cut"]), amounts,
                        st.integers(0, 3)),
    "propose": st.tuples(st.just("propose"), project, st.integers(1, 80_000), st.integers(0, 40),
                         st.lists(st.integers(1, 30), min_size=0, max_size=2)),
    "review": st.tuples(st.just("review"), project, st.sampled_from(["approve", "reject", "refer"])),
    "meeting": st.tuples(st.just("meeting"), project, st.sampled_from(["approve", "reject", "defer"]), amounts),
    "allocate": allocation,
    "milestone": milestone,
    "complete": st.tuples(st.just("complete"), project, st.integers(1, 3)),
    "close": st.tuples(st.just("close"), project, st.sampled_from([None, "funds.release_recorded"])),
    "reverse": st.tuples(st.just("reverse"), st.integers(0, 10_000)),
    "dividend": st.tuples(st.just("dividend"), amounts, st.lists(st.integers(1, 9), min_size=1, max_size=4),
                          st.integers(0, 1)),
    "recover": st.tuples(st.just("recover"),),
}
WEIGHTS = {"allocate": 6, "milestone": 3, "budget": 2, "reverse": 2, "recover": 2}  # the others: 1
ops = st.sampled_from([k for k in STRATEGIES for _ in range(WEIGHTS.get(k, 1))]).flatmap(STRATEGIES.get)


class World:
    """One township's funds, driven through the handlers as the service drives them."""

    def __init__(self, repo, monkeypatch):
        self.repo = repo
        self.township = f"t{uuid.uuid4().hex[:10]}"
        repo.save_township(self.township, ["dongpo", "xihe"])
        self.clock = T0
        self.projects: dict[int, str] = {}
        self.crash_at = None
        self.statistics = False
        monkeypatch.setattr(faults, "point", self._point)

    def _point(self, name):
        if name == self.crash_at:
            self.crash_at = None
            raise Crash(name)

    def act(self, actor="office:clerk"):
        self.clock += timedelta(seconds=1)
        return Act(actor, self.clock)

    def event(self, schema, payload, source, township=None):
        return load_event(make_event(schema, payload, source=source, township_id=township or self.township,
                                     correlation_id=None, time=self.clock))

    def flush(self):
        for collection in ("pools", "projects"):
            for doc in self.repo.db[collection].find({"township_id": self.township, "journal_since": {"$exists": 1}}):
                self.repo.flush(doc, collection)

    def run(self, op):
        kind, args = op[0], op[1:]
        outcome = "done"
        try:
            getattr(self, f"do_{kind}")(*args)
        except ServiceError as exc:
            outcome = type(exc).__name__  # a refusal: nothing may have been written (the invariants say so)
        except Crash:
            outcome = "crashed"  # the worker died midway: the recovery finishes or undoes what it began
        finally:
            self.crash_at = None
        if self.statistics:
            hypothesis.event(f"{kind}: {outcome}")  # pytest --hypothesis-show-statistics: what the examples reach
        if self.clock.second % 2:
            self.flush()  # the service moves entries right after each write; sometimes a crash prevents it
        for pool in self.repo.list_pools(self.township):
            assert pool["available_fen"] >= 0, pool  # never more committed than the budget, even mid-way

    def do_pool(self, i, budget):
        code, owner, source = POOLS[i]
        handlers.create_pool(self.repo, self.act(), self.township, {
            "code": code, "name": code, "year": 2026, "source": source, "owner_village": owner,
            "budget_fen": budget, "reason": "opening"})

    def do_budget(self, i, change, amount, key):
        handlers.change_budget(self.repo, self.act(), self.township, POOLS[i][0],
                               {"change": change, "amount_fen": amount, "reason": "adjust"}, f"k{key}")

    def do_propose(self, j, requested, advance, shares):
        body = fs.ProjectProposalSchema().load({
            "title": f"project {j}", "village": "dongpo", "category": "elderly_care", "requested_fen": requested,
            "advance_percent": advance,
            "milestones": [{"name": MILESTONES[n], "share_percent": s, "due": "2026-09-30"}
                           for n, s in enumerate(shares)]})
        who = principal("social_org", f"social_org:so{j}", self.township)
        project = handlers.propose(self.repo, self.act(who.actor), who, body, f"proposal-{j}", 30)
        self.projects[j] = project["_id"]

    def _project(self, j):
        if j not in self.projects:
            raise ServiceError("no such project yet")
        return self.projects[j]

    def do_review(self, j, decision):
        handlers.review(self.repo, self.act(), self.township, self._project(j),
                        {"decision": decision, "reason": "因为"}, THRESHOLD)

    def do_meeting(self, j, decision, approved):
        event = self.event(MeetingDecisionMadeV1, {
            "meeting_id": "m1", "item_id": f"i{j}", "decided_at": self.clock,
            "subject": {"kind": "project", "id": self._project(j)}, "decision": decision, "reason": "会议决定",
            "funding": {"approved_fen": approved} if decision == "approve" else None}, "meetings")
        for _ in range(2):
            handlers.meeting_decision(self.repo, event, self.act("service:funds"))

    def do_allocate(self, j, parts, key, crash):
        self.crash_at = crash
        handlers.allocate(self.repo, self.act(), self.township, self._project(j),
                          {"parts": [{"pool": POOLS[i][0], "amount_fen": a} for i, a in parts]}, f"alloc-{key}")

    def _deliver(self, event, times, handler):
        for _ in range(times):
            handler(self.repo, event, self.act("service:funds"))

    def do_milestone(self, j, name, times):
        event = self.event(MilestoneVerifiedV1, {
            "report_id": uuid.uuid4().hex, "project": self._project(j), "milestone": name,
            "organisation": {"kind": "social_org", "id": f"so{j}"}, "people_served": 3, "hours": 2.0,
            "verified_by": "office:clerk"}, "feedback")
        self._deliver(event, times, handlers.milestone_verified)

    def do_complete(self, j, times):
        event = self.event(ProjectCompletedV1, {
            "report_id": uuid.uuid4().hex, "project": self._project(j),
            "organisation": {"kind": "social_org", "id": f"so{j}"}, "people_served": 3, "hours": 2.0,
            "verified_by": "office:clerk"}, "feedback")
        self._deliver(event, times, handlers.project_completed)

    def do_close(self, j, crash):
        self.crash_at = crash
        handlers.close(self.repo, self.act(), self.township, self._project(j), "结束")

    def do_reverse(self, pick):
        self.flush()
        entries = sorted(self.repo.ledger.find({"township_id": self.township}), key=lambda e: e["_id"])
        if entries:
            handlers.reverse(self.repo, self.act(), self.township, entries[pick % len(entries)]["_id"], "更正")

    def do_dividend(self, income, shares, key):
        holders = [{"holder": f"h{n}", "kind": "household" if n else "collective", "shares": s}
                   for n, s in enumerate(shares)]
        handlers.distribute(self.repo, self.act(), self.township,
                            {"pool": "p2", "income_fen": income, "holders": holders, "reason": "分红"}, f"d{key}")

    def do_recover(self):
        handlers.recover(self.repo, self.clock + timedelta(hours=1), timedelta(seconds=60))

    # ---- the invariants ---------------------------------------------------------------------------------------
    def check(self):
        handlers.recover(self.repo, self.clock + timedelta(hours=1), timedelta(seconds=60), timedelta(0))
        entries = list(self.repo.ledger.find({"township_id": self.township}))
        assert all(isinstance(e["amount_fen"], int) and e["amount_fen"] > 0 for e in entries)
        assert sum(ledger.balances(entries).values()) == 0
        pools = {p["code"]: p for p in self.repo.list_pools(self.township)}
        figures = ledger.pool_figures(ledger.totals(entries))
        for code, pool in pools.items():
            assert pool["pending_n"] == 0 and not pool["pending"], pool
            fig = figures.get(code, {"budget_fen": 0, "available_fen": 0})
            assert (pool["budget_fen"], pool["available_fen"]) == (fig["budget_fen"], fig["available_fen"])
            assert 0 <= pool["available_fen"] <= pool["budget_fen"]
        for project_id in self.projects.values():
            project = self.repo.get_project(self.township, project_id)
            assert not project.get("inflight") and not project["credits_due"], project
            own = [e for e in entries if e.get("project") == project_id]
            recomputed = ledger.project_figures(own)
            for part in project["funding"]:
                assert 0 <= part["paid_fen"] <= part["allocated_fen"], part
                assert {k: part[k] for k in ("allocated_fen", "paid_fen", "released_fen")} == \
                    recomputed["pools"][part["pool"]]
            assert domain.allocated_total(project) <= (project["approved_fen"] or 0)
            live_keys = [p["key"] for p in project["payments"] if not p["reversed"]]
            assert len(live_keys) == len(set(live_keys)), "a payment made twice"
            view = handlers.project_view(project)
            paid_keys = {k: v for k, v in recomputed["keys"].items()}
            for m in view["milestones"]:
                assert m["paid_fen"] == paid_keys.get(f"milestone:{m['name']}", 0)
        meta = {code: domain.pool_meta(p) for code, p in pools.items()}
        for by in fs.REPORT_DIMENSIONS:
            for year in (None, 2026):
                assert handlers.report(self.repo, self.township, by, year) == \
                    ledger.report(ledger.totals(entries), meta, by, year)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(ops, min_size=15, max_size=40))
def test_random_sequences_keep_the_ledger_and_the_reports_true(funds_repo, monkeypatch, sequence):
    world = World(funds_repo, monkeypatch)
    world.statistics = True
    # a useful start: the pools and two projects exist in most examples
    for op in [("pool", 0, 60_000), ("pool", 1, 30_000), ("pool", 2, 20_000),
               ("propose", 0, 40_000, 30, [30, 20]), ("review", 0, "approve"),
               ("propose", 1, 70_000, 10, [50]), ("review", 1, "refer"),
               ("propose", 2, 30_000, 0, [60, 40]), ("review", 2, "approve")] + sequence:
        world.run(op)
    world.check()


def test_a_redelivered_event_pays_once_and_a_replayed_allocation_allocates_once(funds_repo, monkeypatch):
    world = World(funds_repo, monkeypatch)
    for op in [("pool", 0, 60_000), ("propose", 0, 40_000, 30, [30, 20]), ("review", 0, "approve")]:
        world.run(op)
    project_id = world.projects[0]
    for _ in range(3):
        _, result = handlers.allocate(funds_repo, world.act(), world.township, project_id,
                                      {"parts": [{"pool": "p0", "amount_fen": 40_000}]}, "same-key")
    assert result["replayed"] is True
    event = world.event(MilestoneVerifiedV1, {
        "report_id": "r1", "project": project_id, "milestone": "m1",
        "organisation": {"kind": "social_org", "id": "so0"}, "people_served": 3, "hours": 2.0,
        "verified_by": "office:clerk"}, "feedback")
    for _ in range(3):
        project = handlers.milestone_verified(funds_repo, event, world.act("service:funds"))
    assert [p["key"] for p in project["payments"]] == ["advance", "milestone:m1"]
    assert domain.paid_total(project) == 12_000 + 12_000
    assert world.repo.get_pool(world.township, "p0")["available_fen"] == 20_000
    world.check()


def test_a_crash_after_the_holds_is_undone_and_after_the_record_is_settled(funds_repo, monkeypatch):
    world = World(funds_repo, monkeypatch)
    for op in [("pool", 0, 60_000), ("pool", 1, 60_000), ("propose", 0, 40_000, 0, []), ("review", 0, "approve"),
               ("propose", 2, 40_000, 0, []), ("review", 2, "approve")]:
        world.run(op)
    world.run(("allocate", 0, [(0, 10_000), (1, 5_000)], 0, "funds.allocation_held"))
    assert funds_repo.get_pool(world.township, "p0")["available_fen"] == 50_000  # held, not yet recorded
    world.run(("allocate", 2, [(0, 7_000)], 0, "funds.allocation_recorded"))
    handlers.recover(funds_repo, world.clock + timedelta(hours=1), timedelta(seconds=60))
    assert funds_repo.get_pool(world.township, "p0")["available_fen"] == 53_000  # the first given back
    assert funds_repo.get_pool(world.township, "p1")["available_fen"] == 60_000
    assert domain.allocated_total(funds_repo.get_project(world.township, world.projects[0])) == 0
    assert domain.allocated_total(funds_repo.get_project(world.township, world.projects[2])) == 7_000
    world.check()
