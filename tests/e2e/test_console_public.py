"""The public's console pages (issue 16), no sign-in: a resident submits a demand with a photo and follows it with
the case number and secret (a wrong secret finds nothing), answers the callback link (an expired one is a 410
page), and reads a village's projects, money paid and consultation results."""
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
import requests
from PIL import Image

from feedback import domain as feedback_domain
from feedback.repository import FeedbackRepository
from township_shared.testing import ConsoleClient, approved_project, as_actor, wait_for

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")
UNIT = as_actor("unit:water_station")
SECRETARY = as_actor("meeting:secretary")


def a_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 60, 20)).save(out, format="PNG")
    return out.getvalue()


def shown(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no #{element_id}"
    return found.group(1).strip()


def test_a_resident_submits_then_follows_the_case_with_number_and_secret(stack, http_base, mongo_client, db_prefix):
    resident = ConsoleClient(http_base, lang="zh")
    form = resident.get("/console/submit")
    assert form.status_code == 200 and "东坡村" in form.text and "饮水安全" in form.text
    assert 'id="category-help"' in form.text and "停水" in form.text  # the catalogue's words as help
    assert 'id="use-location"' in form.text and "<script>" not in form.text  # the button works from console.js

    missing = resident.post("/console/submit", {"village": "dongpo", "title": "路灯不亮", "description": "",
                                                "name": "", "phone": ""})
    assert missing.status_code == 422 and "请写下您的姓名" in missing.text and 'id="phone-error"' in missing.text
    bad_phone = resident.post("/console/submit", {"village": "dongpo", "title": "路灯不亮", "name": "王五",
                                                  "phone": "12345", "description": "村口路灯坏了一周"})
    assert bad_phone.status_code == 422 and 'id="phone-error"' in bad_phone.text

    key = re.search(r'name="key" value="([0-9a-f]{32})"', form.text).group(1)
    data = {"key": key, "village": "xihe", "category": "roads_bridges", "title": "路灯不亮",
            "description": "西河村桥头的路灯坏了一周，晚上很黑", "address": "西河村桥头", "lat": "29.2033",
            "long": "119.4455", "name": "王五", "phone": "13700001111"}
    answer = resident.post("/console/submit", data, files=[("photos", ("lamp.png", a_png(), "image/png"))])
    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    number, secret = shown(answer.text, "case-number"), shown(answer.text, "case-secret")
    assert re.fullmatch(r"(?:[0-9a-f]{4} ){7}[0-9a-f]{4}", secret), secret
    again = resident.post("/console/submit", data)  # the same form sent twice is the same case
    assert shown(again.text, "case-number") == number and shown(again.text, "case-secret") == secret

    api = requests.get(f"{http_base}/api/v1/demands/{number}", headers={"X-Case-Secret": secret.replace(" ", ""),
                                                                          "X-Township-Id": "qingshui"}, timeout=10)
    assert api.status_code == 200, api.text
    demand = api.json()
    assert (demand["channel"], demand["village"], demand["category"]) == ("online", "xihe", "roads_bridges")
    assert demand["location"] == {"lat": 29.2033, "long": 119.4455, "address": "西河村桥头"}
    photos = mongo_client[f"{db_prefix}_gateway"]["photos.files"].count_documents(
        {"metadata.subject": f"case:{demand['id']}"})
    assert photos == 1

    follow = resident.get("/console/follow")
    assert 'method="post"' in follow.text and 'name="secret"' in follow.text
    timeline = resident.post("/console/follow", {"case_number": number.lower(), "secret": secret})
    assert timeline.status_code == 200 and "路灯不亮" in timeline.text and 'id="timeline"' in timeline.text
    assert "13700001111" not in timeline.text and "受理" in timeline.text
    wrong = resident.post("/console/follow", {"case_number": number, "secret": "0" * 32})
    assert wrong.status_code == 404 and 'id="follow-error"' in wrong.text and "路灯不亮" not in wrong.text
    assert resident.post("/console/follow", {"case_number": number, "secret": ""}).status_code == 404


def callback_link(http_base, case_id) -> dict:
    def due():
        return requests.get(f"{http_base}/api/v1/callbacks", headers=OFFICE, params={"case_id": case_id},
                            timeout=10).json()["items"]

    return wait_for(due, what="the callback")[0]


def test_the_callback_link_points_to_the_console_page_which_records_the_rating(stack, http_base):
    body = {"channel": "hotline", "reporter": {"name": "赵六", "phone": "13600002222", "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "水压低", "description": "东坡村二组水压低"}
    case_id = requests.post(f"{http_base}/api/v1/demands", json=body, timeout=10).json()["id"]
    task = wait_for(lambda: [t for t in requests.get(f"{http_base}/api/v1/tasks", headers=UNIT, timeout=10)
                             .json()["items"] if t["case"]["id"] == case_id], what="the task")[0]
    requests.post(f"{http_base}/api/v1/tasks/{task['id']}/sign", headers=UNIT, timeout=10).raise_for_status()
    requests.post(f"{http_base}/api/v1/tasks/{task['id']}/complete", json={"reply": "已更换加压泵"}, headers=UNIT,
                  timeout=10).raise_for_status()
    callback = callback_link(http_base, case_id)
    assert callback["link"].startswith("/console/callback/")
    assert requests.get(http_base + callback["api_link"], timeout=10).json()["reply"] == "已更换加压泵"

    resident = ConsoleClient(http_base)
    page = resident.get(callback["link"])
    assert page.status_code == 200 and "已更换加压泵" in page.text and 'id="satisfaction-satisfied"' in page.text
    incomplete = resident.post(callback["link"], {"resolved": "yes"})
    assert incomplete.status_code == 422 and 'id="satisfaction-error"' in incomplete.text
    answered = resident.post(callback["link"], {"resolved": "yes", "satisfaction": "satisfied",
                                                "comment": "水压正常了"})
    assert answered.status_code == 303 and answered.headers["Location"] == "/console/?done=answered"
    assert "Thank you, your answer was recorded." in resident.get(answered.headers["Location"]).text
    recorded = requests.get(f"{http_base}/api/v1/callbacks", headers=OFFICE,
                            params={"case_id": case_id, "status": "closed"}, timeout=10).json()["items"]
    assert recorded and recorded[0]["answer"]["satisfaction"] == "satisfied"
    assert recorded[0]["answer"]["comment"] == "水压正常了" and recorded[0]["answer"]["resolved"] is True
    assert resident.get(callback["link"]).status_code == 404  # answered once


def test_an_expired_callback_link_is_a_410_page(stack, http_base, mongo_client, db_prefix):
    created = datetime.now(timezone.utc) - timedelta(days=15)
    cb = feedback_domain.new_callback("case-old", "case-old.1", "qingshui", {"kind": "unit", "id": "water_station"},
                                      "dongpo", "drinking_water", "已修好", created)
    assert FeedbackRepository(mongo_client[f"{db_prefix}_feedback"]).insert_callback(cb)
    resident = ConsoleClient(http_base)
    gone = resident.get(f"/console/callback/{cb['token']}")
    assert gone.status_code == 410 and "office will call you" in gone.text and cb["token"] not in gone.text.replace(
        f'value="/console/callback/{cb["token"]}"', "")
    refused = resident.post(f"/console/callback/{cb['token']}", {"resolved": "yes", "satisfaction": "satisfied"})
    assert refused.status_code == 410
    assert resident.get("/console/callback/unknown-token").status_code == 404


def test_a_village_page_shows_its_projects_money_and_consultation_results(stack, http_base):
    project_id = approved_project(http_base, village="nanshan", requested_fen=2_000_000)
    allocated = requests.post(f"{http_base}/api/v1/projects/{project_id}/allocations", headers=OFFICE, timeout=10,
                              json={"parts": [{"pool": "venture-2026", "amount_fen": 2_000_000}]})
    assert allocated.status_code == 201, allocated.text
    paid = allocated.json()["project"]["paid_fen"]
    assert paid > 0
    topic = requests.post(f"{http_base}/api/v1/topics", headers={"X-Township-Id": "qingshui"}, timeout=10,
                          json={"village": "nanshan", "title": "南山村停车难", "description": "村口乱停车",
                                "proposer_name": "村民王五"}).json()
    for command, actor, body in (("accept", OFFICE, {"reason": "列入协商"}),
                                 ("negotiation", SECRETARY, {"positions": [{"stakeholder": "村口商户",
                                                                            "position": "保留临时停车"}]}),
                                 ("result", SECRETARY, {"result": "利用村委会旁空地建停车场"})):
        done = requests.post(f"{http_base}/api/v1/topics/{topic['id']}/{command}", json=body, headers=actor,
                             timeout=10)
        assert done.status_code == 200, (command, done.text)

    public = ConsoleClient(http_base)
    listing = public.get("/console/villages")
    assert listing.status_code == 200 and 'href="/console/villages/nanshan"' in listing.text
    page = public.get("/console/villages/nanshan")
    assert page.status_code == 200 and "长者助餐" in page.text and f'id="project-{project_id}"' in page.text
    assert shown(page.text, "total-paid") == f"£{paid / 100:,.2f}".replace("£", "CN¥")
    assert "利用村委会旁空地建停车场" in page.text and "村民王五" not in page.text and "村口商户" not in page.text
    assert public.get("/console/villages/nowhere").status_code == 404
    assert "长者助餐" not in public.get("/console/villages/dongpo").text
