"""Funds rules without backing services: the largest-remainder split, who may propose, reviews and the meeting's
decisions, allocations, payments due, closing, reversals, and figures recomputed from ledger entries."""
from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from township_shared.errors import Conflict, Forbidden, ValidationFailed
from township_shared.schemas import funds as fs

from funds import domain, ledger
from funds.domain import Act

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ACT = Act("office:demo_clerk", NOW)
POOLS = {"venture": {"code": "venture", "year": 2026, "source": "venture_philanthropy", "owner_village": None},
         "award": {"code": "award", "year": 2026, "source": "award_subsidy", "owner_village": None}}


# ---- largest remainder ------------------------------------------------------------------------------------------
@given(st.integers(min_value=0, max_value=10**15),
       st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40).filter(any))
def test_split_sums_to_the_whole_and_each_part_is_within_a_fen_of_its_quota(total, weights):
    parts = domain.split(total, weights)
    assert sum(parts) == total and all(isinstance(p, int) for p in parts)
    whole = sum(weights)
    for part, weight in zip(parts, weights):
        floor, rest = divmod(total * weight, whole)
        assert part in (floor, floor + 1) and (part == floor or rest > 0)


def test_split_gives_the_leftover_fen_to_the_largest_remainders_ties_to_the_earlier():
    assert domain.split(100, [1, 1, 1]) == [34, 33, 33]
    assert domain.split(10, [3, 3, 4]) == [3, 3, 4]
    assert domain.split(7, [2, 5, 3]) == [1, 4, 2]  # quotas 1.4, 3.5, 2.1: the .5 gets the leftover fen
    assert domain.split(0, [0, 0]) == [0, 0]
    with pytest.raises(ValueError):
        domain.split(5, [0, 0])


def test_dividends_share_the_income_by_shares_with_the_collective():
    holders = [{"holder": "collective", "kind": "collective", "shares": 30},
               {"holder": "h001", "kind": "household", "shares": 7},
               {"holder": "h002", "kind": "household", "shares": 7},
               {"holder": "h003", "kind": "household", "shares": 6}]
    parts = domain.distribute_dividends(1_000_001, holders)
    assert [p["amount_fen"] for p in parts] == [600_001, 140_000, 140_000, 120_000]
    assert sum(p["amount_fen"] for p in parts) == 1_000_001


# ---- who proposes -----------------------------------------------------------------------------------------------
def test_a_social_organisation_or_its_own_village_committee_proposes():
    assert domain.proposer_of("social_org", "social_org:so_x", "dongpo") == {"kind": "social_org", "id": "so_x"}
    assert domain.proposer_of("unit", "unit:vc_dongpo", "dongpo") == {"kind": "unit", "id": "vc_dongpo"}
    with pytest.raises(Forbidden):
        domain.proposer_of("unit", "unit:vc_xihe", "dongpo")
    with pytest.raises(Forbidden):
        domain.proposer_of("unit", "unit:water_station", "dongpo")
    with pytest.raises(Forbidden):
        domain.proposer_of("office", "office:demo_clerk", "dongpo")


def proposal(**overrides):
    body = {"title": "长者助餐", "village": "dongpo", "category": "elderly_care", "requested_fen": 3_000_000,
            "beneficiaries": 40, "advance_percent": 30,
            "milestones": [{"name": "mid-term", "share_percent": 40, "due": date(2026, 6, 30)}]}
    return fs.ProjectProposalSchema().load(fs.ProjectProposalSchema().dump({**body, **overrides}))


def new(**overrides):
    project, facts = domain.new_project("p1", "qingshui", proposal(**overrides),
                                        {"kind": "social_org", "id": "so_x"}, 30, ACT)
    assert [f[0] for f in facts] == [fs.ProjectProposedV1]
    return project


def approved(**overrides):
    project = new(**overrides)
    domain.review(project, "approve", None, 5_000_000, ACT)
    return project


def allocate(project, parts, op="a1", attempt="a1-x"):
    domain.begin_allocation(project, op, attempt, "key", parts, ACT)
    return domain.commit_allocation(project, op, attempt, POOLS, ACT)


def test_the_advance_and_shares_add_up_to_at_most_100():
    with pytest.raises(Exception):
        proposal(advance_percent=70)
    project, _ = domain.new_project("p1", "qingshui", proposal(advance_percent=None), {"kind": "unit", "id": "vc"},
                                    60, ACT)
    assert project["advance_percent"] == 60
    with pytest.raises(ValidationFailed):
        domain.new_project("p1", "qingshui", proposal(advance_percent=None), {"kind": "unit", "id": "vc"}, 61, ACT)


# ---- review and meeting -----------------------------------------------------------------------------------------
def test_above_the_threshold_the_office_refers_and_the_meeting_decides():
    project = new(requested_fen=8_000_000)
    with pytest.raises(Conflict) as refused:
        domain.review(project, "approve", None, 5_000_000, ACT)
    assert refused.value.body["allowed"] == ["refer", "reject"]
    facts = domain.review(project, "refer", "三重一大", 5_000_000, ACT)
    assert project["status"] == "referred" and facts[0][0] is fs.ProjectReferredV1
    assert facts[0][1]["threshold_fen"] == 5_000_000
    with pytest.raises(Conflict):
        domain.review(project, "approve", None, 5_000_000, ACT)
    decision = {"meeting_id": "m7", "item_id": "i3", "decided_at": NOW, "subject": {"kind": "project", "id": "p1"},
                "decision": "defer", "reason": "需要更多信息", "funding": None}
    assert domain.meeting_decision(project, decision, ACT) == [] and project["status"] == "referred"
    approval = {**decision, "decision": "approve", "funding": {"approved_fen": 7_000_000}}
    facts = domain.meeting_decision(project, approval, ACT)
    assert project["status"] == "approved" and project["approved_fen"] == 7_000_000
    assert facts[0][0] is fs.ProjectApprovedV1 and facts[0][1]["decided_by"] == "meeting:m7"
    assert domain.meeting_decision(project, {**decision, "decision": "reject"}, ACT) == []  # decided already


def test_a_rejection_says_why():
    project = new()
    facts = domain.review(project, "reject", "不在本年度重点", 5_000_000, ACT)
    assert project["status"] == "rejected" and facts[0][1]["reason"] == "不在本年度重点"


# ---- allocations and payments -----------------------------------------------------------------------------------
def test_an_allocation_from_two_pools_pays_the_advance_split_by_what_is_left():
    project = approved(requested_fen=4_000_000)
    facts, entries = allocate(project, [{"pool": "venture", "amount_fen": 2_000_000},
                                        {"pool": "award", "amount_fen": 1_000_001}])
    assert [f[0] for f in facts] == [fs.FundsAllocatedV1, fs.PaymentReleasedV1]
    advance = facts[1][1]
    assert advance["amount_fen"] == 3_000_001 * 30 // 100 == 900_000
    assert sum(p["amount_fen"] for p in advance["parts"]) == 900_000
    assert [e["kind"] for e in entries] == ["allocated", "allocated", "paid", "paid"]
    assert entries[0]["debit"] == "commitment:venture:p1" and entries[0]["credit"] == "pool:venture"
    assert entries[2]["debit"] == "payment:venture:p1" and entries[2]["credit"] == "commitment:venture:p1"
    figures = ledger.project_figures(entries)
    assert {p: f["allocated_fen"] for p, f in figures["pools"].items()} == {"venture": 2_000_000,
                                                                          "award": 1_000_001}
    assert figures["keys"] == {"advance": 900_000}


def test_never_allocated_beyond_the_approval_and_one_allocation_at_a_time():
    project = approved()
    with pytest.raises(Conflict) as refused:
        domain.begin_allocation(project, "a1", "a1-x", "k", [{"pool": "venture", "amount_fen": 3_000_001}], ACT)
    assert refused.value.body["allocatable_fen"] == 3_000_000
    domain.begin_allocation(project, "a1", "a1-x", "k", [{"pool": "venture", "amount_fen": 1}], ACT)
    with pytest.raises(Conflict):
        domain.begin_allocation(project, "a2", "a2-x", "k2", [{"pool": "venture", "amount_fen": 1}], ACT)
    assert domain.hold_state(project, "a1-x") == "live"
    assert domain.end_inflight(project, "a1-x") and "attention_since" not in project
    assert domain.hold_state(project, "a1-x") == "abandoned"
    with pytest.raises(Conflict):
        domain.commit_allocation(project, "a1", "a1-x", POOLS, ACT)


def test_milestones_then_completion_pay_exactly_the_allocation():
    project = approved()
    allocate(project, [{"pool": "venture", "amount_fen": 1_000_003}, {"pool": "award", "amount_fen": 7}])
    facts, _ = domain.verify_milestone(project, "mid-term", "r1", ACT)
    assert facts[0][1]["amount_fen"] == 1_000_010 * 40 // 100 and facts[0][1]["milestone"] == "mid-term"
    assert domain.verify_milestone(project, "mid-term", "r1", ACT) == ([], [])  # paid once
    facts, _ = domain.complete(project, "r2", ACT)
    assert facts[0][1]["key"] == "completion"
    assert domain.paid_total(project) == domain.allocated_total(project) == 1_000_010
    assert all(f["paid_fen"] == f["allocated_fen"] for f in project["funding"])
    assert project["status"] == "completed"
    with pytest.raises(ValidationFailed):
        domain.verify_milestone(project, "no-such", "r3", ACT)


def test_a_milestone_verified_before_any_allocation_is_paid_when_money_comes():
    project = approved(advance_percent=0)
    assert domain.verify_milestone(project, "mid-term", "r1", ACT) == ([], [])
    facts, _ = allocate(project, [{"pool": "venture", "amount_fen": 1000}])
    assert [f[1].get("key") for f in facts[1:]] == ["milestone"] and facts[1][1]["amount_fen"] == 400


def test_closing_releases_what_was_not_paid():
    project = approved()
    allocate(project, [{"pool": "venture", "amount_fen": 1000}, {"pool": "award", "amount_fen": 500}])
    facts, entries = domain.close(project, "组织解散", ACT)
    assert facts[0][0] is fs.AllocationReleasedV1 and facts[0][1]["amount_fen"] == 1500 - 450
    assert {c["pool"]: c["amount_fen"] for c in project["credits_due"]} == {"venture": 700, "award": 350}
    assert [e["kind"] for e in entries] == ["released", "released"]
    assert domain.allocated_total(project) == domain.paid_total(project) == 450
    with pytest.raises(Conflict):
        domain.close(project, "again", ACT)


def test_reversing_a_payment_waits_for_a_new_verification_and_an_allocation_only_what_is_unpaid():
    project = approved()
    _, entries = allocate(project, [{"pool": "venture", "amount_fen": 1000}])
    _, paid = domain.verify_milestone(project, "mid-term", "r1", ACT)
    with pytest.raises(Conflict):
        domain.reverse_in_project(project, "a1", [e for e in entries if e["kind"] == "allocated"], "wrong", ACT)
    facts, reversal = domain.reverse_in_project(project, paid[0]["op"], paid, "报告造假", ACT)
    assert facts[0][0] is fs.LedgerEntryReversedV1 and reversal[0]["reverses"] == paid[0]["_id"]
    assert reversal[0]["debit"] == paid[0]["credit"] and reversal[0]["credit"] == paid[0]["debit"]
    assert domain.paid_total(project) == 300 and not project["milestones"][0]["verified"]
    assert domain.reverse_in_project(project, paid[0]["op"], paid, "twice", ACT) == ([], [])
    assert domain.due_payments(project) == []  # not paid again until a new report is verified
    figures = ledger.project_figures(entries + paid + reversal)
    assert figures["keys"] == {"advance": 300}


# ---- figures from entries ---------------------------------------------------------------------------------------
def pool_doc(code="venture", budget=0):
    return {**POOLS[code], "township_id": "qingshui", "budget_fen": budget, "available_fen": budget}


def test_reports_follow_the_entries_and_the_ledger_balances():
    _, opening, _ = domain.budget_change(pool_doc(), "b1", "initial", 10_000, "opening", ACT)
    _, cut, _ = domain.budget_change(pool_doc(budget=10_000), "b2", "cut", 1_000, "调减", ACT)
    project = approved()
    _, money = allocate(project, [{"pool": "venture", "amount_fen": 5000}])
    _, released = domain.close(project, "stop", ACT)
    entries = opening + cut + money + released
    assert sum(ledger.balances(entries).values()) == 0
    rows = {r["key"]: r for r in ledger.report(ledger.totals(entries), POOLS, "pool", 2026)}
    assert rows["venture"] == {"key": "venture", "year": 2026, "budget_fen": 9000, "committed_fen": 1500,
                               "paid_fen": 1500, "available_fen": 7500, "allocated_fen": 1500,
                               "released_fen": 3500, "dividends_fen": 0}
    village = ledger.report(ledger.totals(entries), POOLS, "village", 2026)
    assert village == [{"key": "dongpo", "year": 2026, "budget_fen": 0, "committed_fen": 0, "paid_fen": 1500,
                        "available_fen": 0, "allocated_fen": 1500, "released_fen": 3500, "dividends_fen": 0}]
    by_source = ledger.report(ledger.totals(entries), POOLS, "source", 2026)
    assert [r["key"] for r in by_source] == ["venture_philanthropy"] and by_source[0]["budget_fen"] == 9000


def test_an_entry_moves_a_positive_integer_of_fen():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            ledger.entry("op", 0, "allocated", bad, township_id="t", pool=POOLS["venture"], actor="a", at=NOW)


def test_a_payment_reversed_on_a_closed_project_goes_back_to_its_pool():
    project = approved()
    _, money = allocate(project, [{"pool": "venture", "amount_fen": 1000}])
    domain.close(project, "done", ACT)
    project["credits_due"] = []
    advance = [e for e in money if e["kind"] == "paid"]
    facts, entries = domain.reverse_in_project(project, advance[0]["op"], advance, "拨错", ACT)
    assert [f[0] for f in facts] == [fs.LedgerEntryReversedV1, fs.AllocationReleasedV1]
    assert [e["kind"] for e in entries] == ["reversal", "released"]
    assert domain.allocated_total(project) == domain.paid_total(project) == 0
    assert project["credits_due"][0]["amount_fen"] == 300
