"""Inputs that once made the API answer 500, each tried by hand through the whole stack (issue 10): they are refused
with a 400 naming the field, or accepted, never a 5xx. Kinds, not single inputs, are bounded in the shared schemas
(decision 31); the fuzzers in ``tests/contract`` generate the same kinds."""
import json
import logging
import time

import pytest
import requests
from township_shared.testing import as_actor

pytestmark = pytest.mark.integration

OFFICE = as_actor("office")
WATER = as_actor("unit:water_station")
DEMAND = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
          "village": "dongpo", "category": "drinking_water", "title": "停水三天", "description": "东坡村三组停水三天了"}


def raw_post(url, text, headers=None, method="POST"):
    """A body sent as the exact JSON text given (json= would refuse a lone surrogate on our side)."""
    return requests.request(method, url, data=text.encode("utf-8"), timeout=15,
                            headers={"Content-Type": "application/json", **(headers or {})})


def fields_of(res):
    assert res.status_code == 400, (res.status_code, res.text[:500])
    return res.json()["fields"]


def open_task(base):
    case_id = requests.post(f"{base}/api/v1/demands", json=DEMAND, timeout=15).json()["id"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        case = requests.get(f"{base}/api/v1/cases/{case_id}", headers=OFFICE, timeout=15)
        if case.status_code == 200 and case.json()["tasks"]:
            return case.json()["tasks"][0]["id"]
        time.sleep(0.1)
    raise AssertionError("the case was never routed")


@pytest.mark.parametrize("query, field", [
    ({"cursor": str(2**64)}, "cursor"),
    ({"cursor": str(2**63)}, "cursor"),
    ({"cursor": "9" * 40}, "cursor"),
    ({"limit": str(-2**70)}, "limit"),
    ({"received_from": "9999-12-31T23:59:59-23:59"}, "received_from"),
    ({"received_to": "0001-01-01T00:00:00+14:00"}, "received_to"),
])
def test_extreme_numbers_and_dates_in_a_query_are_400(stack, http_base, query, field):
    res = requests.get(f"{http_base}/api/v1/demands", params=query, headers=as_actor("office"), timeout=15)
    assert field in fields_of(res)


def test_extreme_integers_in_a_body_are_400(stack, http_base):
    report = {"project": "p1", "kind": "completion", "text": "done", "people_served": 2**64,
              "evidence_urls": ["https://example.org/a"]}
    res = requests.post(f"{http_base}/api/v1/reports", json=report, headers=as_actor("social_org:so_sunshine_elderly"),
                        timeout=15)
    assert "people_served" in fields_of(res)


def test_deeply_nested_arrays_are_400(stack, http_base):
    for depth in (50, 20_000):
        res = raw_post(f"{http_base}/api/v1/demands", "[" * depth + "]" * depth)
        assert "_body" in fields_of(res)
    nested = "x"
    for _ in range(40):
        nested = [nested]
    res = raw_post(f"{http_base}/api/v1/demands", json.dumps({**DEMAND, "title": nested}))
    assert res.status_code == 400


def test_lone_surrogates_are_400_naming_the_field(stack, http_base):
    text = json.dumps(DEMAND, ensure_ascii=False).replace("停水三天\"", "停水\\ud800三天\"", 1)
    assert "\\ud800" in text
    assert fields_of(raw_post(f"{http_base}/api/v1/demands", text)) == {"title": ["not valid Unicode text: a lone "
                                                                                  "surrogate (U+D800)"]}
    text = json.dumps({**DEMAND, "x": 1}).replace('"x"', '"\\udfff"')
    assert list(fields_of(raw_post(f"{http_base}/api/v1/demands", text))) == ["\\udfff"]


def test_far_future_extension_request_and_approval(stack, http_base):
    task = open_task(http_base)
    url = f"{http_base}/api/v1/tasks/{task}"
    assert requests.post(f"{url}/sign", headers=WATER, timeout=15).status_code == 200
    for until in ("9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59+00:00", "2999-01-01T00:00:00+08:00"):
        res = requests.post(f"{url}/extension-request", json={"until": until, "reason": "材料"}, headers=WATER,
                            timeout=15)
        assert "until" in fields_of(res)
    res = requests.post(f"{url}/extension-request", json={"until": "2099-12-31T00:00:00+08:00", "reason": "材料"},
                        headers=WATER, timeout=15)
    assert res.status_code == 200, res.text
    res = requests.post(f"{url}/extension-decision", json={"approved": True, "reason": "ok"}, headers=OFFICE,
                        timeout=15)
    assert res.status_code == 200, res.text
    assert res.json()["handling_deadline"] == "2099-12-30T16:00:00+00:00"


def test_patch_of_one_field_keeps_the_others(stack, http_base):
    url = f"{http_base}/api/v1/actors/party_member/pm001"
    before = requests.get(url, headers=OFFICE, timeout=15).json()
    assert before["skills"] and before["availability"]
    res = requests.patch(url, json={"phone": "13900000001"}, headers=OFFICE, timeout=15)
    assert res.status_code == 200, res.text
    after = requests.get(url, headers=OFFICE, timeout=15).json()
    assert after == {**before, "phone": "13900000001"}
    res = requests.post(f"{url}/deactivate", headers=OFFICE, timeout=15)
    assert requests.get(url, headers=OFFICE, timeout=15).json() == {**before, "phone": "13900000001", "active": False}


def test_an_expected_refusal_is_one_short_log_line(stack, http_base, caplog):
    caplog.set_level(logging.INFO)
    long_id = "x" * 5000
    res = requests.get(f"{http_base}/api/v1/cases/{long_id}", headers=OFFICE, timeout=15)
    assert res.status_code == 404
    res = requests.get(f"{http_base}/api/v1/demands/{long_id}", timeout=15)
    assert res.status_code == 404
    logged = [r for r in caplog.records if long_id[:100] in r.getMessage() or r.exc_info]
    assert logged, "the refusal is not logged at all"
    for record in logged:
        assert record.exc_info is None and record.levelno <= logging.WARNING
        assert len(caplog.handler.format(record)) <= 600, caplog.handler.format(record)[:1000]
    assert sum(len(caplog.handler.format(r)) for r in caplog.records) < 5000
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("(expected)")]
    assert any("dispatch.get_case refused: NotFound" in m for m in refusals), refusals
