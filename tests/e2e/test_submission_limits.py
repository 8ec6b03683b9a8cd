"""Public demand submission is limited per client address and per reporter phone (decision 55): over a limit
the answer is 429 with ``Retry-After`` and the API's JSON error, nothing is stored, and the limit holds across
several gateways because intake counts in MongoDB."""
import socket

import pytest
import requests

pytestmark = pytest.mark.integration


@pytest.fixture
def service_config(service_config):
    return {**service_config, "RATE_LIMIT_PER_ADDRESS": 3, "RATE_LIMIT_ADDRESS_WINDOW_MINUTES": 60,
            "RATE_LIMIT_PER_PHONE": 2, "RATE_LIMIT_PHONE_WINDOW_MINUTES": 1440}


def demand(phone, i=0):
    return {"channel": "online", "reporter": {"name": "李四", "phone": phone, "village": "xihe"}, "village": "xihe",
            "category": "sanitation_refuse", "title": f"垃圾 {i}", "description": "村口垃圾没人清运"}


def post(base, body, client, **headers):
    # the gateway believes X-Forwarded-For from this host, a trusted proxy by default: one test, many clients
    return requests.post(f"{base}/api/v1/demands", json=body, timeout=10,
                         headers={"X-Forwarded-For": client, **headers})


def assert_refused(res, limit):
    assert res.status_code == 429, res.text
    body = res.json()
    assert body["error"] == "too_many_requests" and body["limit"] == limit and body["message"]
    assert int(res.headers["Retry-After"]) == body["retry_after"] > 0
    assert res.headers["X-Content-Type-Options"] == "nosniff"


def test_one_address_gets_its_limit_then_429_and_others_go_on(stack, http_base, repo):
    for i in range(3):
        assert post(http_base, demand(f"1390000000{i}", i), "198.51.100.9").status_code == 201
    refused = post(http_base, demand("13900000009", 9), "198.51.100.9", **{"Idempotency-Key": "late-1"})
    assert_refused(refused, "address")
    assert 3500 < refused.json()["retry_after"] <= 3600
    assert repo.cases.count_documents({}) == 3  # nothing stored for the refused one
    assert repo.by_idempotency_key("qingshui", "client:late-1") is None
    assert post(http_base, demand("13900000009", 9), "203.0.113.20").status_code == 201
    # IPv6: one subscriber's /64 is one client
    for i, address in enumerate(["2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1:ffff::3"]):
        assert post(http_base, demand(f"1370000000{i}", i), address).status_code == 201
    assert_refused(post(http_base, demand("13700000009"), "2001:db8:7:1::99"), "address")
    assert repo.cases.count_documents({}) == 7


def test_one_phone_gets_its_limit_whatever_the_address(stack, http_base, repo):
    assert post(http_base, demand("13612345678", 1), "198.51.100.1").status_code == 201
    assert post(http_base, demand("+86 136 1234 5678", 2), "198.51.100.2").status_code == 201  # one number
    assert_refused(post(http_base, demand("0086 13612345678", 3), "198.51.100.3"), "phone")
    assert repo.cases.count_documents({}) == 2


def test_the_limit_holds_across_two_gateways(stack, http_base, runner_factory, service_config, repo):
    from gateway.service import GatewayService

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    second = runner_factory({**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}, GatewayService)
    second.start()
    bases = [http_base, f"http://127.0.0.1:{port}"]
    statuses = [post(bases[i % 2], demand(f"1350000000{i}", i), "192.0.2.55").status_code for i in range(8)]
    assert sorted(statuses) == [201] * 3 + [429] * 5, statuses
    assert {post(base, demand("13500000009"), "192.0.2.55").status_code for base in bases} == {429}
    assert repo.cases.count_documents({}) == 3
