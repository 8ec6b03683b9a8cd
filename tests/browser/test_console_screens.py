"""Every console page a menu leads to, as the role it is for, in both languages, at 1280 and 390 px: a screenshot
for review (test-output/screenshots/<page>-<lang>-<width>.png), no serious or critical axe-core violation, no
horizontal scrolling on a phone, and no untranslated frame in Chinese."""
import re

import pytest

from gateway.console.web import PAGES
from helpers import serious_violations, sign_in

pytestmark = pytest.mark.integration

ROLE_ORDER = ("public", "office", "unit", "social_org", "supervision", "meeting", "county", "party_member",
              "volunteer")
ACTORS = {"office": "office", "unit": "unit:water_station", "party_member": "party_member:pm001",
          "volunteer": "volunteer:v001", "social_org": "social_org:so_sunshine_elderly",
          "supervision": "supervision:dongpo_residents", "meeting": "meeting:secretary", "county": "county:lanxi"}


def plain_pages() -> dict[str, list[str]]:
    """role -> the GET pages without URL variables it is shown as (the first role of ROLE_ORDER granted)."""
    by_role: dict[str, list[str]] = {}
    for p in PAGES.pages:
        if ("GET" in p.methods and "<" not in p.rule and not p.rule.endswith("/signin")
                and not p.rule.endswith((".csv", ".pdf", ".svg", ".png"))):
            role = next(r for r in ROLE_ORDER if r in p.roles)
            by_role.setdefault(role, []).append(p.rule)
    return by_role


def shot_name(rule: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", rule.removeprefix("/console").lower()).strip("-") or "home"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", [r for r in ROLE_ORDER if plain_pages().get(r)])
def test_main_pages_in_both_languages_and_sizes(open_page, screenshots, role, lang):
    rules = plain_pages()[role]
    problems = []
    for size in ("laptop", "phone"):
        page = open_page(size, lang=lang)
        if role != "public":
            sign_in(page, ACTORS[role], None if role == "county" else "qingshui")
        for rule in rules:
            answer = page.goto(rule)
            assert answer.status == 200, (role, rule, answer.status)
            width = 1280 if size == "laptop" else 390
            screenshots(page, f"{shot_name(rule)}-{lang}-{width}")
            if size == "phone":
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 2:
                    problems.append(f"{rule} ({lang}) scrolls sideways by {overflow} px on a phone")
            else:
                problems += [f"{rule} ({lang}): {v}" for v in serious_violations(page)]
            if lang == "zh":
                assert page.locator("html").get_attribute("lang") == "zh-CN"
                assert page.locator("a.skip").inner_text() == "跳到正文", rule
    assert problems == []
