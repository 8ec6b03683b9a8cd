"""End to end: one case walked through every stage (received, triage, dispatched, in_progress, completed,
callback, closed) and a duplicate of it; at each step every read endpoint tells the same status: the demand
(intake), the demand listing filtered by that status, the case (dispatch), the unit's task and the public
timeline. Dispatch decides the status; the others show what it announced."""
import json
import time

import pytest
import requests

pytestmark = pytest.mark.integration
OFFICE = {"X-Actor-Id": "office"}
UNIT = {"X-Actor-Id": "unit:water_station"}
REPORTER = {"name": "李四", "phone": "13912345678", "village": "dongpo"}


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
        "demand": get(base, f"/api/v1/demands/{case_id}")["status"],
        "case": get(base, f"/api/v1/cases/{case_id}", OFFICE)["status"],
        "timeline": get(base, f"/api/v1/demands/{case_id}/timeline")["status"],
    }
    listed = [s for s in ("received", "duplicate", "triage", "dispatched", "in_progress", "completed", "callback",
                          "closed")
              if any(d["id"] == case_id for d in get(base, "/api/v1/demands", status=s, limit=100)["items"])]
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
    body = {"channel": "hotline", "reporter": REPORTER, "village": "dongpo", "title": "说不清的事情",
            "description": "一件没有关键词的事情"}
    accepted = post(base, "/api/v1/demands", body, headers={})
    case_id = accepted["id"]
    assert accepted["status"] == "received"

    settle(base, case_id, "triage")
    post(base, f"/api/v1/cases/{case_id}/route", {"lead": "unit:water_station", "co_handlers": [],
                                                   "category": "drinking_water", "reason": "停水归供水站"})
    task_id = get(base, f"/api/v1/cases/{case_id}", OFFICE)["tasks"][-1]["id"]
    settle(base, case_id, "dispatched", task_id)

    duplicate = post(base, "/api/v1/demands", {**body, "category": "drinking_water", "title": "还是停水"},
                     headers={})
    assert duplicate["status"] == "duplicate" and duplicate["duplicate_of"] == case_id
    settle(base, duplicate["id"], "duplicate")

    post(base, f"/api/v1/tasks/{task_id}/sign", headers=UNIT)
    settle(base, case_id, "in_progress", task_id)
    post(base, f"/api/v1/tasks/{task_id}/complete", {"reply": "已更换水管, 恢复供水"}, headers=UNIT)
    settle(base, case_id, "completed")

    callback = get(base, "/api/v1/callbacks", OFFICE, case_id=case_id)["items"][0]
    post(base, f"/api/v1/callbacks/{callback['id']}/attempt", {"note": "无人接听"})
    settle(base, case_id, "callback")
    post(base, f"/api/v1/callbacks/{callback['id']}/answer", {"resolved": True, "satisfaction": "satisfied"})
    settle(base, case_id, "closed")

    demand = get(base, f"/api/v1/demands/{case_id}")
    case = get(base, f"/api/v1/cases/{case_id}", OFFICE)
    assert demand["outcome"] == case["closed"]["outcome"] == "resolved"
    assert case["closed"]["by"] == "callback"

    timeline = get(base, f"/api/v1/demands/{case_id}/timeline")
    assert [e["step"] for e in timeline["entries"]] == ["received", "triage", "assigned", "signed", "completed",
                                                        "callback", "closed"]
    completed = timeline["entries"][4]
    assert completed["text"] == "已更换水管, 恢复供水"
    assert completed["holder"] == {"kind": "unit", "names": {"zh": "镇供水站", "en": "Township Water Station"}}
    assert timeline["outcome"] == "resolved" and timeline["closed_at"] and timeline["holder"] is None
    public = json.dumps(timeline, ensure_ascii=False)
    for secret in ("13912345678", "5678", "李四", "陈建国", "0579", "停水归供水站", "无人接听"):
        assert secret not in public, secret


def test_timeline_of_a_party_members_case_names_no_one(stack, http_base):
    base = http_base
    body = {"channel": "grid_patrol", "reporter": {"name": "王五", "phone": "13700001111", "village": "dongpo"},
            "village": "dongpo", "category": "elderly_care", "title": "独居老人需要帮忙",
            "description": "老人腿脚不便, 需要买菜"}
    case_id = post(base, "/api/v1/demands", body, headers={})["id"]
    deadline = time.monotonic() + 20
    while get(base, f"/api/v1/demands/{case_id}/timeline")["status"] == "received":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    timeline = get(base, f"/api/v1/demands/{case_id}/timeline")
    case = get(base, f"/api/v1/cases/{case_id}", OFFICE)
    if case["status"] == "dispatched":
        lead = case["tasks"][0]["assignee"]
        assert timeline["holder"] == {"kind": lead["kind"], "names": None}
        member = get(base, f"/api/v1/actors/{lead['kind']}/{lead['id']}", OFFICE)
        assert member["names"]["zh"] not in json.dumps(timeline, ensure_ascii=False)
    assert "王五" not in json.dumps(timeline, ensure_ascii=False)


def test_timeline_of_unknown_case_is_404(stack, http_base):
    assert requests.get(f"{http_base}/api/v1/demands/nope/timeline", timeout=10).status_code == 404
