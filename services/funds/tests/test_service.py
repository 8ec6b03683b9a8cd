"""The funds service on the real RabbitMQ and MongoDB-compatible server: signed principals and roles, a project
from proposal to payments driven by feedback's events (redelivered), the joint meeting's decision as a published
event, refusals, reports, and what each role sees."""
import functools
import json
import time
from datetime import datetime, timezone

import pytest

from township_shared.testing import take_dead_letters, wait_for as shared_wait_for
from kombu import Connection, Exchange
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from township_shared import auth
from township_shared.events import make_event
from township_shared.schemas.feedback import MilestoneVerifiedV1, ProjectCompletedV1
from township_shared.schemas.meetings import MeetingDecisionMadeV1

pytestmark = pytest.mark.integration
KEY = auth.DEFAULT_PRINCIPAL_KEY


def signed(role, actor, township="qingshui", **scope):
    return auth.sign(auth.Principal(role=role, actor=actor, township_id=township, county_id="lanxi",
                                    townships=(township,), **scope), KEY)


OFFICE = signed("office", "office:demo_clerk")
SUNSHINE = signed("social_org", "social_org:so_sunshine_elderly")
HANDY = signed("social_org", "social_org:so_handy_repairs")
PUBLIC = signed("public", "public")
SUPERVISION = signed("supervision", "supervision:dongpo_residents", villages=("dongpo", "xihe"))
PROPOSAL = {"title": "长者助餐点", "village": "dongpo", "category": "elderly_care", "beneficiaries": 60,
            "requested_fen": 3_000_000, "advance_percent": 30, "linked_cases": ["c123"],
            "milestones": [{"name": "开餐三个月", "share_percent": 40, "due": "2026-06-30"}]}


@pytest.fixture
def funds(runner_factory, service_config, demo):
    from funds.service import FundsService

    demo("funds")
    runner = runner_factory(service_config, FundsService)
    runner.start()
    with ClusterRpcProxy(service_config, timeout=20) as cluster:
        yield cluster.funds


def remote_error(call):
    with pytest.raises(RemoteError) as err:
        call()
    return err.value.exc_type, json.loads(err.value.value)


wait_for = functools.partial(shared_wait_for, timeout=15.0, interval=0.1)

def publish(amqp_uri, source, event):
    exchange = Exchange(f"{source}.events", type="topic", durable=True)
    with Connection(amqp_uri) as conn:
        conn.Producer().publish(event, exchange=exchange, routing_key=event["type"], serializer="json",
                                declare=[exchange])


def dead_letters(amqp_uri, count, timeout=15.0):
    return take_dead_letters(amqp_uri, count, timeout)


def test_a_project_from_proposal_to_completion_paid_by_feedbacks_events(funds, rabbit_config, event_listener):
    events = event_listener("funds")
    project = funds.propose_project(SUNSHINE, PROPOSAL, "proposal-1")
    assert project["status"] == "proposed" and project["proposer"] == {"kind": "social_org",
                                                                      "id": "so_sunshine_elderly"}
    assert funds.propose_project(SUNSHINE, PROPOSAL, "proposal-1")["id"] == project["id"]  # a retry: one project
    pid = project["id"]
    assert funds.review_project(OFFICE, pid, {"decision": "approve"})["status"] == "approved"
    result = funds.allocate(OFFICE, pid, {"parts": [{"pool": "venture-2026", "amount_fen": 2_000_000},
                                                    {"pool": "purchase-2026", "amount_fen": 1_000_000}]}, "alloc-1")
    assert result["amount_fen"] == 3_000_000 and not result["replayed"]
    assert result["project"]["paid_fen"] == 900_000  # the advance
    assert funds.allocate(OFFICE, pid, {"parts": [{"pool": "venture-2026", "amount_fen": 2_000_000},
                                                  {"pool": "purchase-2026", "amount_fen": 1_000_000}]},
                          "alloc-1")["replayed"] is True

    milestone = make_event(MilestoneVerifiedV1, {
        "report_id": "r1", "project": pid, "milestone": "开餐三个月", "people_served": 60, "hours": 120.0,
        "organisation": {"kind": "social_org", "id": "so_sunshine_elderly"}, "verified_by": "office:demo_clerk"},
        source="feedback", township_id="qingshui", correlation_id=pid)
    for _ in range(2):  # a redelivery pays nothing more
        publish(rabbit_config["AMQP_URI"], "feedback", milestone)
    wait_for(lambda: funds.get_project(OFFICE, pid)["paid_fen"] == 2_100_000)
    publish(rabbit_config["AMQP_URI"], "feedback", make_event(ProjectCompletedV1, {
        "report_id": "r2", "project": pid, "people_served": 80, "hours": 300.0,
        "organisation": {"kind": "social_org", "id": "so_sunshine_elderly"}, "verified_by": "office:demo_clerk"},
        source="feedback", township_id="qingshui", correlation_id=pid))
    done = wait_for(lambda: (p := funds.get_project(OFFICE, pid))["status"] == "completed" and p)
    assert done["paid_fen"] == done["allocated_fen"] == 3_000_000
    assert [p["key"] for p in done["payments"]] == ["advance", "milestone:开餐三个月", "completion"]
    assert done["milestones"][0]["paid_fen"] == 1_200_000
    time.sleep(0.5)
    assert funds.get_project(OFFICE, pid)["paid_fen"] == 3_000_000

    types = [e["type"] for e in {e["id"]: e for e in events.collect(8, timeout=15)}.values()]
    assert types == ["project_proposed", "project_approved", "funds_allocated", "payment_released",
                     "payment_released", "payment_released"]
    rows = {r["key"]: r for r in funds.budget_report(OFFICE, {"by": "pool", "year": 2026})["items"]}
    assert rows["venture-2026"]["paid_fen"] == 2_000_000 and rows["purchase-2026"]["paid_fen"] == 1_000_000
    assert rows["venture-2026"]["available_fen"] == 80_000_000 - 2_000_000
    village = {r["key"]: r for r in funds.budget_report(OFFICE, {"by": "village"})["items"]}
    assert village["dongpo"]["paid_fen"] == 3_000_000
    assert funds.budget_report_csv(OFFICE, {"by": "source"}).splitlines()[0].startswith("key,year,budget_fen")
    page = funds.list_ledger(OFFICE, {"project": pid})
    assert sorted(e["kind"] for e in page["items"]) == ["allocated"] * 2 + ["paid"] * 6


def test_the_meeting_decides_above_the_threshold(funds, rabbit_config):
    pid = funds.propose_project(SUNSHINE, {**PROPOSAL, "requested_fen": 12_000_000}, "big")["id"]
    exc_type, body = remote_error(lambda: funds.review_project(OFFICE, pid, {"decision": "approve"}))
    assert exc_type == "Conflict" and body["allowed"] == ["refer", "reject"]
    assert funds.review_project(OFFICE, pid, {"decision": "refer", "reason": "三重一大"})["status"] == "referred"
    exc_type, _ = remote_error(lambda: funds.allocate(OFFICE, pid, {"parts": [{"pool": "venture-2026",
                                                                               "amount_fen": 1}]}, "k"))
    assert exc_type == "Conflict"
    publish(rabbit_config["AMQP_URI"], "meetings", make_event(MeetingDecisionMadeV1, {
        "meeting_id": "qs-2026-11", "item_id": "3", "decided_at": datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc),
        "subject": {"kind": "project", "id": pid}, "decision": "approve", "reason": "同意，压缩规模",
        "funding": {"approved_fen": 10_000_000}}, source="meetings", township_id="qingshui", correlation_id=pid))
    approved = wait_for(lambda: (p := funds.get_project(OFFICE, pid))["status"] == "approved" and p)
    assert approved["approved_fen"] == 10_000_000 and approved["review"]["by"] == "meeting:qs-2026-11"


def test_roles_see_what_they_may(funds):
    pid = funds.propose_project(SUNSHINE, PROPOSAL, "p")["id"]
    assert [p["id"] for p in funds.list_projects(SUNSHINE, {})] == [pid]
    assert funds.list_projects(HANDY, {}) == []
    assert remote_error(lambda: funds.get_project(HANDY, pid))[0] == "NotFound"
    public = funds.get_project(PUBLIC, pid)
    assert "linked_cases" not in public and "review" not in public and public["village"] == "dongpo"
    assert funds.list_projects(SUPERVISION, {"village": "dongpo"})[0]["id"] == pid
    elsewhere = signed("supervision", "supervision:other", villages=("nanshan",))
    assert funds.list_projects(elsewhere, {}) == []
    assert "linked_cases" in funds.get_project(SUNSHINE, pid)
    assert remote_error(lambda: funds.review_project(SUNSHINE, pid, {"decision": "approve"}))[0] == "Forbidden"
    assert remote_error(lambda: funds.list_pools(PUBLIC, {}))[0] == "Forbidden"
    forged = {**OFFICE, "actor": "office:someone_else"}
    assert remote_error(lambda: funds.list_pools(forged, {}))[0] == "Unauthorized"
    committee = signed("unit", "unit:vc_xihe")
    assert remote_error(lambda: funds.propose_project(committee, PROPOSAL, "x"))[0] == "Forbidden"
    assert funds.propose_project(committee, {**PROPOSAL, "village": "xihe"}, "x")["proposer"]["id"] == "vc_xihe"
    other_township = signed("office", "office:by_clerk", township="baiyun")
    assert remote_error(lambda: funds.get_project(other_township, pid))[0] == "NotFound"


def test_refusals_name_the_field_or_what_is_available(funds):
    exc_type, body = remote_error(lambda: funds.propose_project(SUNSHINE, {**PROPOSAL, "requested_fen": 1.5}, "k"))
    assert exc_type == "ValidationFailed" and "requested_fen" in body["fields"]
    exc_type, body = remote_error(lambda: funds.propose_project(SUNSHINE, {**PROPOSAL, "village": "nowhere"}, "k"))
    assert exc_type == "Unprocessable" and "village" in body["fields"]  # well formed, an unknown village
    pool = funds.create_pool(OFFICE, {"code": "tiny", "name": "小额", "year": 2026, "source": "donation",
                                      "budget_fen": 1_000})
    assert pool["budget_fen"] == pool["available_fen"] == 1_000
    assert remote_error(lambda: funds.create_pool(OFFICE, {"code": "tiny", "name": "again", "year": 2026,
                                                           "source": "donation", "budget_fen": 1}))[0] == "Conflict"
    pid = funds.propose_project(SUNSHINE, PROPOSAL, "k")["id"]
    funds.review_project(OFFICE, pid, {"decision": "approve"})
    exc_type, body = remote_error(lambda: funds.allocate(OFFICE, pid, {"parts": [
        {"pool": "venture-2026", "amount_fen": 500}, {"pool": "tiny", "amount_fen": 1_001}]}, "k"))
    assert exc_type == "Conflict" and body["pool"] == "tiny" and body["available_fen"] == 1_000
    assert funds.get_pool(OFFICE, "venture-2026")["available_fen"] == 80_000_000  # the other hold given back
    assert funds.get_project(OFFICE, pid)["allocated_fen"] == 0
    funds.allocate(OFFICE, pid, {"parts": [{"pool": "tiny", "amount_fen": 600}]}, "k2")
    exc_type, body = remote_error(lambda: funds.change_budget(OFFICE, "tiny", {"change": "cut", "amount_fen": 500,
                                                                               "reason": "调减"}, "c1"))
    assert exc_type == "Conflict" and body["available_fen"] == 400
    pool = funds.change_budget(OFFICE, "tiny", {"change": "raise", "amount_fen": 500, "reason": "追加"}, "c2")
    assert (pool["budget_fen"], pool["available_fen"], pool["committed_fen"]) == (1_500, 900, 600)


def test_a_reversal_undoes_a_movement_and_a_closing_releases_the_rest(funds):
    pid = funds.propose_project(SUNSHINE, PROPOSAL, "k")["id"]
    funds.review_project(OFFICE, pid, {"decision": "approve"})
    funds.allocate(OFFICE, pid, {"parts": [{"pool": "award-2026", "amount_fen": 1_000_000}]}, "k")
    advance = [e for e in funds.list_ledger(OFFICE, {"project": pid})["items"] if e["kind"] == "paid"][0]
    reversal = funds.reverse_movement(OFFICE, advance["id"], {"reason": "预付款拨错"})["items"]
    assert [(e["kind"], e["reverses"], e["actor"]) for e in reversal] == [("reversal", advance["id"],
                                                                           "office:demo_clerk")]
    assert funds.get_project(OFFICE, pid)["paid_fen"] == 0
    closed = funds.close_project(OFFICE, pid, {"reason": "项目终止"})
    assert closed["status"] == "closed" and closed["released_fen"] == 1_000_000
    assert funds.get_pool(OFFICE, "award-2026")["available_fen"] == 50_000_000
    exc_type, _ = remote_error(lambda: funds.reverse_movement(OFFICE, advance["id"].replace("pay", "x"),
                                                              {"reason": "x"}))
    assert exc_type == "NotFound"


def test_dividends_split_the_income_by_shares(funds):
    result = funds.distribute_dividends(OFFICE, {"pool": "dongpo-collective-2026", "income_fen": 1_000_001,
                                                 "holders": [{"holder": "collective", "kind": "collective",
                                                              "shares": 30},
                                                             {"holder": "dp-001", "kind": "household", "shares": 7},
                                                             {"holder": "dp-002", "kind": "household", "shares": 7},
                                                             {"holder": "dp-003", "kind": "household",
                                                              "shares": 6}]}, "2026")
    assert [p["amount_fen"] for p in result["parts"]] == [600_001, 140_000, 140_000, 120_000]
    assert funds.get_pool(OFFICE, "dongpo-collective-2026")["available_fen"] == 20_000_000 - 1_000_001
    exc_type, _ = remote_error(lambda: funds.distribute_dividends(OFFICE, {
        "pool": "venture-2026", "income_fen": 1, "holders": [{"holder": "x", "kind": "household", "shares": 1}]},
        "k"))
    assert exc_type == "Unprocessable"


def test_an_event_about_an_unknown_project_is_a_dead_letter(funds, rabbit_config):
    publish(rabbit_config["AMQP_URI"], "feedback", make_event(MilestoneVerifiedV1, {
        "report_id": "r1", "project": "nope", "milestone": "m", "people_served": 1, "hours": 1.0,
        "organisation": {"kind": "social_org", "id": "so_x"}, "verified_by": "office:demo_clerk"},
        source="feedback", township_id="qingshui", correlation_id=None))
    letters = [d for d in dead_letters(rabbit_config["AMQP_URI"], 1) if d["service"] == "funds"]
    assert letters and letters[0]["handler"] == "pay_milestone" and letters[0]["error"] == "Refused"
    assert letters[0]["details"]["field"] == "payload.project"
