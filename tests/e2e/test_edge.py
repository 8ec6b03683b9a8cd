"""The gateway's edge on the real stack (decisions 56, 57, 59): security headers on every answer, /metrics only
for this host or a scraper's token, callback links that expire and never reach a log line, and CSV exports a
spreadsheet opens as data."""
import csv
import io
import json
import logging
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from township_shared.testing import as_actor

from feedback import domain as feedback_domain
from feedback.figures import FiguresRepository
from feedback.repository import FeedbackRepository
from gateway.security import SECURITY_HEADERS

pytestmark = pytest.mark.integration
OFFICE = as_actor("office")
METRICS_TOKEN = "scrape-token-for-tests-3f9a"
DEMAND = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
          "village": "dongpo", "category": "drinking_water", "title": "停水", "description": "停水三天"}


@pytest.fixture
def service_config(service_config):
    return {**service_config, "METRICS_TOKEN": METRICS_TOKEN}


def assert_secured(res, what):
    for name, value in SECURITY_HEADERS.items():
        assert res.headers.get(name) == value, f"{what}: {name} is {res.headers.get(name)!r}"
    assert res.headers.get("Cache-Control") == "no-store", what


def test_every_answer_carries_the_security_headers(stack, http_base):
    base = http_base
    answers = {
        "201 demand": requests.post(f"{base}/api/v1/demands", json=DEMAND, timeout=10),
        "200 list": requests.get(f"{base}/api/v1/demands", headers=OFFICE, timeout=10),
        "401 no token": requests.get(f"{base}/api/v1/demands", timeout=10),
        "400 invalid": requests.post(f"{base}/api/v1/demands", json={**DEMAND, "channel": "fax"}, timeout=10),
        "403 not office": requests.get(f"{base}/api/v1/triage", headers=as_actor("unit:water_station"), timeout=10),
        "404 unknown id": requests.get(f"{base}/api/v1/demands/nope", timeout=10),
        "404 no route": requests.get(f"{base}/nowhere", timeout=10),
        "405 by werkzeug": requests.options(f"{base}/api/v1/demands", timeout=10),
        "415 form": requests.post(f"{base}/api/v1/demands", data="a=b", timeout=10,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"}),
        "200 csv": requests.get(f"{base}/api/v1/assessment.csv", headers=OFFICE, timeout=10),
        "200 openapi": requests.get(f"{base}/openapi.json", timeout=10),
        "200 health": requests.get(f"{base}/health", timeout=10),
        "200 metrics": requests.get(f"{base}/metrics", timeout=10),
        "401 metrics": requests.get(f"{base}/metrics", headers={"X-Forwarded-For": "192.0.2.7"}, timeout=10),
    }
    statuses = {what: res.status_code for what, res in answers.items()}
    assert statuses == {what: int(what.split()[0]) for what in answers}, statuses
    for what, res in answers.items():
        assert_secured(res, what)


def test_metrics_answer_this_host_or_the_scrapers_token_only(stack, http_base):
    url = f"{http_base}/metrics"
    assert "township_entrypoint_seconds" in requests.get(url, timeout=10).text  # loopback, no proxy
    proxied = {"X-Forwarded-For": "192.0.2.7"}  # what a reverse proxy on this host adds for an outside caller
    for headers in (proxied, {"Forwarded": "for=192.0.2.7"}, {**proxied, "Authorization": "Bearer wrong"},
                    {**proxied, "Authorization": f"Basic {METRICS_TOKEN}"}):
        res = requests.get(url, headers=headers, timeout=10)
        assert res.status_code == 401 and res.json()["error"] == "unauthorized", headers
        assert res.headers["WWW-Authenticate"].startswith("Bearer") and "township_" not in res.text
    scraped = requests.get(url, headers={**proxied, "Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert scraped.status_code == 200 and "township_entrypoint_seconds" in scraped.text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_service_metrics_ports_bind_to_this_host_only(service_process, rabbit_config):
    """A service process started as in production serves its metrics on 127.0.0.1, not on every interface."""
    port = free_port()
    proc = service_process("intake.service", METRICS_PORT_INTAKE=str(port))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if "township_" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    else:
        raise AssertionError(f"no metrics on 127.0.0.1:{port}; log: {open(proc.log_path).read()[-2000:]}")
    listening = [line.split() for line in open("/proc/net/tcp").read().splitlines()[1:]]
    local = {entry[1] for entry in listening if entry[3] == "0A" and int(entry[1].split(":")[1], 16) == port}
    assert local == {f"0100007F:{port:04X}"}, local  # 127.0.0.1, and not 0.0.0.0


# ---- callback links ----------------------------------------------------------------------------------------------
def add_callback(mongo_client, db_prefix, task_id, created_at):
    cb = feedback_domain.new_callback(f"case-{task_id}", task_id, "qingshui", {"kind": "unit", "id": "water_station"},
                                      "dongpo", "drinking_water", "已修好", created_at)
    assert FeedbackRepository(mongo_client[f"{db_prefix}_feedback"]).insert_callback(cb)
    return cb["token"]


def test_a_callback_link_expires_and_its_token_never_reaches_a_log_line(stack, http_base, mongo_client, db_prefix,
                                                                        caplog):
    caplog.set_level(logging.DEBUG)
    now = datetime.now(timezone.utc)
    fresh = add_callback(mongo_client, db_prefix, "t-fresh", now - timedelta(days=13, hours=23))
    expired = add_callback(mongo_client, db_prefix, "t-expired", now - timedelta(days=14, minutes=1))
    links = f"{http_base}/api/v1/callback-links"

    assert requests.get(f"{links}/{fresh}", timeout=10).status_code == 200
    gone = requests.get(f"{links}/{expired}", timeout=10)
    assert gone.status_code == 410 and gone.json()["error"] == "gone" and expired not in gone.text
    answer = {"resolved": True, "satisfaction": "satisfied"}
    assert requests.post(f"{links}/{expired}", json=answer, timeout=10).status_code == 410
    stored = mongo_client[f"{db_prefix}_feedback"]["callbacks"].find_one({"_id": "t-expired"})
    assert stored["status"] == "due" and "answer" not in stored  # nothing written for an expired link
    assert requests.post(f"{links}/{fresh}", json=answer, timeout=10).status_code == 200
    assert requests.get(f"{links}/{fresh}", timeout=10).status_code == 404  # used once
    assert requests.get(f"{links}/unknown-{fresh[:8]}", timeout=10).status_code == 404

    time.sleep(0.3)  # the access log line is written after the answer is sent
    # every record of the services at DEBUG; not the test's own HTTP client's, nor pymongo's command log of the
    # test's own inserts
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith(("urllib3", "pymongo"))]
    text = "\n".join(lines)
    for token in (fresh, expired, fresh[:8]):
        assert token not in text
    access = [line for line in lines if "/api/v1/callback-links/" in line and "HTTP/1.1" in line]
    assert len(access) == 6 and all("/api/v1/callback-links/<redacted>" in line for line in access), access


def test_the_token_is_redacted_in_a_gateway_process_own_lines(service_process, rabbit_config):
    """The gateway as production runs it (nameko run, JSON logs): the access log and its own warning of a service
    that did not answer in time both echo the path, both without the token."""
    port, token = free_port(), "Xq7Lm2Ts9Vb4Nw8Ke3Rp5Yd1"
    proc = service_process("gateway.service", HTTP_PORT=str(port), RPC_TIMEOUT_SECONDS="0.000001")
    deadline = time.monotonic() + 60
    while True:
        try:
            res = requests.get(f"http://127.0.0.1:{port}/api/v1/callback-links/{token}", timeout=5)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise AssertionError(open(proc.log_path).read()[-2000:])
            time.sleep(0.3)
    assert res.status_code == 504, res.text
    time.sleep(0.5)
    log = open(proc.log_path, encoding="utf-8").read()
    assert token not in log and token[:8] not in log
    redacted = [json.loads(line)["message"] for line in log.splitlines()
                if line.startswith("{") and "callback-links/<redacted>" in line]
    assert any("HTTP/1.1" in message for message in redacted), log[-3000:]
    assert any("no answer" in message for message in redacted), log[-3000:]


# ---- CSV ---------------------------------------------------------------------------------------------------------
def test_a_hostile_name_in_the_assessment_csv_is_text(stack, http_base, mongo_client, db_prefix):
    figures = FiguresRepository(mongo_client[f"{db_prefix}_feedback"])
    at = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
    hostile = ["=cmd|' /C calc'!A0", "@SUM(A1:A9)", "+1+1", "-2+3", "\t=1+1"]
    for i, key in enumerate(hostile):
        figures.record("qingshui", {"day": "2026-11-30", "month": "2026-11", "year": "2026"},
                       [("village", key, "dispatched", 1)], f"hostile-{i}", at)
    figures.fold_pending(lambda: datetime.now(timezone.utc))
    res = requests.get(f"{http_base}/api/v1/assessment.csv", headers=OFFICE, timeout=10,
                       params={"dimension": "village", "period": "day", "at": "2026-11-30"})
    assert res.status_code == 200 and res.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(res.text)))
    assert sorted(row["key"] for row in rows) == sorted("'" + key for key in hostile)
    assert all(row["dispatched"] == "1" for row in rows)
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values() if cell)
