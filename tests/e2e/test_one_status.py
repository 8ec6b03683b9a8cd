"""End to end: one case walked through every stage (received, triage, dispatched, in_progress, completed,
callback, closed) and a duplicate of it; at each step every read endpoint tells the same status: the demand
(intake), the demand listing filtered by that status, the case (dispatch), the unit's task and the public
timeline. Dispatch decides the status; the others show what it announced."""
import json
import time

import pytest
import requests
from township_shared.testing import as_actor

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")
UNIT = as_actor("unit:sanitation_office")
REPORTER = {"name": "李四", "phone": "13912345678", "village": "huaxi"}


def get(base, path, headers=None, **params):
    res = requests.get(f"{base}{path}", headers=headers, params=params, timeout=10)
    assert res.status_code == 200, (path, res.status_code, res.text)
    return res.json()


def post(base, path, body=None, headers=OFFICE):
    res = requests.post(f"{base}{path}", json=body or {}, headers=headers, timeout=10)
    assert res.status_code in (200, 201), (path, res.status_code, res.text)
    return res.json()


def everywhere(base, case_id, task_id=None):
    """The status of the case as each read endpoint tells it."""
    seen = {
        "demand": get(base, f"/api/v1/demands/{case_id}", OFFICE)["status"],
        "case": get(base, f"/api/v1/cases/{case_id}", OFFICE)["status"],
        "timeline": get(base, f"/api/v1/demands/{case_id}/timeline", OFFICE)["status"],
    }
    listed = [s for s in ("received", "duplicate", "triage", "dispatched", "in_progress", "completed", "callback",
                          "closed")
              if any(d["id"] == case_id for d in get(base, "/api/v1/demands", OFFICE, status=s, limit=100)["items"])]
    seen["listing"] = listed[0] if len(listed) == 1 else listed
    if task_id:
        tasks = get(base, "/api/v1/tasks", UNIT)["items"]
        every = {t["id"]: t for t in tasks}
        if task_id in every:
            seen["task"] = every[task_id]["case"]["status"]
    return seen


def settle(base, case_id, expected, task_id=None, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        seen = everywhere(base, case_id, task_id)
        if set(seen.values()) == {expected}:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {expected!r} everywhere, saw {seen}")
        time.sleep(0.2)


def test_one_status_everywhere_through_every_stage(stack, http_base):
    base = http_base
    # two rules lead environmental pollution in huaxi: the case waits for the office
    body = {"channel": "hotline", "reporter": REPORTER, "village": "huaxi", "category": "environmental_pollution",
            "title": "河里有油污", "description": "村口小河漂着油污"}
    accepted = post(base, "/api/v1/demands", body, headers={})
    case_id = accepted["id"]
    assert accepted["status"] == "received"

    settle(base, case_id, "triage")
    post(base, f"/api/v1/cases/{case_id}/route", {"lead": "unit:sanitation_office", "co_handlers": [],
                                                   "reason": "油污归环卫所"})
    task_id = get(base, f"/api/v1/cases/{case_id}", OFFICE)["tasks"][-1]["id"]
    settle(base, case_id, "dispatched", task_id)

    duplicate = post(base, "/api/v1/demands", {**body, "title": "油污还在"}, headers={})
    assert duplicate["status"] == "duplicate" and duplicate["duplicate_of"] == case_id
    settle(base, duplicate["id"], "duplicate")

    post(base, f"/api/v1/tasks/{task_id}/sign", headers=UNIT)
    settle(base, case_id, "in_progress", task_id)
    post(base, f"/api/v1/tasks/{task_id}/complete", {"reply": "已清理油污, 查明来源"}, headers=UNIT)
    settle(base, case_id, "completed")

    callback = get(base, "/api/v1/callbacks", OFFICE, case_id=case_id)["items"][0]
    post(base, f"/api/v1/callbacks/{callback['id']}/attempt", {"note": "无人接听"})
    settle(base, case_id, "callback")
    post(base, f"/api/v1/callbacks/{callback['id']}/answer", {"resolved": True, "satisfaction": "satisfied"})
    settle(base, case_id, "closed")

    demand = get(base, f"/api/v1/demands/{case_id}", OFFICE)
    case = get(base, f"/api/v1/cases/{case_id}", OFFICE)
    assert demand["outcome"] == case["closed"]["outcome"] == "resolved"
    assert case["closed"]["by"] == "callback"

    timeline = get(base, f"/api/v1/demands/{case_id}/timeline", OFFICE)
    assert [e["step"] for e in timeline["entries"]] == ["received", "triage", "assigned", "signed", "completed",
                                                        "callback", "closed"]
    completed = timeline["entries"][4]
    assert completed["text"] == "已清理油污, 查明来源"
    assert completed["holder"] == {"kind": "unit", "names": {"zh": "镇环卫所（生态环境办）",
                                                             "en": "Sanitation and Environment Office"}}
    assert timeline["outcome"] == "resolved" and timeline["closed_at"] and timeline["holder"] is None
    public = json.dumps(timeline, ensure_ascii=False)
    for secret in ("13912345678", "5678", "李四", "郑丽华", "0579", "油污归环卫所", "无人接听"):
        assert secret not in public, secret


def test_timeline_of_a_party_members_case_names_no_one(stack, http_base):
    base = http_base
    body = {"channel": "grid_patrol", "reporter": {"name": "王五", "phone": "13700001111", "village": "dongpo"},
            "village": "dongpo", "category": "elderly_care", "title": "独居老人需要帮忙",
            "description": "老人腿脚不便, 需要买菜"}
    case_id = post(base, "/api/v1/demands", body, headers={})["id"]
    deadline = time.monotonic() + 20
    while requests.get(f"{base}/api/v1/cases/{case_id}", headers=OFFICE, timeout=10).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    post(base, f"/api/v1/cases/{case_id}/route", {"lead": "party_member:pm001", "co_handlers": [],
                                                   "reason": "李红梅离得近"})
    timeline = get(base, f"/api/v1/demands/{case_id}/timeline", OFFICE)
    assert timeline["status"] == "dispatched"
    assert timeline["holder"] == {"kind": "party_member", "names": None}
    assert timeline["entries"][-1]["holder"] == {"kind": "party_member", "names": None}
    public = json.dumps(timeline, ensure_ascii=False)
    for secret in ("李红梅", "13905791001", "pm001", "王五", "13700001111"):
        assert secret not in public, secret


def test_timeline_of_unknown_case_is_404(stack, http_base):
    assert requests.get(f"{http_base}/api/v1/demands/nope/timeline", timeout=10).status_code == 404
