"""The console's story in a real browser (issue 16): a resident submits a demand from a phone, the office routes it
from triage, the water station signs and completes it with a photo, the resident rates it through the link the
office reads out, the office sees the figures change; an office clerk composes a meeting agenda and records a
decision; a social organisation reports a milestone, the supervision group verifies it and the organisation sees
the payment. Along the way: what each role may not see, and screenshots of the pages with a subject (a case, a
task, a project, a meeting) in both languages and both widths."""
import io
import re
import time

import pytest
import requests
from PIL import Image

from helpers import serious_violations, sign_in

pytestmark = pytest.mark.integration
VAGUE = "有个事情想反映一下，说不清楚，麻烦镇里派人来看看"


def wait_until(check, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached in {timeout} s")


def photo_file(tmp_path):
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 110, 200)).save(out, format="JPEG")
    path = tmp_path / "repaired-pipe.jpg"
    path.write_bytes(out.getvalue())
    return str(path)


def shoot_both(open_page, screenshots, actor, path, name, township="qingshui"):
    """Screenshots of ``path`` as ``actor`` in both languages and both widths, each checked by axe-core."""
    problems = []
    for lang in ("zh", "en"):
        for size, width in (("laptop", 1280), ("phone", 390)):
            page = open_page(size, lang=lang)
            if actor != "public":
                sign_in(page, actor, township)
            assert page.goto(path).status == 200, path
            screenshots(page, f"{name}-{lang}-{width}")
            if size == "laptop":
                problems += serious_violations(page)
    assert problems == [], problems


def water_figures(page) -> str:
    page.goto("/console/assessment?view=units")
    row = page.locator("#assessment-table tr", has_text="镇供水站")
    return row.inner_text() if row.count() else ""


def test_a_demand_from_a_phone_to_the_figures(open_page, screenshots, console_base, tmp_path):
    # the office's figures before
    office = open_page("laptop", lang="zh")
    sign_in(office, "office")
    before = water_figures(office)

    # a resident submits from a phone, without a category
    resident = open_page("phone", lang="zh")
    resident.goto("/console/submit")
    resident.select_option("#village", "dongpo")
    resident.fill("#title", "有事反映")
    resident.fill("#description", VAGUE)
    resident.fill("#name", "张三")
    resident.fill("#phone", "13812345678")
    resident.click("#submit-form button[type=submit]")
    case_number = resident.locator("#case-number").inner_text().strip()
    secret = resident.locator("#case-secret").inner_text().strip()
    assert re.fullmatch(r"QS-\d{8}-\d{4}", case_number) and len(secret) >= 16
    screenshots(resident, "submitted-zh-390")

    # it is not clear: the office routes it from triage to the water station
    card = wait_until(lambda: (office.goto("/console/office/triage") and
                               office.locator("#triage-queue li", has_text=VAGUE).count() and
                               office.locator("#triage-queue li", has_text=VAGUE).first), what="the case in triage")
    case_id = card.get_attribute("id").removeprefix("triage-")
    card.locator("details summary").click()
    card.locator(f"#category-{case_id}").select_option("drinking_water")
    card.locator(f"#lead-{case_id}").select_option("unit:water_station")
    card.locator(f"#route-{case_id} button[type=submit]").click()
    assert office.locator("#triage-queue li", has_text=VAGUE).count() == 0
    shoot_both(open_page, screenshots, "office", f"/console/cases/{case_id}", "case")

    # the water station signs and completes it with a photo
    unit = open_page("phone", lang="zh")
    sign_in(unit, "unit:water_station")
    row = wait_until(lambda: (unit.goto("/console/tasks") and
                              unit.locator("#open-tasks tr", has_text=case_number).count() and
                              unit.locator("#open-tasks tr", has_text=case_number).first), what="the task")
    task_id = row.get_attribute("id").removeprefix("task-")
    shoot_both(open_page, screenshots, "unit:water_station", f"/console/tasks/{task_id}", "task")
    unit.goto(f"/console/tasks/{task_id}")
    unit.click("#task-sign button[type=submit]")
    unit.fill("#complete-reply", "已派人检修，管道已修好，恢复供水。")
    unit.set_input_files("#task-complete input[type=file]", photo_file(tmp_path))
    unit.click("#task-complete button[type=submit]")
    assert unit.locator("#task-reply").inner_text().startswith("已派人检修")
    unit.wait_for_function("() => { const img = document.querySelector('img.photo');"
                           " return img && img.complete && img.naturalWidth > 0; }")
    assert unit.locator("img.photo").first.evaluate("img => img.naturalWidth") == 320

    # another unit sees nothing of it
    other = open_page("laptop", lang="zh")
    sign_in(other, "unit:power_station")
    other.goto("/console/tasks")
    assert case_number not in other.content()
    assert other.goto(f"/console/tasks/{task_id}").status == 404
    assert other.goto(f"/console/cases/{case_id}").status == 403

    # the resident follows the case, then rates it through the link the office reads out
    resident.goto("/console/follow")
    resident.fill("#case_number", case_number)
    resident.fill("#secret", secret)
    resident.click("main form button[type=submit]")
    assert "镇供水站" in resident.content()
    link = wait_until(lambda: (office.goto("/console/office/callbacks") and
                               office.locator("#callback-list li", has_text=case_id).count() and
                               office.locator("#callback-list li", has_text=case_id).locator("code.link-out")
                               .inner_text()), timeout=45, what="the callback link")
    assert link.startswith(console_base + "/console/callback/")
    resident.goto(link)
    resident.check("#resolved-yes")
    resident.check("#satisfaction-very_satisfied")
    resident.fill("#comment", "修得很快，谢谢")
    resident.click("#callback-form button[type=submit]")
    assert resident.locator("[role=status]").count() or "谢谢" in resident.content()

    # the office sees the figures change
    after = wait_until(lambda: (lambda text: text if text != before else None)(water_figures(office)),
                       timeout=45, what="the water station's figures to change")
    assert after and after != before
    screenshots(office, "assessment-after-zh-1280")


def test_an_office_clerk_composes_an_agenda_and_records_a_decision(open_page, screenshots):
    office = open_page("laptop", lang="en")
    sign_in(office, "office")
    office.goto("/console/meetings")
    office.select_option("#subject_kind", "other")
    office.fill("#subject_id", "dongpo-road")
    office.fill("#candidate_title", "东坡村村道修缮")
    office.fill("#summary", "村道多处坑洼，需镇里统筹资金和施工单位。")
    office.click("#propose-item button[type=submit]")
    assert office.locator("#candidates", has_text="东坡村村道修缮").count() == 1, office.content()[:3000]
    office.fill("#title", "12月党政联席会议")
    office.fill("#starts_at", "2026-12-20T09:00")
    office.fill("#place", "镇政府三楼会议室")
    office.fill("#convener", "镇党委书记")
    office.fill("#attendees", "unit:transport_office 吴国平\nunit:vc_dongpo 李国庆")
    office.click("#schedule-meeting button[type=submit]")
    meeting_url = wait_until(lambda: "/console/meetings/" in office.url and office.url, what="the meeting page")
    office.locator("#compose-agenda div", has_text="东坡村村道修缮").locator("input[type=checkbox]").check()
    office.click("#compose-agenda button[type=submit]")
    item = office.locator("section.item").first
    item_id = item.get_attribute("id").removeprefix("item-")
    office.select_option(f"#decision-{item_id}", index=1)
    office.fill(f"#reason-{item_id}", "交通办牵头，东坡村配合，年底前完成。")
    office.fill(f"#yes-{item_id}", "7")
    office.fill(f"#no-{item_id}", "0")
    office.fill(f"#abstain-{item_id}", "0")
    office.click(f"#record-{item_id} button[type=submit]")
    if office.locator(f"#item-{item_id}-decision").count() == 0:  # the kind needs more: a lead unit and deadline
        office.fill(f"#lead-{item_id}", "unit:transport_office")
        office.fill(f"#deadline-{item_id}", "2026-12-31T17:00")
        office.click(f"#record-{item_id} button[type=submit]")
    assert office.locator(f"#item-{item_id}-decision").count() == 1, office.content()[:3000]
    shoot_both(open_page, screenshots, "office", meeting_url.removeprefix(office.url.split("/console")[0]),
               "meeting")


def test_a_social_organisation_reports_a_milestone_and_sees_the_payment(open_page, screenshots, console_base,
                                                                          tmp_path):
    from township_shared.testing import token_for

    org = {"Authorization": f"Bearer {token_for('social_org:so_sunshine_elderly')}"}
    proposed = requests.post(f"{console_base}/api/v1/projects", headers={**org, "Idempotency-Key": "story-1"},
                             json={"title": "东坡村独居老人助餐", "village": "dongpo", "category": "elderly_care",
                                   "description": "为东坡村独居老人每周送餐五次", "beneficiaries": 30,
                                   "requested_fen": 5_000_000, "advance_percent": 30,
                                   "milestones": [{"name": "第一季度", "share_percent": 40, "due": "2027-03-31"},
                                                  {"name": "第二季度", "share_percent": 30, "due": "2027-06-30"}],
                                   "linked_cases": []}, timeout=20)
    assert proposed.status_code == 201, proposed.text
    project_id = proposed.json()["id"]

    office = open_page("laptop", lang="zh")
    sign_in(office, "office")
    office.goto(f"/console/funds/projects/{project_id}")
    office.check("#decision-approve")
    office.fill("#reason", "符合年度民生项目方向")
    office.click(f"#review-{project_id} button[type=submit]")
    office.fill("#amount-purchase-2026", "50000")
    office.click(f"#allocate-{project_id} button[type=submit]")
    assert office.locator("#project-allocated").inner_text() == "¥50,000.00"

    so = open_page("phone", lang="zh")
    sign_in(so, "social_org:so_sunshine_elderly")
    so.goto(f"/console/projects/{project_id}")
    paid_before = so.locator("#project-paid").inner_text()
    so.select_option("#kind", "milestone")
    so.select_option("#milestone", so.locator("#milestone option", has_text="第一季度").get_attribute("value"))
    so.fill("#text", "第一季度送餐 60 次，服务 30 位老人。")
    so.fill("#people_served", "30")
    so.fill("#hours", "120")
    so.set_input_files(f"#report-{project_id} input[type=file]", photo_file(tmp_path))
    so.click(f"#report-{project_id} button[type=submit]")
    assert so.locator("#project-reports", has_text="第一季度送餐").count() == 1, so.locator("main").inner_text()[:2000]

    supervision = open_page("laptop", lang="zh")
    sign_in(supervision, "supervision:dongpo_residents")
    section = wait_until(lambda: (supervision.goto("/console/reports") and
                                  supervision.locator("section.card", has_text="第一季度").count() and
                                  supervision.locator("section.card", has_text="第一季度").first),
                         what="the report to review")
    report_id = section.get_attribute("id").removeprefix("report-")
    section.locator(f"#verify-{report_id}").check()
    section.locator(f"#reason-{report_id}").fill("入户核实属实")
    section.locator(f"#review-{report_id} button[type=submit]").click()

    paid = wait_until(lambda: (so.goto(f"/console/projects/{project_id}") and
                               (lambda text: text if text != paid_before else None)(
                                   so.locator("#project-paid").inner_text())), timeout=45, what="the payment")
    assert paid == "¥35,000.00"  # the 30% advance and the first quarter's 40%
    shoot_both(open_page, screenshots, "social_org:so_sunshine_elderly", f"/console/projects/{project_id}",
               "project")
