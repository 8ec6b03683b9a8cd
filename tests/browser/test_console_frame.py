"""The console's frame in a browser: welcome, sign-in, the language switch, accessibility of both."""
import pytest

from helpers import serious_violations, sign_in

pytestmark = pytest.mark.integration


def test_the_welcome_page_is_chinese_by_default_and_switches_to_english(open_page):
    page = open_page("phone", lang="zh")
    page.goto("/")
    assert page.url.endswith("/console/")
    assert page.locator("h1").inner_text() == "有事找镇里"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.click("button[name=lang][value=en]")
    assert page.locator("h1").inner_text() == "Tell the township what you need"
    page.goto("/console/signin")
    assert page.locator("h1").inner_text() == "Sign in"  # the choice is remembered
    page.click("button[name=lang][value=zh]")
    assert page.locator("h1").inner_text() == "登录"


def test_a_wrong_code_is_explained_and_a_right_one_signs_in(open_page):
    page = open_page("laptop", lang="en")
    page.goto("/console/signin")
    page.fill("#token", "tp_wrong")
    page.click("main form button[type=submit]")
    assert "not valid" in page.locator("#signin-error").inner_text()
    sign_in(page, "office")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["tp_session"]["httpOnly"] and cookies["tp_session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("tp_session") == -1  # no script can read the session


@pytest.mark.parametrize("path", ["/console/", "/console/signin"])
def test_frame_pages_have_no_serious_accessibility_violations(open_page, path):
    for lang in ("zh", "en"):
        page = open_page("phone", lang=lang)
        page.goto(path)
        assert serious_violations(page) == []
