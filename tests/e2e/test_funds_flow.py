"""End to end through HTTP (issue 12's "done when"): a social organisation proposes, the office approves and
allocates from two pools, the advance is paid, a milestone report is verified in feedback and its share paid,
completion pays the rest, the budget report shows it; a project above the threshold waits for the joint meeting's
decision (published as the meetings service will). And the money is right on every side: the ledger, the pools,
the public's view."""
from datetime import datetime, timezone

import pytest
import requests
from kombu import Connection, Exchange

from township_shared.events import make_event
from township_shared.schemas.meetings import MeetingDecisionMadeV1
from township_shared.testing import as_actor, wait_for

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")
ORG = as_actor("social_org:so_sunshine_elderly")
SUPERVISION = as_actor("supervision:dongpo_residents")
PROPOSAL = {"title": "东坡村长者助餐点", "village": "dongpo", "category": "elderly_care", "beneficiaries": 60,
            "description": "为独居老人提供午餐", "requested_fen": 3_000_000, "advance_percent": 30,
            "milestones": [{"name": "开餐三个月", "share_percent": 40, "due": "2027-03-31"}]}
REPORT = {"village": "dongpo", "text": "累计送餐 5,400 份", "people_served": 60, "hours": 900.0,
          "evidence_urls": ["https://example.org/meals.jpg"]}


def pools(base):
    return {p["code"]: p for p in requests.get(f"{base}/api/v1/pools", headers=OFFICE, timeout=10).json()["items"]}


def project(base, project_id, headers=OFFICE):
    res = requests.get(f"{base}/api/v1/projects/{project_id}", headers=headers, timeout=10)
    assert res.status_code == 200, res.text
    return res.json()


def report_and_verify(base, body):
    created = requests.post(f"{base}/api/v1/reports", json={**REPORT, **body}, headers=ORG, timeout=10)
    assert created.status_code == 201, created.text
    verified = requests.post(f"{base}/api/v1/reports/{created.json()['id']}/review",
                             json={"verified": True, "reason": "走访核实"}, headers=SUPERVISION, timeout=10)
    assert verified.status_code == 200, verified.text


def test_a_project_from_proposal_to_completion_through_http(stack, http_base, event_listener):
    base = http_base
    funds_events = event_listener("funds")
    before = pools(base)
    proposed = requests.post(f"{base}/api/v1/projects", json=PROPOSAL, headers={**ORG, "Idempotency-Key": "p-1"},
                             timeout=10)
    assert proposed.status_code == 201, proposed.text
    pid = proposed.json()["id"]
    assert requests.post(f"{base}/api/v1/projects", json={**PROPOSAL, "requested_fen": 1.5}, headers=ORG,
                         timeout=10).json()["fields"].keys() == {"requested_fen"}
    approved = requests.post(f"{base}/api/v1/projects/{pid}/review", json={"decision": "approve"}, headers=OFFICE,
                             timeout=10)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    parts = [{"pool": "venture-2026", "amount_fen": 2_000_000}, {"pool": "purchase-2026", "amount_fen": 1_000_000}]
    allocated = requests.post(f"{base}/api/v1/projects/{pid}/allocations", json={"parts": parts},
                              headers={**OFFICE, "Idempotency-Key": "alloc-1"}, timeout=10)
    assert allocated.status_code == 201, allocated.text
    assert allocated.json()["project"]["paid_fen"] == 900_000  # the 30% advance
    replay = requests.post(f"{base}/api/v1/projects/{pid}/allocations", json={"parts": parts},
                           headers={**OFFICE, "Idempotency-Key": "alloc-1"}, timeout=10)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    after = pools(base)
    assert after["venture-2026"]["available_fen"] == before["venture-2026"]["available_fen"] - 2_000_000
    assert after["purchase-2026"]["committed_fen"] == before["purchase-2026"]["committed_fen"] + 1_000_000

    report_and_verify(base, {"project": pid, "kind": "milestone", "milestone": "开餐三个月"})
    wait_for(lambda: project(base, pid)["paid_fen"], lambda paid: paid == 900_000 + 1_200_000)
    report_and_verify(base, {"project": pid, "kind": "completion"})
    done = wait_for(lambda: project(base, pid), lambda p: p["status"] == "completed")
    assert done["paid_fen"] == done["allocated_fen"] == 3_000_000
    assert [(p["key"], p["amount_fen"]) for p in done["payments"]] == [
        ("advance", 900_000), ("milestone:开餐三个月", 1_200_000), ("completion", 900_000)]
    assert {f["pool"]: f["paid_fen"] for f in done["funding"]} == {"venture-2026": 2_000_000,
                                                                  "purchase-2026": 1_000_000}

    report = requests.get(f"{base}/api/v1/budget-report", params={"by": "pool", "year": 2026}, headers=OFFICE,
                          timeout=10).json()
    rows = {r["key"]: r for r in report["items"]}
    for code, paid in (("venture-2026", 2_000_000), ("purchase-2026", 1_000_000)):
        assert rows[code]["paid_fen"] == paid and rows[code]["budget_fen"] == before[code]["budget_fen"]
        assert rows[code]["available_fen"] == before[code]["available_fen"] - paid
    village = {r["key"]: r for r in requests.get(f"{base}/api/v1/budget-report", params={"by": "village"},
                                                 headers=OFFICE, timeout=10).json()["items"]}
    assert village["dongpo"]["paid_fen"] == 3_000_000
    csv = requests.get(f"{base}/api/v1/budget-report.csv", params={"by": "source"}, headers=OFFICE, timeout=10)
    assert csv.status_code == 200 and csv.text.startswith("key,year,budget_fen")

    ledger = requests.get(f"{base}/api/v1/ledger", params={"project": pid}, headers=OFFICE, timeout=10).json()
    assert sorted(e["kind"] for e in ledger["items"]) == ["allocated"] * 2 + ["paid"] * 6
    assert sum(e["amount_fen"] for e in ledger["items"] if e["kind"] == "paid") == 3_000_000

    public = project(base, pid, headers={})
    assert public["paid_fen"] == 3_000_000 and "review" not in public and "payments" not in public
    assert public["milestones"][0]["paid_fen"] == 1_200_000
    types = {e["type"] for e in funds_events.collect(9, timeout=15)}
    assert {"project_proposed", "project_approved", "funds_allocated", "payment_released"} <= types


def test_a_project_above_the_threshold_waits_for_the_meetings_decision(stack, http_base, rabbit_config):
    base = http_base
    pid = requests.post(f"{base}/api/v1/projects", json={**PROPOSAL, "requested_fen": 12_000_000}, headers=ORG,
                        timeout=10).json()["id"]
    refused = requests.post(f"{base}/api/v1/projects/{pid}/review", json={"decision": "approve"}, headers=OFFICE,
                            timeout=10)
    assert refused.status_code == 409 and refused.json()["allowed"] == ["refer", "reject"]
    referred = requests.post(f"{base}/api/v1/projects/{pid}/review",
                             json={"decision": "refer", "reason": "超过五万元，提交党政联席会议"}, headers=OFFICE,
                             timeout=10)
    assert referred.status_code == 200 and referred.json()["status"] == "referred"
    assert requests.post(f"{base}/api/v1/projects/{pid}/allocations", headers=OFFICE, timeout=10,
                         json={"parts": [{"pool": "venture-2026", "amount_fen": 100}]}).status_code == 409
    decision = make_event(MeetingDecisionMadeV1, {
        "meeting_id": "qs-2026-48", "item_id": "5", "decided_at": datetime.now(timezone.utc),
        "subject": {"kind": "project", "id": pid}, "decision": "approve", "reason": "同意，核减至十万元",
        "funding": {"approved_fen": 10_000_000}}, source="meetings", township_id="qingshui", correlation_id=pid)
    exchange = Exchange("meetings.events", type="topic", durable=True)
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        conn.Producer().publish(decision, exchange=exchange, routing_key="meeting_decision_made",
                                serializer="json", declare=[exchange])
    approved = wait_for(lambda: project(base, pid), lambda p: p["status"] == "approved")
    assert approved["approved_fen"] == 10_000_000 and approved["review"]["by"] == "meeting:qs-2026-48"
    too_much = requests.post(f"{base}/api/v1/projects/{pid}/allocations", headers=OFFICE, timeout=10,
                             json={"parts": [{"pool": "venture-2026", "amount_fen": 10_000_001}]})
    assert too_much.status_code == 409 and too_much.json()["allocatable_fen"] == 10_000_000
