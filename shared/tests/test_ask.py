"""``ask``: what a consumer makes of the answer of a service it asks before acting (decision 52)."""
import eventlet
import pytest
from nameko.exceptions import RemoteError, UnknownService

from township_shared import service
from township_shared.errors import Unavailable


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(service, "UNAVAILABLE_BACKOFF_SECONDS", 0)


def raising(exc):
    def call():
        raise exc
    return call


def test_an_answer_is_returned_and_not_found_is_none():
    assert service.ask("dispatch", lambda: {"task_id": "c1.1"}, 1) == {"task_id": "c1.1"}
    assert service.ask("dispatch", raising(RemoteError("NotFound", '{"error": "not_found"}')), 1) is None


@pytest.mark.parametrize("call, reason", [
    (lambda: eventlet.sleep(5), "did not answer within 0.05 s"),
    (raising(UnknownService("dispatch")), "is not running"),
    (raising(RemoteError("ServerSelectionTimeoutError", "no server")), "database is unavailable"),
    (raising(ConnectionResetError(104, "reset")), "broker is unavailable"),
])
def test_a_service_that_cannot_answer_now_is_unavailable(call, reason):
    with pytest.raises(Unavailable, match=reason):
        service.ask("dispatch", call, 0.05)


def test_any_other_remote_error_is_raised_as_it_is():
    with pytest.raises(RemoteError):
        service.ask("dispatch", raising(RemoteError("KeyError", "'x'")), 1)
