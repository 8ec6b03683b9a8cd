"""deploy/prometheus/alerts.yml, checked offline as ``promtool check rules`` would: the rule file's structure
(groups with unique names, each rule an alert with a valid name, an expression, an optional ``for`` duration,
string labels and annotations), every expression parsed by a PromQL parser (promql-parser: the grammar of
Prometheus), and every metric an expression reads one the platform exports, so a renamed metric cannot leave an
alert that never fires."""
from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import pytest
from prometheus_client import REGISTRY

from township_shared.testing import yaml_as_written

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
SEVERITIES = {"info", "warning", "critical"}
# exported elsewhere than the process registry: the gateway's queue depths (read from RabbitMQ at scrape time),
# and Prometheus's own `up` of every scraped target
OTHER_METRICS = {"township_queue_messages", "up"}


def rules():
    doc = yaml_as_written(RULES.read_text(encoding="utf-8"))
    assert set(doc) == {"groups"}
    return doc["groups"]


def exported() -> set[str]:
    import township_shared.observability  # noqa: F401  (registers the platform's metrics)

    names = set(OTHER_METRICS)
    for family in REGISTRY.collect():
        names.update(sample.name for sample in family.samples)
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def selectors(expr) -> list[promql_parser.VectorSelector]:
    found = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr) if isinstance(expr, str) else expr, visit)
    return found


def all_rules():
    return [(group["name"], rule) for group in rules() for rule in group["rules"]]


def test_groups_have_unique_names_and_rules():
    names = [group["name"] for group in rules()]
    assert len(names) == len(set(names)) and all(names)
    for group in rules():
        assert set(group) <= {"name", "interval", "rules", "limit"} and group["rules"]


@pytest.mark.parametrize("group,rule", all_rules(), ids=[r["alert"] for _, r in all_rules()])
def test_every_rule_is_a_well_formed_alert(group, rule):
    assert set(rule) <= RULE_KEYS and {"alert", "expr"} <= set(rule), f"{group}: keys {sorted(rule)}"
    assert NAME.match(rule["alert"])
    expr = promql_parser.parse(rule["expr"])
    assert isinstance(expr, promql_parser.BinaryExpr) and expr.op is not None, \
        "an alert compares: it fires for the series the comparison keeps"
    if "for" in rule:
        assert promql_parser.parse_duration(rule["for"]).total_seconds() > 0
    assert rule["labels"]["severity"] in SEVERITIES
    for mapping in (rule["labels"], rule["annotations"]):
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
        for value in mapping.values():
            assert value.count("{{") == value.count("}}"), f"unbalanced template in {value!r}"
    assert {"summary", "description"} <= set(rule["annotations"])


def test_alert_names_are_unique():
    names = [rule["alert"] for _, rule in all_rules()]
    assert len(names) == len(set(names))


def test_every_metric_an_alert_reads_is_exported():
    known = exported()
    for _, rule in all_rules():
        for selector in selectors(rule["expr"]):
            assert selector.name in known, f"{rule['alert']} reads {selector.name}, which nothing exports"


def test_the_rules_watch_queues_dead_letters_overdue_tasks_and_outbox_age():
    read = {s.name for _, rule in all_rules() for s in selectors(rule["expr"])}
    assert {"township_queue_messages", "township_events_dead_lettered_total", "township_alarms_fired_total",
            "township_outbox_oldest_pending_seconds", "township_lease_held"} <= read


@pytest.mark.parametrize("broken", ["sum(rate(x[5m]) >", "rate(x[5z])", "x{a=}"])
def test_the_parser_refuses_a_broken_expression(broken):
    with pytest.raises(ValueError):
        promql_parser.parse(broken)
