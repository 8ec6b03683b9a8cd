"""Every console page opened by every role on the running stack: a role the page does not grant is sent to sign in
(the public) or refused 403, a granted role is served (never 401/403 or a sign-in redirect); a form posted without
its CSRF token or from another site is refused; the session cookie is HttpOnly and SameSite (decision 91)."""
import re

import pytest

from gateway.console.web import PAGES
from township_shared.auth import ROLES
from township_shared.testing import ConsoleClient

pytestmark = pytest.mark.integration

# one demo actor per role (the county reads its first township)
ACTORS = {"office": "office", "unit": "unit:water_station", "party_member": "party_member:pm001",
          "volunteer": "volunteer:v001", "social_org": "social_org:so_sunshine_elderly",
          "supervision": "supervision:dongpo_residents", "meeting": "meeting:secretary", "county": "county:lanxi"}
# the console's own forms that change nothing of the township's (and sign-out, which ends the session)
HARMLESS_POSTS = {"/console/language", "/console/township", "/console/signout", "/console/signin"}


def concrete(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", "unknown", rule)


@pytest.fixture
def clients(stack, http_base):
    made = {role: ConsoleClient(http_base, actor, township=None if role == "county" else "qingshui")
            for role, actor in ACTORS.items()}
    made["public"] = ConsoleClient(http_base)
    return made


def test_every_page_as_every_role(clients):
    checked = granted = 0
    for page in PAGES.pages:
        if "GET" not in page.methods:
            continue
        path = concrete(page.rule)
        for role in ROLES:
            answer = clients[role].get(path)
            checked += 1
            if role in page.roles:
                granted += 1
                assert answer.status_code not in (401, 403), (role, path, answer.status_code)
                assert "/console/signin" not in answer.headers.get("Location", "") or page.rule.endswith("signin"), (role, path)
                assert answer.status_code < 500, (role, path, answer.status_code, answer.text[:300])
            elif role == "public":
                assert answer.status_code == 303 and answer.headers["Location"].startswith("/console/signin?next="), (path, answer.status_code)
            else:
                assert answer.status_code == 403, (role, path, answer.status_code)
    assert checked >= len(ROLES) * 2 and granted >= 2


def test_posts_of_roles_not_granted_are_refused_before_they_act(clients):
    for page in PAGES.pages:
        if "POST" not in page.methods or page.rule in HARMLESS_POSTS:
            continue
        path = concrete(page.rule)
        for role in set(ROLES) - set(page.roles):
            answer = clients[role].post(path, {})
            expected = (303,) if role == "public" else (403,)
            assert answer.status_code in expected, (role, path, answer.status_code)


def test_a_form_without_its_csrf_token_or_from_another_site_is_refused(stack, http_base):
    office = ConsoleClient(http_base, "office")
    no_token = office.http.post(http_base + "/console/language", data={"lang": "en"}, allow_redirects=False)
    assert no_token.status_code == 403
    foreign = office.http.post(http_base + "/console/language", data={"lang": "en", "csrf_token": office.csrf},
                               headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert foreign.status_code == 403
    fine = office.post("/console/language", {"lang": "en", "next": "/console/"})
    assert fine.status_code == 303 and fine.headers["Location"] == "/console/"


def test_sign_in_sets_an_httponly_samesite_session_and_sign_out_ends_it(stack, http_base):
    public = ConsoleClient(http_base)
    public.get("/console/signin")
    from township_shared.testing import OFFICE_ACTOR, token_for

    answer = public.post("/console/signin", {"token": token_for(OFFICE_ACTOR)})
    cookie = answer.headers["Set-Cookie"]
    assert "tp_session=ts_" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert token_for(OFFICE_ACTOR) not in cookie
    assert answer.headers["Location"] == "/console/office?done=signed_in"
    session = public.http.cookies["tp_session"]
    assert public.get("/console/signin").status_code == 200
    out = public.post("/console/signout")
    assert out.status_code == 303
    again = ConsoleClient(http_base)
    again.http.cookies.set("tp_session", session)
    answer = again.post("/console/signout")  # the closed session is the public's again: sent to sign in
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/console/signin?next=")


def test_a_wrong_code_is_refused_with_a_message_and_a_next_outside_the_console_is_ignored(stack, http_base):
    public = ConsoleClient(http_base)
    bad = public.post("/console/signin", {"token": "tp_nope"})
    assert bad.status_code == 401 and "not valid" in bad.text
    from township_shared.testing import OFFICE_ACTOR, token_for

    good = public.post("/console/signin", {"token": token_for(OFFICE_ACTOR), "next": "//evil.example/x"})
    assert good.headers["Location"] == "/console/office?done=signed_in"
