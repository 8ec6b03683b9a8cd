"""The funds pages of the console on the running stack (issue 16): the office sees a proposed project in its review
queue, approves it and allocates from two pools through the forms; the API shows the money; the ledger pages and
the budget execution report (and its CSV) show the movements; refusals show beside the form; the secretary reads
and may not act; other roles are refused."""
import pytest
import requests

from gateway.console.i18n import Formats
from gateway.console.pages.funds import fen_of
from township_shared.testing import ConsoleClient, as_actor

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")
ORG = as_actor("social_org:so_sunshine_elderly")
PROPOSAL = {"title": "东坡村长者助餐点", "village": "dongpo", "category": "elderly_care", "beneficiaries": 60,
            "description": "为独居老人提供午餐", "requested_fen": 3_000_000, "advance_percent": 30,
            "milestones": [{"name": "开餐三个月", "share_percent": 40, "due": "2027-03-31"}]}
money = Formats("en").money


def test_yuan_typed_in_a_form_become_exact_fen():
    assert [fen_of(t) for t in ("20000", "1,234.5", "¥0.07", "", None)] == [2_000_000, 123_450, 7, None, None]
    for bad in ("1.234", "-5", "abc", "NaN", "1e400"):
        with pytest.raises(ValueError):
            fen_of(bad)


def test_the_office_approves_a_project_and_allocates_from_two_pools(stack, http_base):
    pid = requests.post(f"{http_base}/api/v1/projects", json=PROPOSAL, headers=ORG, timeout=10).json()["id"]
    office = ConsoleClient(http_base, "office")
    home = office.get("/console/funds")
    assert home.status_code == 200 and 'id="pool-venture-2026"' in home.text
    assert f'href="/console/funds/projects/{pid}"' in home.text.split('id="queue-proposed"')[1].split("</table>")[0]

    no_reason = office.post(f"/console/funds/projects/{pid}/review", {"decision": "reject"})
    assert no_reason.status_code == 422 and "give the reason" in no_reason.text
    approved = office.post(f"/console/funds/projects/{pid}/review", {"decision": "approve"})
    assert approved.status_code == 303
    page = office.get(f"/console/funds/projects/{pid}")
    assert f'id="allocate-{pid}"' in page.text and money(3_000_000) in page.text

    pools = {p["code"]: p for p in requests.get(f"{http_base}/api/v1/pools", headers=OFFICE, timeout=10).json()["items"]}
    bad = office.post(f"/console/funds/projects/{pid}/allocate", {"key": "k1", "amount_venture-2026": "12.345"})
    assert bad.status_code == 422 and "at most two decimals" in bad.text
    too_much = office.post(f"/console/funds/projects/{pid}/allocate",
                           {"key": "k1", "amount_venture-2026": "30000.01"})
    assert too_much.status_code == 409
    form = {"key": "k2", "amount_venture-2026": "20,000", "amount_purchase-2026": "10000", "amount_fiscal-2026": ""}
    assert office.post(f"/console/funds/projects/{pid}/allocate", form).status_code == 303
    assert office.post(f"/console/funds/projects/{pid}/allocate", form).status_code == 303  # resent: replayed

    project = requests.get(f"{http_base}/api/v1/projects/{pid}", headers=OFFICE, timeout=10).json()
    assert (project["allocated_fen"], project["paid_fen"]) == (3_000_000, 900_000)
    assert {f["pool"]: f["allocated_fen"] for f in project["funding"]} == {"venture-2026": 2_000_000,
                                                                         "purchase-2026": 1_000_000}
    after = {p["code"]: p for p in requests.get(f"{http_base}/api/v1/pools", headers=OFFICE, timeout=10).json()["items"]}
    assert after["venture-2026"]["available_fen"] == pools["venture-2026"]["available_fen"] - 2_000_000
    page = office.get(f"/console/funds/projects/{pid}")
    assert f'id="allocate-{pid}"' not in page.text and money(900_000) in page.text

    ledger = office.get("/console/funds/ledger", params={"project": pid})
    assert ledger.status_code == 200 and ledger.text.count(f'href="/console/funds/projects/{pid}"') == 2 + 2
    first = office.get("/console/funds/ledger")
    assert 'id="ledger"' in first.text
    report = office.get("/console/funds/report", params={"by": "village", "year": "2026"})
    assert report.status_code == 200 and "dongpo" in report.text and money(900_000) in report.text
    csv = office.get("/console/funds/report.csv", params={"by": "source"})
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert csv.text.startswith("key,year,budget_fen")

    no_reason = office.post(f"/console/funds/projects/{pid}/close", {"close_reason": ""})
    assert no_reason.status_code == 400 and 'id="form-error"' in no_reason.text
    assert office.post(f"/console/funds/projects/{pid}/close", {"close_reason": "机构解散"}).status_code == 303
    closed = requests.get(f"{http_base}/api/v1/projects/{pid}", headers=OFFICE, timeout=10).json()
    assert (closed["status"], closed["released_fen"]) == ("closed", 2_100_000)
    back = {p["code"]: p for p in requests.get(f"{http_base}/api/v1/pools", headers=OFFICE, timeout=10).json()["items"]}
    assert back["venture-2026"]["available_fen"] + back["purchase-2026"]["available_fen"] == \
        pools["venture-2026"]["available_fen"] + pools["purchase-2026"]["available_fen"] - 900_000
    assert f'id="close-{pid}"' not in office.get(f"/console/funds/projects/{pid}").text


def test_the_secretary_reads_funds_and_other_roles_are_refused(stack, http_base):
    secretary = ConsoleClient(http_base, "meeting:secretary")
    assert secretary.get("/console/funds").status_code == 200
    assert secretary.get("/console/funds/report").status_code == 200
    assert secretary.get("/console/funds/ledger").status_code == 403
    assert secretary.post("/console/funds/projects/p-x/review", {"decision": "approve"}).status_code == 403
    unit = ConsoleClient(http_base, "unit:water_station")
    assert unit.get("/console/funds").status_code == 403
    assert unit.get("/console/funds/report.csv").status_code == 403
    assert ConsoleClient(http_base).get("/console/funds").status_code == 303
