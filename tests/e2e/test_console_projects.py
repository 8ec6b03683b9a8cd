"""The social organisation's and the supervision group's pages of the console on the running stack (issue 16): the
organisation sees its approved project and the advance received, reports a milestone through the form, the
supervision group of the village verifies it on its page, and the organisation's page shows the milestone's
payment; the completion is reported with a photo as its only evidence, which the reviewer sees and other
townships' readers do not; a report the service refuses shows beside the form; other roles are refused."""
import io

import pytest
import requests

from gateway.console.i18n import Formats
from township_shared.testing import ConsoleClient, as_actor, wait_for

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")
ORG = as_actor("social_org:so_sunshine_elderly")
PROPOSAL = {"title": "东坡村长者助餐点", "village": "dongpo", "category": "elderly_care", "beneficiaries": 60,
            "description": "为独居老人提供午餐", "requested_fen": 3_000_000, "advance_percent": 30,
            "milestones": [{"name": "开餐三个月", "share_percent": 40, "due": "2027-03-31"}]}
money = Formats("en").money
PUBLIC = "https://console.qingshui.example"


@pytest.fixture
def service_config(service_config):
    """The console's public address: its photos' addresses are evidence links feedback accepts."""
    return {**service_config, "CONSOLE_PUBLIC_URL": PUBLIC + "/"}


def approved_project(base) -> str:
    pid = requests.post(f"{base}/api/v1/projects", json=PROPOSAL, headers=ORG, timeout=10).json()["id"]
    assert requests.post(f"{base}/api/v1/projects/{pid}/review", json={"decision": "approve"}, headers=OFFICE,
                         timeout=10).status_code == 200
    allocated = requests.post(f"{base}/api/v1/projects/{pid}/allocations", headers=OFFICE, timeout=10,
                              json={"parts": [{"pool": "venture-2026", "amount_fen": 3_000_000}]})
    assert allocated.status_code == 201, allocated.text
    return pid


def test_an_organisation_reports_a_milestone_supervision_verifies_and_the_payment_shows(stack, http_base):
    pid = approved_project(http_base)
    org = ConsoleClient(http_base, "social_org:so_sunshine_elderly")
    home = org.get("/console/", follow=True)
    assert home.url.endswith("/console/projects") and f'id="project-{pid}"' in home.text
    assert money(900_000) in home.text  # the advance received

    page = org.get(f"/console/projects/{pid}")
    assert f'id="report-{pid}"' in page.text and 'value="开餐三个月"' in page.text
    no_evidence = org.post(f"/console/projects/{pid}/report", {"kind": "milestone", "milestone": "开餐三个月",
                                                               "text": "累计送餐 5,400 份", "people_served": "60"})
    assert no_evidence.status_code == 422 and "evidence_urls" in no_evidence.text and "5,400" in no_evidence.text
    bad_hours = org.post(f"/console/projects/{pid}/report", {"kind": "milestone", "milestone": "开餐三个月",
                                                             "text": "x", "hours": "many",
                                                             "evidence_urls": "https://example.org/a.jpg"})
    assert bad_hours.status_code == 422 and "hours" in bad_hours.text
    sent = org.post(f"/console/projects/{pid}/report", {
        "kind": "milestone", "milestone": "开餐三个月", "text": "累计送餐 5,400 份", "people_served": "60",
        "hours": "900.5", "evidence_urls": "https://example.org/meals.jpg\nhttps://example.org/list.pdf"})
    assert sent.status_code == 303 and sent.headers["Location"] == f"/console/projects/{pid}?done=reported"
    report = next(r for r in requests.get(f"{http_base}/api/v1/reports", headers=ORG, timeout=10).json()["items"]
                  if r["project"] == pid)
    assert (report["people_served"], report["hours"], report["status"]) == (60, 900.5, "submitted")
    assert len(report["evidence_urls"]) == 2

    supervision = ConsoleClient(http_base, "supervision:dongpo_residents")
    queue = supervision.get("/console/", follow=True)
    assert queue.url.endswith("/console/reports") and f'id="review-{report["id"]}"' in queue.text
    unexplained = supervision.post(f"/console/reports/{report['id']}/review", {"verdict": "verify"})
    assert unexplained.status_code == 400 and "reason" in unexplained.text
    verified = supervision.post(f"/console/reports/{report['id']}/review", {"verdict": "verify",
                                                                            "reason": "走访核实"})
    assert verified.status_code == 303
    assert f'id="review-{report["id"]}"' not in supervision.get("/console/reports").text
    assert f'id="report-{report["id"]}"' in supervision.get("/console/reports", params={"status": "verified"}).text

    wait_for(lambda: requests.get(f"{http_base}/api/v1/projects/{pid}", headers=ORG, timeout=10).json()["paid_fen"],
             lambda paid: paid == 900_000 + 1_200_000, what="funds paid the milestone's share")
    page = org.get(f"/console/projects/{pid}").text
    payments = page.split('id="payments"')[1].split("</table>")[0]
    assert "开餐三个月" in payments and money(1_200_000) in payments and money(900_000) in payments
    assert money(2_100_000) in page.split('id="project-paid"')[1][:80]


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


def test_the_completion_is_reported_with_a_photo_the_reviewer_sees(stack, http_base):
    pid = approved_project(http_base)
    org = ConsoleClient(http_base, "social_org:so_sunshine_elderly")
    org.get(f"/console/projects/{pid}")
    nothing = org.post(f"/console/projects/{pid}/report", {"kind": "completion", "text": "项目完成"})
    assert nothing.status_code == 422 and "evidence link or a photo" in nothing.text
    not_image = org.post(f"/console/projects/{pid}/report", {"kind": "completion", "text": "项目完成"},
                         files={"photos": ("menu.png", b"#!/bin/sh\necho hi\n", "image/png")})
    assert not_image.status_code == 415 and "menu.png" in not_image.text
    sent = org.post(f"/console/projects/{pid}/report", {"kind": "completion", "text": "项目完成，累计服务 60 人"},
                    files={"photos": ("meals.png", png(), "image/png")})
    assert sent.status_code == 303, sent.text[:500]
    report = next(r for r in requests.get(f"{http_base}/api/v1/reports", headers=ORG, timeout=10).json()["items"]
                  if r["project"] == pid)
    [url] = report["evidence_urls"]
    assert url.startswith(f"{PUBLIC}/console/photos/")
    photo_path = url[len(PUBLIC):]
    assert f'src="{photo_path}"' in org.get(f"/console/projects/{pid}").text
    image = org.get(photo_path)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"

    supervision = ConsoleClient(http_base, "supervision:dongpo_residents")
    queue = supervision.get("/console/reports").text
    assert f'<a href="{url}" rel="noopener noreferrer nofollow"><img class="photo" src="{photo_path}"' in queue
    assert supervision.get(photo_path).status_code == 200
    assert ConsoleClient(http_base, "office", township="baiyun").get(photo_path).status_code == 404
    verified = supervision.post(f"/console/reports/{report['id']}/review", {"verdict": "verify", "reason": "核实"})
    assert verified.status_code == 303
    wait_for(lambda: requests.get(f"{http_base}/api/v1/projects/{pid}", headers=ORG, timeout=10).json()["status"],
             lambda status: status == "completed", what="funds paid the completion")
    assert money(3_000_000) in org.get(f"/console/projects/{pid}").text.split('id="project-paid"')[1][:80]


def test_other_roles_may_not_open_the_projects_and_reports_pages(stack, http_base):
    unit = ConsoleClient(http_base, "unit:water_station")
    assert unit.get("/console/projects").status_code == 403
    assert unit.get("/console/reports").status_code == 403
    org = ConsoleClient(http_base, "social_org:so_sunshine_elderly")
    assert org.get("/console/reports").status_code == 403
    assert org.post("/console/reports/r-x/review", {"verdict": "verify", "reason": "mine"}).status_code == 403
    office = ConsoleClient(http_base, "office")
    assert office.get("/console/projects").status_code == 403
    assert office.get("/console/reports").status_code == 200
    assert ConsoleClient(http_base).get("/console/projects").status_code == 303
