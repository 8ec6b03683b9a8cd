"""The gateway's RPC proxy on the real RabbitMQ: a reply whose acknowledgement fails still reaches its caller, and
the gateway's container lives."""
import pytest
from nameko.messaging import QueueConsumer
from nameko.testing.services import entrypoint_hook

from gateway.dependencies import RpcProxy
from township_shared.service import rpc

pytestmark = pytest.mark.integration


class Echo:
    name = "echo"

    @rpc
    def echo(self, value):
        return value


class Caller:
    name = "caller"
    echo = RpcProxy("echo")

    @rpc
    def call(self, value):
        return self.echo.echo(value)


def test_a_reply_whose_acknowledgement_fails_still_reaches_its_caller(container_factory, rabbit_config, monkeypatch):
    ack_message = QueueConsumer.ack_message
    failures = []

    def reply_ack_fails_once(self, message):
        # in the caller's container the queue consumer acknowledges only replies (the hook calls it directly)
        if self.container.service_name == "caller" and not failures:
            failures.append(message.properties.get("correlation_id"))
            raise ConnectionResetError(104, "Connection reset by peer")
        return ack_message(self, message)
    monkeypatch.setattr(QueueConsumer, "ack_message", reply_ack_fails_once)
    echo = container_factory(Echo, rabbit_config)
    caller = container_factory(Caller, rabbit_config)
    echo.start()
    caller.start()

    with entrypoint_hook(caller, "call") as call:
        assert call("water") == "water"
        assert call("power") == "power"
    assert len(failures) == 1
    assert not caller._died.ready(), "the gateway's container was killed"
