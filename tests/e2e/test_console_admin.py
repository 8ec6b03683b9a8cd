"""The office's sign-in codes in the console on the running stack: a code issued in the console is shown once and
works for the API; revoking it (after the confirmation page) stops it; refusals show beside the form."""
import re

import pytest
import requests

from township_shared.testing import ConsoleClient, wait_for

pytestmark = pytest.mark.integration


def test_the_office_issues_a_code_that_works_then_revokes_it(stack, http_base):
    office = ConsoleClient(http_base, "office")
    page = office.get("/console/admin/tokens")
    assert page.status_code == 200 and 'id="issue-token"' in page.text and 'id="token-list"' in page.text
    assert 'value="unit:water_station"' in page.text  # the registered actors to pick from

    issued = office.post("/console/admin/tokens", {"role": "unit", "actor": "unit:water_station",
                                                   "label": "console test phone"})
    assert issued.status_code == 201 and 'id="issued-token"' in issued.text
    assert "will not be shown again" in issued.text
    token = re.search(r'id="issued-token">([^<]+)<', issued.text).group(1)
    token_id = re.search(r"Code number ([0-9a-f]{16})", issued.text).group(1)
    assert token not in office.get("/console/admin/tokens").text  # shown once, never listed

    me = requests.get(f"{http_base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200 and me.json()["actor"] == "unit:water_station"
    listed = office.get("/console/admin/tokens?role=unit&active=true").text
    row = listed.split(f'id="token-{token_id}"')[1].split("</tr>")[0]
    assert "console test phone" in row and "In use" in row and f"/console/admin/tokens/{token_id}/revoke" in row

    confirm = office.get(f"/console/admin/tokens/{token_id}/revoke?actor=unit:water_station")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text and 'id="revoke-token"' in confirm.text
    assert office.get("/console/admin/tokens/0000000000000000/revoke").status_code == 404
    assert office.get("/console/admin/tokens/not-a-token/revoke").status_code == 404
    done = office.post(f"/console/admin/tokens/{token_id}/revoke")
    assert done.status_code == 303 and done.headers["Location"] == "/console/admin/tokens?done=revoked"
    after = office.get(done.headers["Location"])
    assert "Token revoked." in after.text
    assert "Revoked" in after.text.split(f'id="token-{token_id}"')[1].split("</tr>")[0]

    def api_answer():
        return requests.get(f"{http_base}/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                            timeout=10).status_code

    wait_for(api_answer, lambda status: status == 401, timeout=15)  # within TOKEN_CACHE_SECONDS


def test_a_refused_code_is_explained_beside_the_form_and_other_roles_cannot_issue(stack, http_base):
    office = ConsoleClient(http_base, "office")
    refused = office.post("/console/admin/tokens", {"role": "unit", "actor": "unit:no_such_unit"})
    assert refused.status_code in (404, 422) and 'id="issue-error"' in refused.text
    assert 'value="unit:no_such_unit"' in refused.text  # what was typed is kept
    bad = office.post("/console/admin/tokens", {"role": "unit", "actor": "Not An Actor"})
    assert bad.status_code == 400 and 'id="actor-error"' in bad.text
    unit = ConsoleClient(http_base, "unit:water_station")
    assert unit.get("/console/admin/tokens").status_code == 403
    assert unit.post("/console/admin/tokens", {"role": "office", "actor": "office:mallory"}).status_code == 403
    listed = office.get("/console/admin/tokens?role=office").text
    assert "office:mallory" not in listed
