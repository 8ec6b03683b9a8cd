"""The office's case pages of the console (issue 16) on the running stack, through HTTP like a browser: one-click
routing from triage shows in the API, the board lists escalated and overdue cases first with counts per stage,
a case's page shows its history and tasks and acts on it, callbacks are recorded; a unit or another township's
office cannot open them, and forms need their CSRF token."""
import re

import pytest
import requests

from township_shared.testing import ConsoleClient, as_actor, wait_for

pytestmark = pytest.mark.integration

OFFICE = as_actor("office")
UNIT = as_actor("unit:water_station")


def submit(base, village="dongpo", phone="13812345678", **over):
    """A drinking-water demand; another village and phone make it no duplicate of the test's others."""
    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": phone, "village": village},
            "village": village, "category": "drinking_water", "title": "停水三天", "description": "东坡村三组停水三天了"}
    body.update(over)
    answer = requests.post(f"{base}/api/v1/demands", json=body, timeout=15)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def case_of(base, case_id):
    return requests.get(f"{base}/api/v1/cases/{case_id}", headers=OFFICE, timeout=15).json()


def task_of(base, case_id, headers=UNIT):
    items = requests.get(f"{base}/api/v1/tasks", headers=headers, timeout=15).json()["items"]
    return next((t for t in items if t["case"]["id"] == case_id), None)


@pytest.fixture
def office(stack, http_base):
    return ConsoleClient(http_base, "office")


def test_the_office_routes_a_triaged_case_with_one_click(office, http_base):
    case_id = submit(http_base)
    task = wait_for(lambda: task_of(http_base, case_id))
    requests.post(f"{http_base}/api/v1/tasks/{task['id']}/return", json={"reason": "管网属于村集体"}, headers=UNIT,
                  timeout=15).raise_for_status()

    page = office.get("/console/office/triage")
    assert page.status_code == 200 and 'id="triage-queue"' in page.text
    assert f'id="triage-{case_id}"' in page.text and "管网属于村集体" in page.text
    one_click = re.search(rf'<form[^>]*id="(route-{case_id}-1-drinking_water)"(.*?)</form>', page.text, re.S)
    assert one_click and 'value="unit:water_station"' in one_click.group(2)
    assert "Route to Township Water Station" in one_click.group(2)

    routed = office.post("/console/office/triage", {"case_id": case_id, "category": "drinking_water",
                                                    "lead": "unit:water_station"})
    assert routed.status_code == 303 and routed.headers["Location"] == "/console/office/triage?done=routed"
    after = office.get(routed.headers["Location"])
    assert "The case was routed." in after.text and f'id="triage-{case_id}"' not in after.text
    case = case_of(http_base, case_id)
    assert case["status"] == "dispatched"
    assert [t["assignee_key"] for t in case["tasks"] if t["status"] == "assigned"] == ["unit:water_station"]
    assert any(h["who"] == "office:demo_clerk" and "Routed from triage" in (h["why"] or "")
               for h in case["history"])

    refused = office.post("/console/office/triage", {"case_id": case_id, "lead": "unit:no_such_unit"})
    assert refused.status_code == 422 and "no_such_unit" in refused.text and 'role="alert"' in refused.text


def test_the_board_lists_escalated_then_overdue_cases_first_with_counts(office, http_base, dispatch_clock):
    late = submit(http_base, title="水压低")
    whistled = submit(http_base, village="nanshan", phone="13812345679", title="水管漏")
    wait_for(lambda: task_of(http_base, late) and task_of(http_base, whistled))
    dispatch_clock.advance(hours=3)  # past the 2 h sign deadline of both: overdue
    wait_for(lambda: case_of(http_base, late), lambda c: any(h["what"].startswith("overdue") for h in c["history"]))
    fresh = submit(http_base, village="beiling", phone="13812345670", title="水龙头")  # assigned on the moved clock: on time
    wait_for(lambda: task_of(http_base, fresh))
    whistle = office.post(f"/console/cases/{whistled}", {"action": "whistle", "units": ["unit:water_station",
                                                         "unit:party_gov_office"], "reason": "需要多部门联合处置"})
    assert whistle.status_code == 303 and whistle.headers["Location"].endswith("done=whistled")

    board = office.get("/console/office?stage=dispatched")
    assert board.status_code == 200 and 'id="case-board"' in board.text
    rows = re.findall(r'<tr id="case-([^"]+)"(?: class="attention-(\w+)")?>', board.text)
    ours = [(case_id, attention) for case_id, attention in rows if case_id in (late, whistled, fresh)]
    assert ours == [(whistled, "escalated"), (late, "overdue"), (fresh, "")]
    counts = re.search(r'id="stage-counts"(.*?)</ul>', board.text, re.S).group(1)
    assert re.search(r"Dispatched <span class=\"count\">([0-9]+)</span>", counts).group(1) != "0"
    assert f'href="/console/cases/{whistled}"' in board.text

    filtered = office.get("/console/office?stage=dispatched&village=xihe")
    assert f'id="case-{late}"' not in filtered.text
    assert office.get("/console/office?stage=dispatched&cursor=not-a-cursor").status_code == 400


def test_the_case_page_shows_history_tasks_and_timeline_and_closes(office, http_base):
    case_id = submit(http_base)
    wait_for(lambda: task_of(http_base, case_id))
    page = office.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    case = case_of(http_base, case_id)
    assert case["case_number"] in page.text and "东坡村三组停水三天了" in page.text
    assert "13812345678" in page.text  # the office reads the reporter's phone, as the API shows it to the office
    tasks = re.search(r'id="case-tasks"(.*?)</table>', page.text, re.S).group(1)
    assert "Township Water Station" in tasks and "data-deadline=" in tasks
    history = re.search(r'id="case-history"(.*?)</table>', page.text, re.S).group(1)
    assert "assigned to unit:water_station as lead" in history and "responsibility list" in history
    assert 'id="case-timeline"' in page.text and 'id="case-duplicates"' in page.text

    closed = office.post(f"/console/cases/{case_id}", {"action": "close", "outcome": "withdrawn",
                                                        "reason": "居民撤回"})
    assert closed.status_code == 303
    assert case_of(http_base, case_id)["closed"]["outcome"] == "withdrawn"
    again = office.get(closed.headers["Location"])
    assert "Closed." in again.text and "居民撤回" in again.text and f'id="close-{case_id}"' not in again.text
    assert office.get("/console/cases/no-such-case").status_code == 404


def test_callbacks_due_show_the_link_and_record_an_attempt(office, http_base):
    case_id = submit(http_base, village="xihe", phone="13900000001")
    task = wait_for(lambda: task_of(http_base, case_id))
    for command, body in (("sign", None), ("complete", {"reply": "已修好"})):
        requests.post(f"{http_base}/api/v1/tasks/{task['id']}/{command}", json=body, headers=UNIT,
                      timeout=15).raise_for_status()
    callback = wait_for(lambda: next((c for c in requests.get(f"{http_base}/api/v1/callbacks", headers=OFFICE,
                                                              timeout=15).json()["items"]
                                      if c["case_id"] == case_id), None))
    page = office.get("/console/office/callbacks")
    assert page.status_code == 200 and f'id="callback-{callback["id"]}"' in page.text
    assert callback["link"] in page.text and "已修好" in page.text
    recorded = office.post("/console/office/callbacks", {"callback_id": callback["id"], "action": "attempt",
                                                         "note": "无人接听"})
    assert recorded.status_code == 303 and recorded.headers["Location"].endswith("done=recorded")
    after = requests.get(f"{http_base}/api/v1/callbacks", params={"case_id": case_id}, headers=OFFICE,
                         timeout=15).json()["items"][0]
    assert [a["note"] for a in after["attempts"]] == ["无人接听"]
    answered = office.post("/console/office/callbacks", {"callback_id": callback["id"], "action": "answer",
                                                         "resolved": "yes", "satisfaction": "satisfied"})
    assert answered.status_code == 303
    wait_for(lambda: case_of(http_base, case_id), lambda c: c["status"] == "closed")
    assert "Callback" in office.get(f"/console/cases/{case_id}").text


def test_units_and_other_townships_cannot_open_the_offices_pages_or_cases(office, http_base):
    case_id = submit(http_base)
    wait_for(lambda: task_of(http_base, case_id))
    unit = ConsoleClient(http_base, "unit:water_station")
    for path in ("/console/office", "/console/office/triage", "/console/office/callbacks", f"/console/cases/{case_id}"):
        assert unit.get(path).status_code == 403, path
    assert unit.post(f"/console/cases/{case_id}", {"action": "close", "outcome": "resolved",
                                                   "reason": "x"}).status_code == 403
    other = ConsoleClient(http_base, "office", township="baiyun")
    assert other.get(f"/console/cases/{case_id}").status_code == 404
    assert other.post(f"/console/cases/{case_id}", {"action": "close", "outcome": "resolved",
                                                    "reason": "x"}).status_code == 404
    assert f'id="case-{case_id}"' not in other.get("/console/office?stage=dispatched").text
    assert case_of(http_base, case_id)["status"] == "dispatched"

    forged = office.http.post(f"{http_base}/console/cases/{case_id}", allow_redirects=False,
                              data={"action": "close", "outcome": "resolved", "reason": "x"})
    assert forged.status_code == 403 and case_of(http_base, case_id)["status"] == "dispatched"


def test_the_office_adds_photos_to_a_case_and_sees_them(office, http_base):
    import io

    from PIL import Image

    case_id = submit(http_base)
    wait_for(lambda: task_of(http_base, case_id))
    picture = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(picture, format="PNG")
    added = office.post(f"/console/cases/{case_id}", {"action": "photos"},
                        files={"photos": ("site.png", picture.getvalue(), "image/png")})
    assert added.status_code == 303 and added.headers["Location"].endswith("done=saved")
    page = office.get(f"/console/cases/{case_id}")
    shown = re.findall(r'<img class="photo" src="(/console/photos/[0-9a-f]+)"', page.text)
    assert len(shown) == 1
    photo = office.get(shown[0])
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/png"
    empty = office.post(f"/console/cases/{case_id}", {"action": "photos"})
    assert empty.status_code == 422 and 'id="case-error"' in empty.text
    text = office.post(f"/console/cases/{case_id}", {"action": "photos"},
                       files={"photos": ("notes.png", b"not an image", "image/png")})
    assert text.status_code == 415 or (text.status_code == 422 and 'id="case-error"' in text.text)
