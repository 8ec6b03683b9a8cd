"""The HTTP API through the gateway and intake, on the real RabbitMQ and MongoDB-compatible server:
every class of bad input gets its 4xx with a JSON body naming the field; good input gets its answer."""

import pytest
import requests

from township_shared.testing import OFFICE_ACTOR, as_actor

OFFICE = as_actor(OFFICE_ACTOR)

pytestmark = pytest.mark.integration

GOOD = {"channel": "online", "reporter": {"name": "王五", "phone": "13612345678", "village": "xihe"},
        "village": "xihe", "category": "sanitation_refuse", "title": "垃圾没人清运",
        "description": "西河村口垃圾堆了一周", "location": {"address": "西河村村口"},
        "attachments": ["https://example.org/photo1.jpg"]}


def post(base, body, headers=None, **kw):
    return requests.post(f"{base}/api/v1/demands", json=body, headers=headers, timeout=10, **kw)


def test_submit_then_read_back_with_masked_phone(stack, http_base):
    res = post(http_base, GOOD)
    assert res.status_code == 201, res.text
    created = res.json()
    number = created["case_number"]
    assert number.startswith("QS-") and res.headers["Location"] == f"/api/v1/demands/{number}"
    assert len(created["secret"]) == 32
    got = requests.get(f"{http_base}/api/v1/demands/{number}", headers={"X-Case-Secret": created["secret"]},
                       timeout=10).json()
    assert got["id"] == created["id"] and got["reporter"]["phone"] == "136****5678"
    assert got["urgency"] == "general" and got["attachments"] == GOOD["attachments"]
    for headers in ({}, {"X-Case-Secret": "0" * 32}):
        assert requests.get(f"{http_base}/api/v1/demands/{number}", headers=headers, timeout=10).status_code == 404
    assert requests.get(f"{http_base}/api/v1/demands", timeout=10).status_code == 401
    listed = requests.get(f"{http_base}/api/v1/demands", params={"village": "xihe"}, headers=OFFICE,
                          timeout=10).json()
    assert [i["id"] for i in listed["items"]] == [created["id"]]
    assert listed["items"][0]["reporter"]["phone"] == "+8613612345678"  # the office's own township: in full


@pytest.mark.parametrize("body, fields", [
    ({**GOOD, "channel": "carrier_pigeon"}, {"channel"}),
    ({**GOOD, "reporter": {**GOOD["reporter"], "phone": "call me"}}, {"reporter.phone"}),
    ({k: v for k, v in GOOD.items() if k != "title"}, {"title"}),
    ({**GOOD, "description": "x" * 4001}, {"description"}),
    ({**GOOD, "surprise": True}, {"surprise"}),
    ({**GOOD, "urgency": "someday"}, {"urgency"}),
    ({**GOOD, "attachments": ["ftp://x/y"]}, {"attachments.0"}),
    ({**GOOD, "attachments": ["http://localhost/x"]}, {"attachments.0"}),
    ({**GOOD, "location": {"lat": "29.2", "long": 119.4}}, {"location.lat"}),
    ({**GOOD, "location": {"lat": 29.2}, "urgency": "someday"}, {"location.long", "urgency"}),
    ([], {"_schema"}),
])
def test_invalid_fields_answer_400_naming_each(stack, http_base, repo, body, fields):
    """400: the body breaks the OpenAPI document (a rule it cannot state alongside still named: decision 70)."""
    res = post(http_base, body)
    assert res.status_code == 400, res.text
    assert res.json()["error"] == "validation_failed"
    assert set(res.json()["fields"]) == fields


@pytest.mark.parametrize("body, fields", [
    ({**GOOD, "location": {"lat": 29.2}}, {"location.long"}),
    ({**GOOD, "village": "atlantis"}, {"village"}),
    ({**GOOD, "category": "unicorns"}, {"category"}),
    ({**GOOD, "reporter": {**GOOD["reporter"], "phone": "12345"}}, {"reporter.phone"}),
])
def test_well_formed_but_refused_answers_422_naming_each(stack, http_base, repo, body, fields):
    """422: valid by the document, refused by what it names or a rule between fields (decision 70)."""
    res = post(http_base, body)
    assert res.status_code == 422, res.text
    assert res.json()["error"] == "unprocessable"
    assert set(res.json()["fields"]) == fields
    assert repo.cases.count_documents({}) == 0


def test_malformed_json_is_400(stack, http_base):
    res = requests.post(f"{http_base}/api/v1/demands", data=b'{"channel": ', timeout=10,
                        headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and "_body" in res.json()["fields"]


def test_wrong_content_type_is_415(stack, http_base):
    res = requests.post(f"{http_base}/api/v1/demands", data="channel=hotline", timeout=10,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 415 and res.json()["error"] == "unsupported_media_type"


def test_body_over_limit_is_413(stack, http_base, repo):
    res = post(http_base, {**GOOD, "description": "x" * 70000})
    assert res.status_code == 413 and res.json()["max_bytes"] == 65536
    assert repo.cases.count_documents({}) == 0


def test_unknown_ids_townships_and_routes_are_404(stack, http_base):
    assert requests.get(f"{http_base}/api/v1/demands/nope", timeout=10).status_code == 404
    res = requests.get(f"{http_base}/api/v1/villages", headers={"X-Township-Id": "atlantis"}, timeout=10)
    assert res.status_code == 404 and "atlantis" in res.json()["message"]
    res = requests.get(f"{http_base}/api/v2/anything", timeout=10)
    assert res.status_code == 404 and res.json()["error"] == "not_found"


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"), ({"status": "lost"}, "status"),
    ({"received_from": "yesterday"}, "received_from"), ({"colour": "red"}, "colour"),
    ([("village", "a"), ("village", "b")], "village"),
])
def test_bad_listing_queries_are_400(stack, http_base, params, field):
    res = requests.get(f"{http_base}/api/v1/demands", params=params, headers=OFFICE, timeout=10)
    assert res.status_code == 400 and field in res.json()["fields"]


def test_bad_idempotency_key_and_township_header_are_400(stack, http_base):
    assert post(http_base, GOOD, {"Idempotency-Key": "k" * 256}).status_code == 400
    res = requests.get(f"{http_base}/api/v1/categories", headers={"X-Township-Id": "Not A Code"}, timeout=10)
    assert res.status_code == 400 and "X-Township-Id" in res.json()["fields"]


def test_reference_data_for_forms(stack, http_base):
    villages = requests.get(f"{http_base}/api/v1/villages", timeout=10).json()["items"]
    categories = requests.get(f"{http_base}/api/v1/categories", timeout=10).json()["items"]
    assert len(villages) >= 8 and {"code", "names"} <= set(villages[0])
    assert len(categories) >= 15
    water = next(c for c in categories if c["code"] == "drinking_water")
    assert water["names"] == {"zh": "饮水安全", "en": "Drinking water"} and water["default_urgency"] == "utilities"
    baiyun = requests.get(f"{http_base}/api/v1/villages", headers={"X-Township-Id": "baiyun"}, timeout=10).json()
    assert {v["code"] for v in baiyun["items"]}.isdisjoint({v["code"] for v in villages})


def test_health_reports_both_backing_services(stack, http_base):
    res = requests.get(f"{http_base}/health", timeout=10)
    assert res.status_code == 200
    assert res.json()["rabbitmq"]["ok"] and res.json()["mongodb"]["ok"]


def test_a_service_that_does_not_answer_gives_504_and_frees_the_worker(container_factory, service_config,
                                                                       http_base):
    """intake's queue exists but nothing consumes it (a reply lost, a service hung): the gateway answers 504
    after RPC_TIMEOUT_SECONDS instead of holding the worker forever."""
    from kombu import Connection, Exchange, Queue

    from gateway.service import GatewayService

    with Connection(service_config["AMQP_URI"]) as conn:
        Queue("rpc-intake", Exchange("nameko-rpc", type="topic", durable=True), routing_key="intake.*",
              durable=True)(conn.default_channel).declare()
    container = container_factory(GatewayService, {**service_config, "RPC_TIMEOUT_SECONDS": 0.5, "max_workers": 1})
    container.start()
    for _ in range(2):  # with one worker, the second answer proves the first released it
        res = requests.get(f"{http_base}/api/v1/villages", timeout=10)
        assert res.status_code == 504, res.text
        assert res.json()["error"] == "timeout"
