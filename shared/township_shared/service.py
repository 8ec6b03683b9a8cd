"""What every nameko service of the product shares: loading input through a schema, the injectable clock, the
``@rpc`` entrypoint, and publishing the events a write left in its document's outbox."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Iterable

from marshmallow import Schema, ValidationError
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc as NamekoRpc

from . import outbox
from .clock import SystemClock
from .errors import BROKER_UNAVAILABLE, ValidationFailed, flatten_messages

log = logging.getLogger(__name__)


def load(schema: Schema, data: Any) -> Any:
    """``schema.load(data)`` (no body counts as ``{}``); errors become a 400 naming each field."""
    try:
        return schema.load(data if data is not None else {})
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from None


class Rpc(NamekoRpc):
    """nameko's ``@rpc``, except that a reply RabbitMQ cannot take does not kill the service.

    nameko publishes the reply from the worker's thread; when the broker is gone (a restart) the publish raises
    after its retries, the worker thread dies with the error, and nameko kills the container, with every other
    worker in flight (full chaos runs: several kills of dispatch, feedback and intake per run). Here the failure is
    logged and the request is put back on its queue (if the consumer's connection is gone too, the broker does
    that itself): it runs again, which is safe because every command is idempotent or answers 409 with the state it
    reached, and its reply reaches the caller if the caller still waits (else the gateway has answered 504 after
    ``RPC_TIMEOUT_SECONDS`` and the client retries)."""

    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_UNAVAILABLE as exc:
            log.warning("%s: reply not sent, the broker is unavailable (%r); the request is requeued",
                        worker_ctx.entrypoint.method_name, exc)
            try:
                self.rpc_consumer.requeue_message(message)
            except BROKER_UNAVAILABLE:
                pass  # the channel is gone with the connection: the broker requeues the request itself
            return result, exc_info


rpc = Rpc.decorator


class Clock(DependencyProvider):
    """The system clock; tests swap in a ``FixedClock`` with ``replace_dependencies`` to move time."""

    def setup(self):
        self.clock = SystemClock()

    def get_dependency(self, worker_ctx):
        return self.clock


class OutboxRelay:
    """Mixin for a service with ``dispatch = EventDispatcher()``: publish pending events right after a write,
    and sweep what a crash or a broker outage left behind (``OUTBOX_GRACE_SECONDS``)."""

    def publish_event(self, event: dict[str, Any]) -> None:
        self.dispatch(event["type"], event)

    def flush_outbox(self, doc: dict[str, Any] | None, box: outbox.Outbox) -> None:
        if doc and doc.get("outbox"):
            try:
                outbox.flush(box, doc, self.publish_event)
            except Exception:
                log.exception("publishing the events of %s failed; the outbox sweep will retry", doc["_id"])

    def sweep_outboxes(self, boxes: Iterable[outbox.Outbox], now) -> int:
        grace = timedelta(seconds=float(self.config.get("OUTBOX_GRACE_SECONDS", 5)))
        sent = sum(outbox.sweep(box, self.publish_event, now, grace) for box in boxes)
        if sent:
            log.info("%s: outbox sweep published %d pending event(s)", self.name, sent)
        return sent
