"""The product's ``@rpc`` entrypoint on the real RabbitMQ: a reply the broker cannot take does not kill the service."""
import pytest
from kombu.exceptions import OperationalError
from nameko.rpc import Responder
from nameko.standalone.rpc import ServiceRpcProxy

from township_shared.service import rpc

pytestmark = pytest.mark.integration
CALLS = []


class Counter:
    name = "counter"

    @rpc
    def bump(self, key):
        CALLS.append(key)
        return len(CALLS)


def test_a_reply_lost_to_the_broker_is_requeued_and_the_service_lives(container_factory, rabbit_config,
                                                                     monkeypatch):
    CALLS.clear()
    send_response = Responder.send_response
    failures = []

    def first_reply_fails(self, result, exc_info):
        if not failures:
            failures.append(result)
            raise OperationalError("[Errno 111] ECONNREFUSED")
        return send_response(self, result, exc_info)
    monkeypatch.setattr(Responder, "send_response", first_reply_fails)
    container = container_factory(Counter, rabbit_config)
    container.start()

    with ServiceRpcProxy("counter", rabbit_config, timeout=10) as counter:
        assert counter.bump("a") == 2
        assert counter.bump("b") == 3
    assert CALLS == ["a", "a", "b"] and failures == [1]
    assert not container._died.ready(), "the container was killed"


def test_an_acknowledgement_lost_to_the_broker_does_not_kill_the_service(container_factory, rabbit_config,
                                                                        monkeypatch):
    from nameko.messaging import QueueConsumer
    from nameko.standalone.events import event_dispatcher
    from nameko.testing.services import entrypoint_waiter

    from township_shared.consumers import event_handler

    seen = []

    class Listener:
        name = "listener"

        @event_handler("somewhere", "thing_happened")
        def note(self, body):
            seen.append(body)

    ack_message = QueueConsumer.ack_message
    failures = []

    def first_ack_fails(self, message):
        if not failures:
            failures.append(message.delivery_tag)
            raise ConnectionResetError(104, "Connection reset by peer")
        return ack_message(self, message)
    monkeypatch.setattr(QueueConsumer, "ack_message", first_ack_fails)
    container = container_factory(Listener, rabbit_config)
    container.start()

    with entrypoint_waiter(container, "note"):
        event_dispatcher(rabbit_config)("somewhere", "thing_happened", {"n": 1})
    assert seen == [{"n": 1}] and len(failures) == 1
    assert not container._died.ready(), "the container was killed"
    with entrypoint_waiter(container, "note"):
        event_dispatcher(rabbit_config)("somewhere", "thing_happened", {"n": 2})
    assert seen[-1] == {"n": 2}
