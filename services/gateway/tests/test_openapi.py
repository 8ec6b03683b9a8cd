"""``/openapi.json`` is generated from the gateway's routes: every ``@http`` route is in it (or says why not), and
every documented path is answered by the route that documents it."""
import re

import pytest
from werkzeug.routing import Map, Rule

from gateway import openapi
from gateway.service import CALLBACK_COMMANDS, CASE_COMMANDS, GatewayService
from township_shared.schemas.dispatch import TASK_COMMANDS

DOCUMENT = openapi.document(GatewayService)
ROUTES = list(openapi.http_routes(GatewayService))


def route_map() -> Map:
    """The gateway's routes as werkzeug matches them, each rule's endpoint the route's attribute name."""
    return Map([Rule(entrypoint.url, methods=entrypoint.method.split(","), endpoint=name)
                for name, entrypoint, _ in ROUTES])


def documented() -> list[tuple[str, str, dict]]:
    return [(path, method.upper(), op) for path, ops in DOCUMENT["paths"].items() for method, op in ops.items()]


def test_the_gateway_has_routes_and_the_document_has_them():
    assert len(ROUTES) >= 25
    assert len(documented()) >= 40


def test_every_route_is_documented_or_says_why_not():
    paths = route_map().bind("localhost")
    answered = {}
    for path, method, _ in documented():
        name, _ = paths.match(re.sub(r"\{\w+\}", "x", path), method=method)
        answered.setdefault(name, set()).add(method)
    for name, entrypoint, fn in ROUTES:
        if getattr(fn, openapi.HIDDEN_ATTR, None):
            assert name not in answered
            continue
        assert getattr(fn, openapi.ROUTES_ATTR, None), \
            f"route {name} ({entrypoint.method} {entrypoint.url}) declares no @operation: it is not in /openapi.json"
        assert answered.get(name) == set(entrypoint.method.split(",")), f"{name} is not documented as routed"


def test_every_documented_path_is_answered_by_the_route_that_documents_it():
    paths = route_map().bind("localhost")
    for name, entrypoint, fn in ROUTES:
        for op in getattr(fn, openapi.ROUTES_ATTR, ()):
            path, params = openapi.openapi_path(entrypoint.url, op.fixed)
            method = entrypoint.method.lower()
            assert method in DOCUMENT["paths"].get(path, {}), f"{name}: {method} {path} not in the document"
            routed, _ = paths.match(re.sub(r"\{\w+\}", "x", path), method=method.upper())
            assert routed == name, f"{method} {path} is documented by {name} but routed to {routed}"
            declared = {p["name"] for p in DOCUMENT["paths"][path][method]["parameters"] if p["in"] == "path"}
            assert declared == set(params) == set(re.findall(r"\{(\w+)\}", path))
    with pytest.raises(Exception):  # sanity: a path nobody routes except the catch-all
        Map([r for r in route_map().iter_rules() if r.endpoint != "not_found"]).bind("localhost").match(
            "/api/v1/nowhere", method="GET")


def test_command_routes_document_every_command_of_their_tables():
    def commands(prefix):
        return {p.rsplit("/", 1)[1] for p in DOCUMENT["paths"] if p.startswith(prefix)}

    assert commands("/api/v1/tasks/{task_id}/") == {c.path for c in TASK_COMMANDS}
    assert commands("/api/v1/cases/{case_id}/") == set(CASE_COMMANDS) | {"whistle-report"}
    assert commands("/api/v1/callbacks/{callback_id}/") == set(CALLBACK_COMMANDS)
    for command in TASK_COMMANDS:
        op = DOCUMENT["paths"][f"/api/v1/tasks/{{task_id}}/{command.path}"]["post"]
        assert (op["description"] == "Roles: office") == command.office
        assert op["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{command.body.__name__.removesuffix('Schema')}"}


def test_the_csv_route_is_documented_as_csv():
    op = DOCUMENT["paths"]["/api/v1/assessment.csv"]["get"]
    assert list(op["responses"]["200"]["content"]) == ["text/csv"]
    assert any(p["in"] == "query" for p in op["parameters"])


def test_limited_and_expiring_operations_document_their_errors():
    demand = DOCUMENT["paths"]["/api/v1/demands"]["post"]["responses"]
    assert demand["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    for method in ("get", "post"):
        assert "410" in DOCUMENT["paths"]["/api/v1/callback-links/{token}"][method]["responses"]
    assert "401" in DOCUMENT["paths"]["/metrics"]["get"]["responses"]
    error = DOCUMENT["components"]["schemas"]["Error"]["properties"]
    assert {"retry_after", "limit", "expired_at"} <= set(error)
