"""Every route as every role, from the README's role table (decision 38): a role the table does not grant is
refused (401 for the public, 403 for a token) and one it grants is not; and a granted role never reaches another
township's or another actor's case, task or report (404: their existence is not revealed)."""
import re
from pathlib import Path

import pytest
import requests

from township_shared.auth import ROLES
from township_shared.testing import approved_project, as_actor, wait_for

pytestmark = pytest.mark.integration

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
TABLE = README.split("## Who may do what")[1].split("\n## ")[0]
# the demo actor that stands for each role (qingshui); the county reads qingshui
ACTING = {"office": "office:demo_clerk", "unit": "unit:water_station", "party_member": "party_member:pm001",
          "volunteer": "volunteer:v001", "social_org": "social_org:so_sunshine_elderly",
          "supervision": "supervision:dongpo_residents", "meeting": "meeting:secretary", "county": "county:lanxi"}
DEMAND = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
          "village": "dongpo", "category": "drinking_water", "title": "停水三天", "description": "东坡村三组停水三天了"}
REPORT = {"project": "elderly_meals", "kind": "milestone", "milestone": "first month", "text": "送餐 120 次",
          "people_served": 40, "hours": 60, "evidence_urls": ["https://example.org/p.jpg"]}


def table_rows():
    rows = re.findall(r"^\| `(GET|POST|PATCH|PUT|DELETE) (\S+)` \| ([^|]+) \|$", TABLE, re.M)
    assert len(rows) >= 40
    return [(m, p, set(ROLES) if r.startswith("everyone") else {x.strip() for x in r.split(",")})
            for m, p, r in rows]


def headers(role, township="qingshui"):
    if role == "public":
        return {}
    actor = ACTING[role]
    if role == "county":
        return {**as_actor(actor, None), "X-Township-Id": township}
    return as_actor(actor, township)




@pytest.fixture
def world(stack, http_base):
    """A qingshui case with a task of the water station, a report in dongpo, and a baiyun case."""
    def submit(township, body):
        res = requests.post(f"{http_base}/api/v1/demands", json=body, headers={"X-Township-Id": township},
                            timeout=15)
        assert res.status_code == 201, res.text
        return res.json()

    case = submit("qingshui", DEMAND)
    task = wait_for(lambda: requests.get(f"{http_base}/api/v1/tasks", headers=headers("unit"),
                                         timeout=10).json()["items"])[0]
    project = approved_project(http_base)
    report = requests.post(f"{http_base}/api/v1/reports", json={**REPORT, "project": project, "village": "dongpo"},
                           headers=headers("social_org"), timeout=10)
    assert report.status_code == 201, report.text
    far_project = approved_project(http_base, "social_org:so_heshun_mediation", "zhenjie")
    far = requests.post(f"{http_base}/api/v1/reports", json={**REPORT, "project": far_project, "village": "zhenjie"},
                        headers=as_actor("social_org:so_heshun_mediation"), timeout=10)
    assert far.status_code == 201, far.text
    other = submit("baiyun", {**DEMAND, "reporter": {**DEMAND["reporter"], "village": "yunfeng"},
                              "village": "yunfeng"})
    return {"case": case, "task": task, "report": report.json(), "far_report": far.json(), "baiyun": other,
            "project": project}


def fill(path, world):
    values = {"case_id": world["case"]["id"], "task_id": world["task"]["id"], "report_id": world["report"]["id"],
              "kind": "unit", "actor_id": "agri_centre", "callback_id": "cb_unknown", "token": "unknown-link",
              "token_id": "0" * 16, "code": "venture-2026", "project_id": world["project"], "entry_id": "e_unknown",
              "meeting_id": "m-unknown", "item_id": "c-unknown", "topic_id": "t-unknown"}
    if path.startswith("/api/v1/demands/"):
        values["case_id"] = world["case"]["case_number"]
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def call(base, method, path, role, **kw):
    return requests.request(method, f"{base}{path}", headers=headers(role), timeout=15,
                            json={} if method in ("POST", "PATCH") else None, **kw)


def test_every_route_refuses_the_roles_the_table_does_not_grant(world, http_base):
    refused = 0
    for method, path, granted in table_rows():
        for role in sorted(set(ROLES) - granted):
            res = call(http_base, method, fill(path, world), role)
            expected = 401 if role == "public" else 403
            assert res.status_code == expected, f"{role} {method} {path}: {res.status_code} {res.text[:200]}"
            refused += 1
    assert refused > 150


def test_every_route_lets_the_roles_the_table_grants_through(world, http_base):
    for method, path, granted in table_rows():
        for role in sorted(granted):
            res = call(http_base, method, fill(path, world), role)
            assert res.status_code not in (401, 403), f"{role} {method} {path}: {res.status_code} {res.text[:200]}"


def test_no_role_reaches_another_townships_or_another_actors_things(world, http_base):
    number, case_id = world["baiyun"]["case_number"], world["baiyun"]["id"]
    get = lambda path, h: requests.get(f"{http_base}{path}", headers=h, timeout=10)  # noqa: E731
    post = lambda path, h, body=None: requests.post(f"{http_base}{path}", json=body or {}, headers=h,  # noqa: E731
                                                    timeout=10)
    # another township's case, by id or number, for the office and the public (even with its secret: the
    # public addresses its own township)
    assert get(f"/api/v1/cases/{case_id}", headers("office")).status_code == 404
    assert get(f"/api/v1/demands/{number}", headers("office")).status_code == 404
    assert get(f"/api/v1/demands/{number}", {"X-Case-Secret": world["baiyun"]["secret"]}).status_code == 404
    assert get(f"/api/v1/demands/{number}/timeline", headers("office")).status_code == 404
    # naming another township with a token of this one is refused outright
    assert get("/api/v1/demands", {**headers("office"), "X-Township-Id": "baiyun"}).status_code == 403
    # the county reads only its townships
    res = get("/api/v1/assessment", {**as_actor("county:lanxi", None), "X-Township-Id": "atlantis"})
    assert res.status_code == 403
    # another actor's task and case
    task_id, qs_case = world["task"]["id"], world["case"]["id"]
    assert post(f"/api/v1/tasks/{task_id}/sign", as_actor("unit:vc_dongpo")).status_code == 404
    assert get(f"/api/v1/cases/{qs_case}", as_actor("unit:vc_dongpo")).status_code == 404
    assert get(f"/api/v1/cases/{qs_case}", headers("party_member")).status_code == 404
    assert post(f"/api/v1/tasks/{task_id}/sign", as_actor("unit:water_station", "baiyun")).status_code in (401, 404)
    # another organisation's report; a supervision group outside the report's village
    report_id, far_id = world["report"]["id"], world["far_report"]["id"]
    assert get(f"/api/v1/reports/{report_id}", as_actor("social_org:so_handy_repairs")).status_code == 404
    assert get(f"/api/v1/reports/{far_id}", headers("supervision")).status_code == 404
    assert post(f"/api/v1/reports/{far_id}/review", headers("supervision"),
                {"verified": True, "reason": "看过"}).status_code == 404
    # another organisation's or township's project; a supervision group outside its villages
    project = world["project"]
    assert get(f"/api/v1/projects/{project}", as_actor("social_org:so_handy_repairs")).status_code == 404
    assert get(f"/api/v1/projects/{project}", as_actor("office", "baiyun")).status_code == 404
    assert get(f"/api/v1/projects/{project}", headers("social_org")).json()["linked_cases"] == []
    assert "linked_cases" not in get(f"/api/v1/projects/{project}", {}).json()
    mine = get("/api/v1/reports", headers("social_org")).json()["items"]
    assert [r["id"] for r in mine] == [report_id]
    seen = get("/api/v1/reports", headers("supervision")).json()["items"]
    assert [r["id"] for r in seen] == [report_id]


def test_a_supervision_group_never_reviews_its_own_organisations_report(stack, http_base):
    """A supervision group the Sunshine centre belongs to may not verify the centre's reports, even in its own
    village; the office may."""
    issued = requests.post(f"{http_base}/api/v1/tokens", headers=headers("office"), timeout=10, json={
        "role": "supervision", "actor": "supervision:sunshine_watch", "villages": ["dongpo"],
        "organisation": "social_org:so_sunshine_elderly"})
    assert issued.status_code == 201, issued.text
    watch = {"Authorization": f"Bearer {issued.json()['token']}"}
    project = approved_project(http_base)
    res = requests.post(f"{http_base}/api/v1/reports", json={**REPORT, "project": project, "village": "dongpo"},
                        headers=headers("social_org"), timeout=10)
    report_id = res.json()["id"]
    assert requests.get(f"{http_base}/api/v1/reports/{report_id}", headers=watch, timeout=10).status_code == 200
    review = {"verified": True, "reason": "看过了"}
    own = requests.post(f"{http_base}/api/v1/reports/{report_id}/review", json=review, headers=watch, timeout=10)
    assert own.status_code == 403 and "own" in own.json()["message"]
    ok = requests.post(f"{http_base}/api/v1/reports/{report_id}/review", json=review, headers=headers("office"),
                       timeout=10)
    assert ok.status_code == 200 and ok.json()["review"]["by"] == "office:demo_clerk"


def test_a_revoked_token_and_a_deactivated_actor_are_refused(stack, http_base):
    office = headers("office")
    issued = requests.post(f"{http_base}/api/v1/tokens", headers=office, timeout=10,
                           json={"role": "unit", "actor": "unit:agri_centre", "label": "field laptop"})
    assert issued.status_code == 201, issued.text
    token = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert requests.get(f"{http_base}/api/v1/me", headers=token, timeout=10).json()["actor"] == "unit:agri_centre"
    listed = requests.get(f"{http_base}/api/v1/tokens", headers=office, timeout=10).json()["items"]
    assert issued.json()["token"] not in str(listed)
    revoked = requests.post(f"{http_base}/api/v1/tokens/{issued.json()['id']}/revoke", headers=office, timeout=10)
    assert revoked.status_code == 200
    refused = requests.get(f"{http_base}/api/v1/me", headers=token, timeout=10)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    # an actor the office deactivates loses its tokens
    again = requests.post(f"{http_base}/api/v1/tokens", headers=office, timeout=10,
                          json={"role": "unit", "actor": "unit:agri_centre"}).json()["token"]
    deactivated = requests.post(f"{http_base}/api/v1/actors/unit/agri_centre/deactivate", headers=office, timeout=10)
    assert deactivated.status_code == 200
    wait_for(lambda: requests.get(f"{http_base}/api/v1/me", headers={"Authorization": f"Bearer {again}"},
                                  timeout=10).status_code == 401)
    # the office can read who did it
    trail = requests.get(f"{http_base}/api/v1/audit", headers=office, params={"actor": "office:demo_clerk"},
                         timeout=10).json()["items"]
    assert {"token_issued", "token_revoked", "actor_updated"} <= {e["type"] for e in trail}


def test_headers_cannot_make_anyone_someone_else(stack, http_base):
    forged = {"X-Actor-Id": "office", "X-Township-Id": "qingshui"}
    assert requests.get(f"{http_base}/api/v1/triage", headers=forged, timeout=10).status_code == 401
    assert requests.get(f"{http_base}/api/v1/actors", headers=forged, timeout=10).status_code == 401
    bad = requests.get(f"{http_base}/api/v1/triage", headers={"Authorization": "Bearer tp_made_up"}, timeout=10)
    assert bad.status_code == 401
    basic = requests.get(f"{http_base}/api/v1/triage", headers={"Authorization": "Basic b2ZmaWNlOg=="}, timeout=10)
    assert basic.status_code == 401


def test_a_service_refuses_a_call_whose_principal_the_gateway_did_not_sign(stack, service_config):
    """Anything else on the broker (every service's user may publish on the RPC exchange) cannot make up a
    principal: a call with an unsigned one, or one signed with another key, is refused by the service itself."""
    from nameko.exceptions import RemoteError
    from nameko.standalone.rpc import ClusterRpcProxy

    from township_shared.auth import Principal, sign

    office = Principal(role="office", actor="office:intruder", township_id="qingshui")
    with ClusterRpcProxy(service_config) as cluster:
        for principal in (office.to_dict(), sign(office, "guessed-key"), "office"):
            with pytest.raises(RemoteError) as refused:
                cluster.dispatch.list_triage(principal)
            assert refused.value.exc_type == "Unauthorized"
        key = service_config.get("PRINCIPAL_KEY") or "development-only-principal-key"
        unit = Principal(role="unit", actor="unit:water_station", township_id="qingshui")
        with pytest.raises(RemoteError) as forbidden:
            cluster.dispatch.list_triage(sign(unit, key))
        assert forbidden.value.exc_type == "Forbidden"
        assert isinstance(cluster.dispatch.list_triage(sign(office, key)), list)
