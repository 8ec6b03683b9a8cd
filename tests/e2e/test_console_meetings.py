"""The meetings pages of the console on the running stack (issue 16): an office clerk adds an item, schedules a
meeting, composes its agenda from the candidates, publishes it, records a decision and closes the meeting through
the forms; the API shows the same meeting, and the minutes are served as PDF with the session's authority; a
refusal of the service shows beside its form; roles without the page are refused."""
import re

import pytest
import requests

from township_shared.testing import ConsoleClient, as_actor, wait_for

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")


def meeting_id_of(answer) -> str:
    assert answer.status_code == 303, answer.text[:500]
    found = re.match(r"/console/meetings/(m-[\w-]+)\?done=", answer.headers["Location"])
    assert found, answer.headers["Location"]
    return found.group(1)


def test_an_office_clerk_composes_an_agenda_and_records_a_decision(stack, http_base):
    office = ConsoleClient(http_base, "office")
    page = office.get("/console/meetings")
    assert page.status_code == 200 and 'id="schedule-meeting"' in page.text and 'id="propose-item"' in page.text

    added = office.post("/console/meetings/candidates", {"subject_kind": "other", "subject_id": "road-lights",
                                                         "title": "镇街路灯改造", "summary": "镇街主干道路灯老化"})
    assert added.status_code == 303 and added.headers["Location"] == "/console/meetings?done=saved"
    candidate = next(c for c in requests.get(f"{http_base}/api/v1/meeting-candidates", headers=OFFICE,
                                             timeout=10).json()["items"] if c["title"] == "镇街路灯改造")
    assert "镇街路灯改造" in office.get("/console/meetings").text

    missing = office.post("/console/meetings", {"kind": "joint_meeting", "title": "清水镇第十四次党政联席会议",
                                                "starts_at": "", "place": "三楼", "convener": "林书记",
                                                "attendees": "unit:water_station"})
    assert missing.status_code == 422 and "starts_at" in missing.text and "清水镇第十四次" in missing.text
    mid = meeting_id_of(office.post("/console/meetings", {
        "kind": "joint_meeting", "title": "清水镇第十四次党政联席会议", "starts_at": "2026-12-15T09:00",
        "place": "镇政府三楼会议室", "convener": "林书记", "attendees": "unit:water_station 自来水站\nparty_member:pm001"}))
    meeting = office.get(f"/console/meetings/{mid}")
    assert meeting.status_code == 200 and f'id="add-{candidate["id"]}"' in meeting.text

    composed = office.post(f"/console/meetings/{mid}/agenda", {"add": candidate["id"],
                                                               f"minutes_{candidate['id']}": "20",
                                                               f"presenter_{candidate['id']}": "城建办 王主任"})
    assert composed.status_code == 303
    early_close = office.post(f"/console/meetings/{mid}/close", {"present": "unit:water_station"})
    assert early_close.status_code == 409 and "publish" in early_close.text
    assert office.post(f"/console/meetings/{mid}/publish").status_code == 303

    wrong_kind = office.post(f"/console/meetings/{mid}/items/{candidate['id']}/record",
                             {"decision": "assign", "reason": "交城建办", "lead": "water_station",
                              "deadline": "2027-01-10T17:00"})
    assert wrong_kind.status_code == 422 and "assign is decided on a case" in wrong_kind.text
    recorded = office.post(f"/console/meetings/{mid}/items/{candidate['id']}/record", {
        "notes": "讨论后同意纳入明年计划", "votes_yes": "7", "votes_no": "0", "votes_abstain": "1",
        "decision": "close", "reason": "纳入明年城建计划", "outcome": "resolved", "follow_ups": "城建办一月报方案"})
    assert recorded.status_code == 303 and recorded.headers["Location"].endswith(f"#item-{candidate['id']}")

    api = requests.get(f"{http_base}/api/v1/meetings/{mid}", headers=OFFICE, timeout=10).json()
    item = api["items"][0]
    assert (api["status"], item["presenter"], item["minutes"]) == ("published", "城建办 王主任", 20)
    assert item["decision"]["decision"] == "close" and item["decision"]["closing"] == {"outcome": "resolved"}
    assert item["votes"] == {"yes": 7, "no": 0, "abstain": 1} and item["follow_ups"] == ["城建办一月报方案"]
    assert api["starts_at"].startswith("2026-12-15T01:00")  # 09:00 in the township's zone (UTC+8)

    closed = office.post(f"/console/meetings/{mid}/close", {"present": "unit:water_station"})
    assert closed.status_code == 303
    shown = office.get(f"/console/meetings/{mid}").text
    assert 'id="minutes-exports"' in shown and "party_member:pm001" in shown and 'id="record-' not in shown
    pdf = office.get(f"/console/meetings/{mid}/minutes.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.headers["Content-Type"] == "application/pdf"
    assert "纳入明年城建计划" in office.get(f"/console/meetings/{mid}/minutes.md").text
    assert office.get(f"/console/meetings/{mid}/minutes.docx").status_code == 404
    api = requests.get(f"{http_base}/api/v1/meetings/{mid}", headers=OFFICE, timeout=10).json()
    assert api["status"] == "closed" and [a["actor"] for a in api["minutes"]["absent"]] == ["party_member:pm001"]


def test_the_secretary_signs_in_to_the_meetings_and_others_are_refused(stack, http_base):
    secretary = ConsoleClient(http_base, "meeting:secretary")
    home = secretary.get("/console/", follow=True)
    assert home.url.endswith("/console/meetings") and 'id="candidates"' in home.text
    assert 'id="propose-item"' not in home.text  # adding candidates is the office's
    unit = ConsoleClient(http_base, "unit:water_station")
    assert unit.get("/console/meetings").status_code == 403
    assert unit.post("/console/meetings", {"title": "x"}).status_code == 403
    assert secretary.post("/console/meetings/candidates", {"title": "x"}).status_code == 403


def test_a_project_referred_from_the_funds_page_is_approved_with_pools_at_the_meeting(stack, http_base):
    org = {"Authorization": as_actor("social_org:so_sunshine_elderly")["Authorization"]}
    proposal = {"title": "南山村应急物资库", "village": "nanshan", "category": "elderly_care", "beneficiaries": 300,
                "requested_fen": 12_000_000, "advance_percent": 30, "milestones": []}
    pid = requests.post(f"{http_base}/api/v1/projects", json=proposal, headers=org, timeout=10).json()["id"]
    office = ConsoleClient(http_base, "office")
    assert office.post(f"/console/funds/projects/{pid}/review", {"decision": "approve"}).status_code == 409
    assert office.post(f"/console/funds/projects/{pid}/review",
                       {"decision": "refer", "reason": "超过五万元，提交党政联席会议"}).status_code == 303
    candidate = wait_for(lambda: next((c for c in requests.get(f"{http_base}/api/v1/meeting-candidates",
                                                               headers=OFFICE, timeout=10).json()["items"]
                                       if c["subject"] == {"kind": "project", "id": pid}), None),
                         what="the referral became a candidate")
    secretary = ConsoleClient(http_base, "meeting:secretary")
    mid = meeting_id_of(secretary.post("/console/meetings", {
        "kind": "joint_meeting", "title": "清水镇第十五次党政联席会议", "starts_at": "2026-12-22T09:00",
        "place": "镇政府三楼会议室", "convener": "林书记", "attendees": "unit:emergency_office"}))
    secretary.post(f"/console/meetings/{mid}/agenda", {"add": candidate["id"]})
    secretary.post(f"/console/meetings/{mid}/publish")
    page = secretary.get(f"/console/meetings/{mid}").text
    assert 'name="approved_yuan"' in page and 'name="lead"' not in page  # a project's kinds, not a case's
    assert f'href="/console/funds/projects/{pid}"' in page
    uneven = secretary.post(f"/console/meetings/{mid}/items/{candidate['id']}/record", {
        "decision": "approve", "reason": "同意，核减至十万元", "approved_yuan": "100000",
        "pools": "venture-2026: 60000\npurchase-2026: 30000"})
    assert uneven.status_code == 422 and "add up to approved_fen" in uneven.text
    assert secretary.post(f"/console/meetings/{mid}/items/{candidate['id']}/record", {
        "decision": "approve", "reason": "同意，核减至十万元", "approved_yuan": "100000",
        "pools": "venture-2026: 60000\npurchase-2026：40,000"}).status_code == 303
    assert secretary.post(f"/console/meetings/{mid}/close", {"present": "unit:emergency_office"}).status_code == 303

    project = wait_for(lambda: requests.get(f"{http_base}/api/v1/projects/{pid}", headers=OFFICE, timeout=10).json(),
                       lambda p: p["allocated_fen"] == 10_000_000, what="funds allocated the meeting's approval")
    assert project["status"] == "approved" and project["review"]["by"] == f"meeting:{mid}"
    assert {f["pool"]: f["allocated_fen"] for f in project["funding"]} == {"venture-2026": 6_000_000,
                                                                         "purchase-2026": 4_000_000}
    shown = office.get(f"/console/funds/projects/{pid}").text
    assert "¥100,000.00" in shown.split('id="project-allocated"')[1][:60]
