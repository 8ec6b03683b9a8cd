"""End to end: a case from intake to completion, callback, redo, second completion and a satisfied close through
the resident's one-time link, with the assessment figures checked at each step; completion reports of a social
organisation; hotspot warning; CSV export and ranking."""
import csv
import io

import pytest
import requests

from township_shared.events import load_event
from township_shared.testing import approved_project, as_actor, wait_for

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")
UNIT = as_actor("unit:water_station")




def test_case_lifecycle_with_redo_and_figures(stack, http_base, event_listener):
    base = http_base
    feedback_events = event_listener("feedback")

    def figures():
        res = requests.get(f"{base}/api/v1/assessment", params={"dimension": "actor", "period": "month"},
                           headers=OFFICE, timeout=10)
        assert res.status_code == 200, res.text
        return {r["key"]: r for r in res.json()["items"]}.get("unit:water_station", {})

    def has(**expected):
        return lambda row: all(row.get(k) == v for k, v in expected.items())

    def my_open_task():
        items = requests.get(f"{base}/api/v1/tasks", headers=UNIT, timeout=10).json()["items"]
        return items[0]["id"] if items else None

    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "停水三天", "description": "东坡村三组停水"}
    case_id = requests.post(f"{base}/api/v1/demands", json=body, timeout=10).json()["id"]
    task1 = wait_for(my_open_task, bool)
    wait_for(figures, has(dispatched=1, signed=0, response_rate=0.0))

    requests.post(f"{base}/api/v1/tasks/{task1}/sign", headers=UNIT, timeout=10).raise_for_status()
    requests.post(f"{base}/api/v1/tasks/{task1}/complete", json={"reply": "已抢修"}, headers=UNIT,
                  timeout=10).raise_for_status()
    wait_for(figures, has(signed_on_time=1, completed=1, completed_on_time=1, response_rate=1.0,
                          on_time_completion_rate=1.0))

    callbacks = wait_for(lambda: requests.get(f"{base}/api/v1/callbacks", headers=OFFICE, timeout=10).json()["items"],
                         lambda items: len(items) == 1)
    assert callbacks[0]["case_id"] == case_id and callbacks[0]["link"]
    for wanted, count in ((case_id, 1), ("no-such-case", 0)):
        found = requests.get(f"{base}/api/v1/callbacks", headers=OFFICE, params={"case_id": wanted}, timeout=10)
        assert len(found.json()["items"]) == count
    bad = requests.post(f"{base}/api/v1/callbacks/{callbacks[0]['id']}/answer", headers=OFFICE, timeout=10,
                        json={"resolved": False, "satisfaction": "dissatisfied"})
    assert bad.status_code == 422 and "reason_class" in bad.json()["fields"]  # a rule between fields
    redo = requests.post(f"{base}/api/v1/callbacks/{callbacks[0]['id']}/answer", headers=OFFICE, timeout=10,
                         json={"resolved": False, "satisfaction": "dissatisfied", "reason_class": "unit",
                               "note": "水压仍然不足"})
    assert redo.status_code == 200 and redo.json()["outcome"] == "redo"
    wait_for(figures, has(callbacks_reached=1, resolved=0, rated=1, satisfied=0, redone=1, redo_rate=1.0,
                          resolution_rate=0.0, satisfaction_rate=0.0))

    task2 = wait_for(my_open_task, lambda t: t and t != task1)
    case = requests.get(f"{base}/api/v1/cases/{case_id}", headers=OFFICE, timeout=10).json()
    assert case["status"] == "dispatched" and any(h["what"] == "reopened for redo" for h in case["history"])
    wait_for(figures, has(dispatched=2, response_rate=0.5))
    requests.post(f"{base}/api/v1/tasks/{task2}/sign", headers=UNIT, timeout=10).raise_for_status()
    requests.post(f"{base}/api/v1/tasks/{task2}/complete", json={"reply": "更换加压泵"}, headers=UNIT,
                  timeout=10).raise_for_status()

    second = wait_for(lambda: requests.get(f"{base}/api/v1/callbacks", headers=OFFICE, timeout=10).json()["items"],
                      lambda items: len(items) == 1 and items[0]["id"] != callbacks[0]["id"])[0]
    assert second["link"] == second["api_link"].replace("/api/v1/callback-links/", "/console/callback/")
    link = f"{base}{second['api_link']}"
    public = requests.get(link, timeout=10).json()
    assert public["reply"] == "更换加压泵" and "reporter" not in public
    done = requests.post(link, json={"resolved": True, "satisfaction": "very_satisfied", "comment": "谢谢"},
                         timeout=10)
    assert done.status_code == 200 and done.json()["status"] == "closed"
    assert requests.post(link, json={"resolved": True, "satisfaction": "satisfied"}, timeout=10).status_code == 404

    final = wait_for(figures, has(dispatched=2, signed_on_time=2, completed=2, redone=1, callbacks_reached=2,
                                  resolved=1, rated=2, satisfied=1))
    assert (final["response_rate"], final["redo_rate"], final["resolution_rate"], final["satisfaction_rate"]) == (
        1.0, 0.5, 0.5, 0.5)
    wait_for(lambda: requests.get(f"{base}/api/v1/cases/{case_id}", headers=OFFICE, timeout=10).json(),
             lambda c: c["status"] == "closed" and c["closed"]["outcome"] == "resolved")
    kinds = [load_event(b).type for b in feedback_events.collect(20, timeout=2)]
    assert kinds.count("callback_recorded") == 2 and kinds.count("callback_concluded") == 2
    assert "case_closed" not in kinds and "case_reopened" not in kinds  # dispatch's facts, not feedback's

    exported = requests.get(f"{base}/api/v1/assessment.csv", params={"dimension": "village"}, headers=OFFICE,
                            timeout=10)
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["key"] for r in rows] == ["dongpo"] and rows[0]["dispatched"] == "2"
    ranking = requests.get(f"{base}/api/v1/assessment/ranking", params={"by": "response_rate"}, headers=OFFICE,
                           timeout=10).json()
    assert ranking["top"][0]["key"] == "unit:water_station"
    assert requests.get(f"{base}/api/v1/assessment", headers=UNIT, timeout=10).status_code == 403
    for path in ("assessment", "assessment/ranking", "assessment.csv", "hotspots"):
        other = requests.get(f"{base}/api/v1/{path}", headers={**OFFICE, "X-Township-Id": "atlantis"}, timeout=10)
        assert other.status_code == 403 and other.json()["error"] == "forbidden", path


def test_unreached_callback_closes_the_case_and_counts_only_as_unreached(stack, http_base):
    base = http_base
    body = {"channel": "online", "reporter": {"name": "李四", "phone": "13900000001", "village": "xihe"},
            "village": "xihe", "category": "drinking_water", "title": "水管破裂", "description": "西河村水管破裂"}
    case_id = requests.post(f"{base}/api/v1/demands", json=body, timeout=10).json()["id"]
    task = wait_for(lambda: requests.get(f"{base}/api/v1/tasks", headers=UNIT, timeout=10).json()["items"], bool)[0]
    requests.post(f"{base}/api/v1/tasks/{task['id']}/sign", headers=UNIT, timeout=10).raise_for_status()
    requests.post(f"{base}/api/v1/tasks/{task['id']}/complete", json={"reply": "已修"}, headers=UNIT,
                  timeout=10).raise_for_status()
    cb = wait_for(lambda: requests.get(f"{base}/api/v1/callbacks", headers=OFFICE, timeout=10).json()["items"],
                  bool)[0]
    for _ in range(3):
        res = requests.post(f"{base}/api/v1/callbacks/{cb['id']}/attempt", json={"note": "无人接听"},
                            headers=OFFICE, timeout=10)
        assert res.status_code == 200
    assert res.json()["outcome"] == "unreached"
    wait_for(lambda: requests.get(f"{base}/api/v1/cases/{case_id}", headers=OFFICE, timeout=10).json(),
             lambda c: c["status"] == "closed" and c["closed"]["outcome"] == "unreached")
    row = wait_for(lambda: {r["key"]: r for r in requests.get(
        f"{base}/api/v1/assessment", params={"dimension": "village"}, headers=OFFICE, timeout=10).json()["items"]
    }.get("xihe", {}), lambda r: r.get("callbacks_unreached") == 1)
    assert row["callbacks_reached"] == 0 and row["resolution_rate"] is None and row["reach_rate"] == 0.0


def test_completion_reports_are_verified_or_rejected(stack, http_base, event_listener):
    base = http_base
    listener = event_listener("feedback", "milestone_verified")
    org = as_actor("social_org:so_sunshine_elderly")
    project = approved_project(base, milestones=("第一季度",))
    report = {"project": project, "village": "dongpo", "kind": "milestone", "milestone": "第一季度",
              "text": "为独居老人送餐", "people_served": 42, "hours": 310.5,
              "evidence_urls": ["https://example.org/photos/q1.jpg"]}
    assert requests.post(f"{base}/api/v1/reports", json=report, headers=UNIT, timeout=10).status_code == 403
    bad = requests.post(f"{base}/api/v1/reports", json={**report, "evidence_urls": []}, headers=org, timeout=10)
    assert bad.status_code == 400 and "evidence_urls" in bad.json()["fields"]
    # a report names an approved funds project of the organisation, one of its milestones, in its village
    for wrong, field in (({"project": "no-such-project"}, "project"), ({"milestone": "第二季度"}, "milestone"),
                         ({"village": "xihe"}, "village")):
        refused = requests.post(f"{base}/api/v1/reports", json={**report, **wrong}, headers=org, timeout=10)
        assert refused.status_code == 422 and field in refused.json()["fields"], refused.text  # decision 70
    elsewhere = requests.post(f"{base}/api/v1/reports", json=report, headers=as_actor("social_org:so_handy_repairs"),
                              timeout=10)
    assert elsewhere.status_code == 422 and "project" in elsewhere.json()["fields"]
    created = requests.post(f"{base}/api/v1/reports", json=report, headers=org, timeout=10)
    assert created.status_code == 201
    rid = created.json()["id"]
    other_org = as_actor("social_org:so_handy_repairs")
    assert requests.get(f"{base}/api/v1/reports/{rid}", headers=other_org, timeout=10).status_code == 404
    assert requests.post(f"{base}/api/v1/reports/{rid}/review", json={"verified": True, "reason": "ok"},
                         headers=org, timeout=10).status_code == 403
    verified = requests.post(f"{base}/api/v1/reports/{rid}/review", json={"verified": True, "reason": "走访核实"},
                             headers=as_actor("supervision:dongpo_residents"), timeout=10)
    assert verified.status_code == 200 and verified.json()["status"] == "verified"
    event = load_event(listener.next(timeout=10), "milestone_verified")
    assert event.payload["people_served"] == 42 and event.payload["verified_by"] == "supervision:dongpo_residents"
    again = requests.post(f"{base}/api/v1/reports/{rid}/review", json={"verified": False, "reason": "x"},
                          headers=OFFICE, timeout=10)
    assert again.status_code == 409


def test_hotspot_raised_once_per_cluster(stack, http_base, event_listener):
    base = http_base
    listener = event_listener("feedback", "hotspot_detected")
    for i in range(7):
        body = {"channel": "hotline", "reporter": {"name": f"居民{i}", "phone": f"1350000000{i}",
                                                   "village": "taoyuan"},
                "village": "taoyuan", "category": "environmental_pollution", "title": f"河水发臭 {i}",
                "description": "桃源村小河发臭"}
        assert requests.post(f"{base}/api/v1/demands", json=body, timeout=10).status_code == 201
    event = load_event(listener.next(timeout=15), "hotspot_detected")
    assert event.payload["village"] == "taoyuan" and event.payload["count"] == 5
    assert listener.quiet(3) == []
    listed = requests.get(f"{base}/api/v1/hotspots", headers=OFFICE, timeout=10).json()["items"]
    assert [(h["village"], h["category"]) for h in listed] == [("taoyuan", "environmental_pollution")]
