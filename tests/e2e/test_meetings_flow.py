"""End to end through HTTP and real events, dispatch <-> meetings: an overdue case escalates, appears as a
candidate, is put on an agenda, the meeting assigns a lead unit with a deadline, dispatch creates the task, the
next meeting's agenda opens with that decision's state; a decision that cannot be carried out shows; the minutes
are frozen, amended by addenda and exported as Markdown, HTML and PDF (read back); a consultation topic runs its
whole course; attendees read only the meetings they attend."""
import functools
import io
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
import requests

from township_shared.testing import as_actor, wait_for as shared_wait_for

pytestmark = pytest.mark.integration

SECRETARY, OFFICE = "meeting:secretary", "office"
TITLE = "清水镇第十二次党政联席会议"


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, actor=None, expect=200, body=None, **params):
        headers = as_actor(actor) if actor else {}
        res = requests.request(method, f"{self.base}{path}", json=body, params=params, headers=headers, timeout=20)
        assert res.status_code == expect, (method, path, res.status_code, res.text[:500])
        return res

    def get(self, path, actor=None, expect=200, **params):
        return self.call("GET", path, actor, expect, **params).json()

    def post(self, path, body=None, actor=None, expect=200):
        return self.call("POST", path, actor, expect, body=body).json()


@pytest.fixture
def api(stack, http_base):
    return Api(http_base)


wait_for = functools.partial(shared_wait_for, timeout=20.0, interval=0.2)

def escalated_case(api, dispatch_clock, **over):
    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "nanshan"},
            "village": "nanshan", "category": "disaster_emergency", "title": "山体滑坡堵路",
            "description": "南山村道被塌方堵住", **over}
    case_id = api.post("/api/v1/demands", body, expect=201)["id"]
    wait_for(lambda: requests.get(f"{api.base}/api/v1/cases/{case_id}", headers=as_actor(OFFICE), timeout=5).ok,
             what="dispatch routed the case")
    dispatch_clock.advance(hours=26)  # sign deadline (1 h) and the escalation grace (24 h) pass
    return case_id, wait_for(lambda: next((c for c in api.get("/api/v1/meeting-candidates", SECRETARY)["items"]
                                           if c["subject"] == {"kind": "case", "id": case_id}), None),
                             what="the escalation became a candidate")


def schedule(api, title=TITLE, attendees=("unit:emergency_office", "party_member:pm001",
                                         "supervision:dongpo_residents")):
    body = {"kind": "joint_meeting", "title": title, "starts_at": "2026-12-08T09:00:00+08:00",
            "place": "镇政府三楼会议室", "convener": "镇党委书记 林书记",
            "attendees": [{"actor": a, "name": None, "role": None} for a in attendees]}
    return api.post("/api/v1/meetings", body, SECRETARY, expect=201)


def decide(api, meeting_id, item_id, decision, notes="讨论后一致同意", votes=None):
    return api.post(f"/api/v1/meetings/{meeting_id}/items/{item_id}/record",
                    {"notes": notes, "votes": votes, "decision": decision, "follow_ups": ["两周内回报进展"]},
                    SECRETARY)


def in_days(days):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


def pdf_text(data: bytes) -> str:
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,
                              check=True).stdout.decode()
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_an_escalated_case_is_decided_carried_out_and_followed_at_the_next_meeting(api, dispatch_clock):
    case_id, cand = escalated_case(api, dispatch_clock)
    assert cand["source"] == "case_escalated" and "山体滑坡堵路" in cand["summary"] and "overdue" in cand["summary"]
    assert api.get("/api/v1/meeting-candidates", "unit:emergency_office", expect=403)

    meeting = schedule(api)
    mid = meeting["id"]
    api.get(f"/api/v1/meetings/{mid}", "unit:emergency_office", expect=404)  # a draft is the secretary's own
    meeting = api.post(f"/api/v1/meetings/{mid}/agenda",
                       {"items": [{"candidate_id": cand["id"], "minutes": 20, "presenter": "应急办 高主任"}]},
                       SECRETARY)
    assert [i["title"] for i in meeting["items"]] == [cand["title"]]
    api.post(f"/api/v1/meetings/{mid}/publish", actor=SECRETARY)
    seen = api.get(f"/api/v1/meetings/{mid}", "unit:emergency_office")
    assert seen["status"] == "published" and seen["items"][0]["summary"] == cand["summary"]
    api.get(f"/api/v1/meetings/{mid}", "unit:police_station", expect=404)  # not an attendee
    assert [m["id"] for m in api.get("/api/v1/meetings", "party_member:pm001")["items"]] == [mid]
    api.post(f"/api/v1/meetings/{mid}/close", {"present": ["unit:emergency_office"]}, SECRETARY, expect=409)

    deadline = in_days(10)
    decide(api, mid, cand["id"], {"decision": "assign", "reason": "应急办牵头，交通办配合，十日内清障",
                                  "assignment": {"lead": {"kind": "unit", "id": "emergency_office"},
                                                 "co_units": [{"kind": "unit", "id": "transport_office"}],
                                                 "deadline": deadline}},
           votes={"yes": 7, "no": 0, "abstain": 1})
    closed = api.post(f"/api/v1/meetings/{mid}/close", {"present": ["unit:emergency_office", "party_member:pm001"]},
                      SECRETARY)
    assert closed["status"] == "closed" and [a["actor"] for a in closed["minutes"]["absent"]] == \
        ["supervision:dongpo_residents"]

    decision = wait_for(lambda: next((d for d in api.get(f"/api/v1/meetings/{mid}", SECRETARY)["decisions"]
                                      if d["state"] == "in_progress"), None), what="dispatch carried it out")
    task_ids = decision["outcomes"][0]["task_ids"]
    assert len(task_ids) == 2
    tasks = api.get("/api/v1/tasks", "unit:emergency_office")["items"]
    task = next(t for t in tasks if t["id"] == task_ids[0])
    assert task["role"] == "lead" and task["handling_deadline"][:16] == \
        datetime.fromisoformat(deadline).astimezone(timezone.utc).isoformat()[:16]
    history = api.get(f"/api/v1/cases/{case_id}", OFFICE)["history"]
    assert any(h["who"] == f"meeting:{mid}" and "应急办牵头" in (h["why"] or "") for h in history)
    assert api.get("/api/v1/meeting-candidates", SECRETARY)["items"] == []  # decided: off the list

    nxt = schedule(api, "清水镇第十三次党政联席会议")
    carried = nxt["open_decisions"]
    assert [(d["id"], d["state"], d["outcomes"][0]["task_ids"]) for d in carried] == \
        [(decision["id"], "in_progress", task_ids)]

    # the lead replies: the decision is done and no longer carried over
    api.post(f"/api/v1/tasks/{task_ids[0]}/sign", actor="unit:emergency_office")
    api.post(f"/api/v1/tasks/{task_ids[0]}/complete", {"reply": "已清除塌方，道路恢复通行"}, "unit:emergency_office")
    wait_for(lambda: api.get(f"/api/v1/meetings/{nxt['id']}", SECRETARY)["open_decisions"] == [],
             what="the completed decision left the next agenda")
    assert api.get(f"/api/v1/meetings/{mid}", SECRETARY)["decisions"][0]["state"] == "done"


def test_a_decision_that_cannot_be_carried_out_shows_at_the_next_meeting(api, dispatch_clock):
    case_id, cand = escalated_case(api, dispatch_clock, title="桥面破损", description="南山村石桥桥面破损")
    mid = schedule(api)["id"]
    api.post(f"/api/v1/meetings/{mid}/agenda", {"items": [{"candidate_id": cand["id"]}]}, SECRETARY)
    api.post(f"/api/v1/meetings/{mid}/publish", actor=SECRETARY)
    decide(api, mid, cand["id"], {"decision": "assign", "reason": "交通办牵头",
                                  "assignment": {"lead": {"kind": "unit", "id": "transport_office"},
                                                 "deadline": in_days(5)}})
    api.post("/api/v1/actors/unit/transport_office/deactivate", actor=OFFICE)
    api.post(f"/api/v1/meetings/{mid}/close", {"present": []}, SECRETARY)
    refused = wait_for(lambda: next((d for d in api.get(f"/api/v1/meetings/{mid}", SECRETARY)["decisions"]
                                     if d["state"] == "refused"), None), what="dispatch refused it")
    assert "transport_office" in refused["outcomes"][0]["text"]
    nxt = schedule(api, "清水镇第十三次党政联席会议")
    assert [(d["id"], d["state"]) for d in nxt["open_decisions"]] == [(refused["id"], "refused")]
    back = wait_for(lambda: [c for c in api.get("/api/v1/meeting-candidates", SECRETARY)["items"]
                             if c["subject"]["id"] == case_id], what="the case back among the candidates")
    assert back[0]["reasons"][-1]["source"] == "decision_refused"


def test_a_candidate_resolved_meanwhile_leaves_the_list(api, dispatch_clock):
    case_id, cand = escalated_case(api, dispatch_clock, title="路灯不亮", description="南山村路灯坏了")
    api.post(f"/api/v1/cases/{case_id}/close", {"outcome": "resolved", "reason": "已修复"}, OFFICE)
    wait_for(lambda: all(c["id"] != cand["id"] for c in api.get("/api/v1/meeting-candidates", SECRETARY)["items"]),
             what="the closed case left the candidates")
    resolved = api.get("/api/v1/meeting-candidates", SECRETARY, state="resolved")["items"]
    assert [c["id"] for c in resolved] == [cand["id"]] and "closed" in resolved[0]["resolved"]["why"]


def test_minutes_are_frozen_amended_and_exported_in_three_formats(api, dispatch_clock):
    case_id, cand = escalated_case(api, dispatch_clock)
    other = api.post("/api/v1/meeting-candidates", {"subject": {"kind": "other", "id": "winter-heating"},
                                                    "title": "冬季取暖安全检查", "summary": "入冬前全镇取暖安全检查安排"},
                     OFFICE, expect=201)
    mid = schedule(api)["id"]
    api.post(f"/api/v1/meetings/{mid}/agenda", {"items": [{"candidate_id": cand["id"]},
                                                          {"candidate_id": other["id"]}]}, SECRETARY)
    api.post(f"/api/v1/meetings/{mid}/publish", actor=SECRETARY)
    decide(api, mid, cand["id"], {"decision": "close", "reason": "险情已由村里自行排除",
                                  "closing": {"outcome": "resolved"}})
    decide(api, mid, other["id"], {"decision": "defer", "reason": "待摸排数据后再议"})
    api.post(f"/api/v1/meetings/{mid}/close", {"present": ["unit:emergency_office"]}, SECRETARY)

    api.post(f"/api/v1/meetings/{mid}/items/{other['id']}/record", {"notes": "改"}, SECRETARY, expect=409)
    api.post(f"/api/v1/meetings/{mid}/agenda", {"items": []}, SECRETARY, expect=409)
    api.post(f"/api/v1/meetings/{mid}/addenda", {"text": "更正：出席人员补记党员李红梅"}, SECRETARY)

    md = api.call("GET", f"/api/v1/meetings/{mid}/minutes.md", "unit:emergency_office").text
    html = api.call("GET", f"/api/v1/meetings/{mid}/minutes.html", SECRETARY)
    pdf = api.call("GET", f"/api/v1/meetings/{mid}/minutes.pdf", "party_member:pm001")
    assert html.headers["Content-Type"].startswith("text/html") and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    for rendered in (md, html.text, text):
        assert TITLE in rendered.replace("\n", "")
        assert "险情已由村里自行排除" in rendered and "待摸排数据后再议" in rendered
        assert "更正：出席人员补记党员李红梅" in rendered.replace("\n", "")
    assert "<script" not in html.text
    api.call("GET", f"/api/v1/meetings/{mid}/minutes.pdf", "unit:police_station", expect=404)
    # the close decision closed the case; the deferred item is back on the list
    wait_for(lambda: api.get(f"/api/v1/cases/{case_id}", OFFICE)["status"] == "closed", what="case closed")
    wait_for(lambda: any(c["id"] == other["id"] for c in api.get("/api/v1/meeting-candidates", SECRETARY)["items"]),
             what="deferred item back")


def test_a_consultation_topic_runs_its_whole_course(api, dispatch_clock):
    public = {"X-Township-Id": "qingshui"}
    res = requests.post(f"{api.base}/api/v1/topics", headers=public, timeout=10, json={
        "village": "nanshan", "title": "南山村停车难", "description": "村口道路两侧乱停车，建议规划停车场",
        "proposer_name": "村民王五"})
    assert res.status_code == 201, res.text
    topic = res.json()
    assert "proposer" not in topic
    tid = topic["id"]
    api.post(f"/api/v1/topics/{tid}/accept", {"reason": "涉及多数村民利益，列入协商"}, OFFICE)
    cand = wait_for(lambda: next((c for c in api.get("/api/v1/meeting-candidates", SECRETARY)["items"]
                                  if c["subject"] == {"kind": "topic", "id": tid}), None), what="topic candidate")
    consult = api.post("/api/v1/meetings", {
        "kind": "village_consultation", "title": "南山村停车问题协商会", "starts_at": "2026-12-10T14:00:00+08:00",
        "place": "南山村文化礼堂", "convener": "南山村党支部", "attendees": [
            {"actor": "unit:vc_nanshan", "name": "张德明", "role": "村委会主任"},
            {"actor": "supervision:dongpo_residents", "name": None, "role": "居民代表"}]}, SECRETARY, expect=201)
    api.post(f"/api/v1/meetings/{consult['id']}/agenda", {"items": [{"candidate_id": cand["id"]}]}, SECRETARY)
    api.post(f"/api/v1/topics/{tid}/negotiation", {"meeting_id": consult["id"], "positions": [
        {"stakeholder": "村口商户", "position": "希望保留临时停车"},
        {"stakeholder": "村民代表", "position": "要求规划固定停车场"}]}, SECRETARY)
    api.post(f"/api/v1/topics/{tid}/result", {"result": "利用村委会旁空地建停车场，村口禁停"}, SECRETARY)

    # application: a joint meeting assigns a case of the topic, on its behalf
    case_id, escalated = escalated_case(api, dispatch_clock, title="村口乱停车", description="南山村村口乱停车堵路")
    mid = schedule(api)["id"]
    api.post(f"/api/v1/meetings/{mid}/agenda", {"items": [{"candidate_id": escalated["id"]}]}, SECRETARY)
    api.post(f"/api/v1/meetings/{mid}/publish", actor=SECRETARY)
    decide(api, mid, escalated["id"], {"decision": "assign", "reason": "落实协商结果", "for_topic": tid,
                                       "assignment": {"lead": {"kind": "unit", "id": "vc_nanshan"},
                                                      "deadline": in_days(20)}})
    api.post(f"/api/v1/meetings/{mid}/close", {"present": []}, SECRETARY)
    applied = wait_for(lambda: (lambda t: t if t["step"] == "applied" else None)(
        api.get(f"/api/v1/topics/{tid}", OFFICE)), what="the topic applied")
    assert applied["applications"][0]["task_ids"]

    res = requests.post(f"{api.base}/api/v1/topics/{tid}/feedback", headers=public, timeout=10,
                        json={"text": "停车场建好了，村口通畅", "satisfied": True})
    assert res.status_code == 200, res.text
    api.post(f"/api/v1/topics/{tid}/conclude", {"summary": "停车场已启用，群众满意"}, OFFICE)
    api.post(f"/api/v1/topics/{tid}/accept", {"reason": "again"}, OFFICE, expect=409)

    seen = requests.get(f"{api.base}/api/v1/topics", params={"village": "nanshan"}, headers=public, timeout=10).json()
    mine = next(t for t in seen["items"] if t["id"] == tid)
    assert mine["result"] == "利用村委会旁空地建停车场，村口禁停" and mine["step"] == "concluded"
    assert [s["step"] for s in mine["steps"]] == ["proposed", "accepted", "negotiated", "agreed", "applied",
                                                  "feedback", "concluded"]
    assert "positions" not in mine and "proposer" not in mine and "村民王五" not in str(mine)
    full = api.get(f"/api/v1/topics/{tid}", OFFICE)
    assert full["proposer"]["name"] == "村民王五" and len(full["positions"]) == 2
    # the public proposes, reads and gives feedback; it does not accept
    assert requests.post(f"{api.base}/api/v1/topics/{tid}/accept", json={"reason": "x"}, headers=public,
                         timeout=10).status_code == 401


def test_a_referred_project_is_approved_and_allocated_or_refused_and_the_refusal_shows(api, service_config):
    """Funds has no HTTP routes yet: the project is proposed and referred over RPC with signed principals; the
    meeting's part is HTTP."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from township_shared import auth

    def signed(role, actor):
        return auth.sign(auth.Principal(role=role, actor=actor, township_id="qingshui"), auth.DEFAULT_PRINCIPAL_KEY)

    org, office = signed("social_org", "social_org:so_sunshine_elderly"), signed("office", "office:demo_clerk")
    projects = {}
    with ClusterRpcProxy(service_config, timeout=20) as cluster:
        for key, title, fen in (("kitchen", "东坡村老年食堂", 6_000_000), ("hall", "东坡村文化礼堂改造", 60_000_000)):
            project = cluster.funds.propose_project(org, {"title": title, "village": "dongpo",
                                                          "category": "elderly_care", "requested_fen": fen}, key)
            cluster.funds.review_project(office, project["id"], {"decision": "refer", "reason": "超过五万元，上会"})
            projects[key] = project["id"]
        cands = wait_for(lambda: (lambda items: items if len(items) == 2 else None)(
            [c for c in api.get("/api/v1/meeting-candidates", SECRETARY)["items"] if c["source"] == "project_referred"]),
            what="both projects on the list")
        by_project = {c["subject"]["id"]: c for c in cands}
        assert "¥60,000.00" in by_project[projects["kitchen"]]["summary"]

        mid = schedule(api)["id"]
        api.post(f"/api/v1/meetings/{mid}/agenda", {"items": [{"candidate_id": by_project[p]["id"]}
                                                              for p in projects.values()]}, SECRETARY)
        api.post(f"/api/v1/meetings/{mid}/publish", actor=SECRETARY)
        decide(api, mid, by_project[projects["kitchen"]]["id"], {
            "decision": "approve", "reason": "同意，公益创投列支",
            "funding": {"approved_fen": 6_000_000, "pools": [{"pool": "venture-2026", "amount_fen": 6_000_000}]}},
            votes={"yes": 8, "no": 0, "abstain": 0})
        decide(api, mid, by_project[projects["hall"]]["id"], {
            "decision": "approve", "reason": "同意，以奖代补列支",
            "funding": {"approved_fen": 60_000_000, "pools": [{"pool": "award-2026", "amount_fen": 60_000_000}]}})
        api.post(f"/api/v1/meetings/{mid}/close", {"present": ["unit:emergency_office"]}, SECRETARY)

        def states():
            decisions = api.get(f"/api/v1/meetings/{mid}", SECRETARY)["decisions"]
            got = {d["subject"]["id"]: d for d in decisions}
            return got if {d["state"] for d in got.values()} == {"done", "refused"} else None

        got = wait_for(states, what="funds allocated one and refused the other")
        kitchen, hall = got[projects["kitchen"]], got[projects["hall"]]
        assert kitchen["state"] == "done" and any(o.get("allocation_id") for o in kitchen["outcomes"])
        assert hall["state"] == "refused" and "award-2026" in hall["outcomes"][-1]["text"]
        funded = cluster.funds.get_project(office, projects["kitchen"])
        assert funded["status"] == "approved" and sum(f["allocated_fen"] for f in funded["funding"]) == 6_000_000
    nxt = schedule(api, "清水镇第十三次党政联席会议")
    assert [(d["id"], d["state"]) for d in nxt["open_decisions"]] == [(hall["id"], "refused")]
    assert wait_for(lambda: [c for c in api.get("/api/v1/meeting-candidates", SECRETARY)["items"]
                             if c["subject"]["id"] == projects["hall"]], what="the refused project back on the list")
