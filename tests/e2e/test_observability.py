"""Metrics in Prometheus text format and JSON logs that carry the case id."""
import json
import logging
import re
import time

import pytest
import requests

from township_shared.observability import JsonFormatter, correlation

pytestmark = pytest.mark.integration


def metric(text, name, **labels):
    """The value of one sample, 0 when absent (the registry is per process, shared by earlier tests)."""
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(label_text)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_show_latency_events_and_queue_depth(stack, http_base):
    scrape = lambda: requests.get(f"{http_base}/metrics", timeout=10).text  # noqa: E731
    before = scrape()
    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
            "village": "dongpo", "category": "drinking_water", "title": "停水", "description": "停水"}
    assert requests.post(f"{http_base}/api/v1/demands", json=body, timeout=10).status_code == 201
    handled = dict(name="township_events_handled_total", handler="receive_demand", service="dispatch")
    deadline = time.monotonic() + 10
    text = scrape()
    while metric(text, **handled) == metric(before, **handled) and time.monotonic() < deadline:
        time.sleep(0.2)
        text = scrape()
    assert metric(text, **handled) == metric(before, **handled) + 1
    timed = dict(name="township_entrypoint_seconds_count", entrypoint="submit_demand", service="intake")
    assert metric(text, **timed) == metric(before, **timed) + 1
    assert 'township_queue_messages{queue="rpc-intake",state="ready"}' in text


def test_json_log_lines_carry_the_case_id():
    formatter = JsonFormatter()
    record = logging.LogRecord("dispatch", logging.INFO, __file__, 1, "routed %s", ("c1",), None)
    correlation("case-123")
    try:
        line = json.loads(formatter.format(record))
    finally:
        correlation(None)
    assert line["correlation_id"] == "case-123" and line["message"] == "routed c1" and line["level"] == "INFO"
    assert json.loads(formatter.format(record))["correlation_id"] is None
