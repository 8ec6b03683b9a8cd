"""The gateway's mapping of failures to statuses, without a broker: outages are 503 with Retry-After (the client
should retry), never 500 (a bug)."""
import pytest
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.http import api


class Route:
    config = {"RPC_TIMEOUT_SECONDS": 5}

    def __init__(self, exc):
        self.exc = exc

    def authenticate(self, request):
        from township_shared.auth import public

        return public("qingshui")

    @api
    def handle(self, request):
        raise self.exc


@pytest.mark.parametrize("exc", [
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionRefusedError(111, "ECONNREFUSED"),
    OperationalError("[Errno 111] ECONNREFUSED"),
    RemoteError("AutoReconnect", "127.0.0.1:27017: connection closed"),
    RemoteError("ServerSelectionTimeoutError", "No servers found yet"),
])
def test_outages_are_503_with_retry_after(exc):
    res = Route(exc).handle(Request(EnvironBuilder(path="/api/v1/demands").get_environ()))
    assert res.status_code == 503 and res.headers["Retry-After"] == "5"
    assert res.get_json()["error"] == "service_unavailable"


def test_a_bug_is_still_500():
    res = Route(KeyError("x")).handle(Request(EnvironBuilder(path="/api/v1/demands").get_environ()))
    assert res.status_code == 500 and res.get_json()["error"] == "internal_error"


def test_a_request_while_the_gateway_is_being_killed_is_503():
    from nameko.exceptions import ContainerBeingKilled

    from gateway.http import HttpEntrypoint

    res = HttpEntrypoint("GET", "/api/v1/demands").response_from_exception(ContainerBeingKilled())
    assert res.status_code == 503 and res.headers["Retry-After"] == "5"
    assert res.get_json()["error"] == "service_unavailable"


def test_what_fails_before_a_route_is_json():
    from gateway.http import HttpEntrypoint

    res = HttpEntrypoint("GET", "/api/v1/demands").response_from_exception(RuntimeError("boom"))
    assert res.status_code == 500 and res.get_json()["error"] == "internal_error"
