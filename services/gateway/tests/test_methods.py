"""405 with ``Allow`` for a documented path asked with another method (decision 70); the rest passes through."""
import json

from werkzeug.test import Client
from werkzeug.wrappers import Response

from gateway import openapi
from gateway.methods import MethodGuard, allowed_methods, documented_map
from gateway.service import GatewayService

OPERATIONS = [(method, path) for method, path, _ in openapi.role_rows(GatewayService)]


def passed_through(environ, start_response):
    return Response("routed", status=299)(environ, start_response)


def client() -> Client:
    return Client(MethodGuard(passed_through, lambda: OPERATIONS))


def test_a_documented_path_with_another_method_is_a_json_405_naming_its_methods():
    for method in ("PUT", "DELETE", "OPTIONS", "TRACE", "QUERY"):
        res = client().open("/api/v1/demands", method=method)
        assert res.status_code == 405 and res.headers["Allow"] == "GET, HEAD, POST"
        body = json.loads(res.get_data())
        assert body["error"] == "method_not_allowed" and body["allowed"] == ["GET", "HEAD", "POST"]
    res = client().get("/api/v1/tasks/t1/sign")
    assert res.status_code == 405 and res.headers["Allow"] == "POST"


def test_documented_methods_and_other_paths_pass_through():
    for method, path in (("GET", "/api/v1/demands"), ("HEAD", "/api/v1/demands"), ("POST", "/api/v1/tasks/t1/sign"),
                         ("PUT", "/api/v1/nowhere"), ("GET", "/api/v1/tasks/t1/fly")):
        assert client().open(path, method=method).status_code == 299, (method, path)


def test_the_map_is_the_documents_operations():
    url_map = documented_map(OPERATIONS)
    for path, operations in openapi.document(GatewayService)["paths"].items():
        concrete = path.replace("{", "x").replace("}", "")
        assert allowed_methods(url_map, concrete, "PATCH" if "patch" not in operations else "PUT") == sorted(
            {m.upper() for m in operations} | ({"HEAD"} if "get" in operations else set()))
