"""The console of the actors who receive tasks (issue 16): the water station signs, asks for an extension and
completes its task (with a photo) through the console, and the API shows each change; a refused form shows why
and changes nothing; another unit cannot open the task (404)."""
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from PIL import Image

from township_shared.testing import ConsoleClient, as_actor, wait_for

pytestmark = pytest.mark.integration
UNIT = as_actor("unit:water_station")
OFFICE = as_actor("office")
ZONE = ZoneInfo("Asia/Shanghai")
PUBLIC = "https://console.qingshui.example"


@pytest.fixture
def service_config(service_config):
    """The console's public address: the completion's photos are the reply's attachments under it."""
    return {**service_config, "CONSOLE_PUBLIC_URL": PUBLIC + "/"}


def water_task(http_base) -> dict:
    body = {"channel": "hotline", "reporter": {"name": "李四", "phone": "13912345678", "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "自来水发黄",
            "description": "东坡村五组的自来水发黄，有股味道，已经两天了"}
    answer = requests.post(f"{http_base}/api/v1/demands", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["id"]

    def mine():
        items = requests.get(f"{http_base}/api/v1/tasks", headers=UNIT, timeout=10).json()["items"]
        return [t for t in items if t["case"]["id"] == case_id]

    return wait_for(mine, what="the water station's task")[0]


def api_task(http_base, task_id) -> dict:
    case_id = task_id.rpartition(".")[0]
    case = requests.get(f"{http_base}/api/v1/cases/{case_id}", headers=OFFICE, timeout=10).json()
    return next(t for t in case["tasks"] if t["id"] == task_id)


def a_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


def test_the_water_station_signs_asks_for_time_and_completes_through_the_console(stack, http_base):
    task = water_task(http_base)
    task_id, page = task["id"], f"/console/tasks/{task['id']}"
    station = ConsoleClient(http_base, "unit:water_station")

    listing = station.get("/console/tasks")
    assert listing.status_code == 200 and task["case"]["case_number"] in listing.text
    assert f'href="{page}"' in listing.text and f'data-deadline="{task["sign_deadline"]}"' in listing.text

    shown = station.get(page)
    assert shown.status_code == 200 and "东坡村五组的自来水发黄" in shown.text  # the demand's text
    assert "139****5678" in shown.text and "13912345678" not in shown.text  # masked, as the API shows a unit
    assert 'id="task-sign"' in shown.text and 'id="task-complete"' not in shown.text  # what the state allows

    signed = station.post(page, {"command": "sign"})
    assert signed.status_code == 303 and signed.headers["Location"] == f"{page}?done=signed"
    assert api_task(http_base, task_id)["status"] == "signed"
    assert "Task signed." in station.get(signed.headers["Location"]).text

    # a date before the current deadline: dispatch refuses it, the form says why, nothing changes
    deadline = datetime.fromisoformat(api_task(http_base, task_id)["handling_deadline"]).astimezone(ZONE)
    early = station.post(page, {"command": "request_extension", "until": (deadline - timedelta(days=2)).date()
                                .isoformat(), "reason": "材料未到"})
    assert early.status_code == 422 and "must be after the current handling deadline" in early.text
    assert 'aria-invalid="true"' in early.text and api_task(http_base, task_id)["status"] == "signed"
    empty = station.post(page, {"command": "return", "reason": "  "})
    assert empty.status_code == 422 and "Say why the task is returned." in empty.text
    returned = station.post(page, {"command": "return", "reason": "不归我们管"})  # no longer allowed once signed
    assert returned.status_code == 409 and 'id="task-error"' in returned.text
    assert api_task(http_base, task_id)["status"] == "signed"

    later = (deadline + timedelta(days=3)).date()
    asked = station.post(page, {"command": "request_extension", "until": later.isoformat(),
                                "reason": "需要更换整段水管，材料三天后到"})
    assert asked.status_code == 303 and asked.headers["Location"] == f"{page}?done=extension"
    after = api_task(http_base, task_id)
    assert after["status"] == "extension_requested" and after["extension"]["reason"] == "需要更换整段水管，材料三天后到"
    assert datetime.fromisoformat(after["extension"]["until"]).astimezone(ZONE).date() == later

    decided = requests.post(f"{http_base}/api/v1/tasks/{task_id}/extension-decision", headers=OFFICE, timeout=10,
                            json={"approved": True, "reason": "同意"})
    assert decided.status_code == 200, decided.text
    assert 'id="task-complete"' in station.get(page).text

    done = station.post(page, {"command": "complete", "reply": "已更换水管并冲洗管网，水质检测合格"},
                        files=[("photos", ("pipe.jpg", a_jpeg(), "image/jpeg"))])
    assert done.status_code == 303 and done.headers["Location"] == f"{page}?done=completed"
    final = api_task(http_base, task_id)
    assert final["status"] == "completed" and final["reply"] == "已更换水管并冲洗管网，水质检测合格"
    again = station.get(page)
    photo = re.search(r'src="(/console/photos/[0-9a-f]{24})"', again.text)
    assert photo and station.get(photo.group(1)).headers["Content-Type"] == "image/jpeg"
    assert final["reply_attachments"] == [PUBLIC + photo.group(1)]
    listing = station.get("/console/tasks").text
    assert task["case"]["case_number"] not in listing and 'id="show-completed"' in listing  # no longer open
    completed = station.get("/console/tasks?show=completed").text
    assert task["case"]["case_number"] in completed.split('id="finished-tasks"')[1]


def test_another_unit_cannot_open_or_act_on_the_task(stack, http_base):
    task = water_task(http_base)
    page = f"/console/tasks/{task['id']}"
    power = ConsoleClient(http_base, "unit:power_station")
    assert power.get(page).status_code == 404
    assert power.post(page, {"command": "sign"}).status_code == 404
    assert "东坡村五组" not in power.get("/console/tasks").text
    assert api_task(http_base, task["id"])["status"] == "assigned"
    station = ConsoleClient(http_base, "unit:water_station")
    for unknown in ("nope", f"{task['id'].rpartition('.')[0]}.9", "x.1"):
        assert station.get(f"/console/tasks/{unknown}").status_code == 404
