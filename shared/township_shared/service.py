"""What every nameko service of the product shares: loading input through a schema, the injectable clock, the
``@rpc`` entrypoint and the RPC proxy a consumer asks another service through (:func:`ask`). Events are
published through :class:`township_shared.relay.EventRelay`."""
from __future__ import annotations

import logging
from typing import Any, Callable

import eventlet
from kombu import Exchange
from marshmallow import Schema, ValidationError
from nameko import rpc as nameko_rpc
from nameko.exceptions import RemoteError, UnknownService
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc as NamekoRpc

from . import queues
from .bus import declared_by_administrator
from .clock import SystemClock
from .consumers import ResilientQueueConsumer
from .errors import (BROKER_UNAVAILABLE, DATABASE_UNAVAILABLE, Unavailable, ValidationFailed, flatten_messages,
                     install_expected_error_log_filter, refused_input)
from .schemas.bounds import check_json

log = logging.getLogger(__name__)


def load(schema: Schema, data: Any) -> Any:
    """``schema.load(data)`` (no body counts as ``{}``); errors become a 400 naming each field, including what no
    schema can report: nesting deeper than ``bounds.MAX_DEPTH`` or text that is not valid Unicode (decision 31), or a
    422 when only rules the OpenAPI document cannot state refused it (``RuleMessage``, decision 70)."""
    problems = check_json(data)
    if problems:
        raise ValidationFailed(problems)
    try:
        return schema.load(data if data is not None else {})
    except ValidationError as exc:
        raise refused_input(flatten_messages(exc.messages)) from None


def _bind_only(queue) -> None:
    """Make ``queue`` bind to its exchange without declaring it: the administrator declared ``nameko-rpc`` and the
    service's user may not (decision 50)."""
    exchange = queue.exchange
    queue.exchange = Exchange(exchange.name, type=exchange.type, durable=exchange.durable,
                              auto_delete=exchange.auto_delete, no_declare=True)


class RpcConsumer(nameko_rpc.RpcConsumer):
    """nameko's consumer of a service's RPC queue ``rpc-<service>``, declared with the deployment's queue type
    (decision 80), which binds to ``nameko-rpc`` without declaring it in a service of ``services.toml``
    (``bus.declared_by_administrator``)."""

    def setup(self):
        super().setup()
        self.queue = queues.typed(self.queue, self.container.config)
        if declared_by_administrator(self.container.config):
            _bind_only(self.queue)


class Rpc(NamekoRpc):
    """nameko's ``@rpc``, except that a reply RabbitMQ cannot take does not kill the service.

    nameko publishes the reply from the worker's thread; when the broker is gone (a restart) the publish raises
    after its retries, the worker thread dies with the error, and nameko kills the container, with every other
    worker in flight (full chaos runs: several kills of dispatch, feedback and intake per run). Here the failure is
    logged and the request is put back on its queue (if the consumer's connection is gone too, the broker does
    that itself): it runs again, which is safe because every command is idempotent or answers 409 with the state it
    reached, and its reply reaches the caller if the caller still waits (else the gateway has answered 504 after
    ``RPC_TIMEOUT_SECONDS`` and the client retries).

    Its setup also makes nameko log the expected exceptions (``expected_exceptions``) of every entrypoint in one
    short line instead of a traceback (:class:`~township_shared.errors.ExpectedErrorLogFilter`). Its queue binds
    to ``nameko-rpc`` without declaring it (:class:`RpcConsumer`)."""

    rpc_consumer = RpcConsumer()

    def setup(self):
        install_expected_error_log_filter()
        super().setup()

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


class ReplyListener(nameko_rpc.ReplyListener):
    """nameko's listener for RPC replies on a :class:`~township_shared.consumers.ResilientQueueConsumer` (an
    acknowledgement the broker cannot take is logged, not raised into the container: a RabbitMQ restart made nameko
    kill the container for it), binding to ``nameko-rpc`` without declaring it in a service of ``services.toml``."""

    queue_consumer = ResilientQueueConsumer()

    def setup(self):
        super().setup()
        if declared_by_administrator(self.container.config):
            _bind_only(self.queue)


class RpcProxy(nameko_rpc.RpcProxy):
    """nameko's ``RpcProxy`` on :class:`ReplyListener`."""

    rpc_reply_listener = ReplyListener()


UNAVAILABLE_BACKOFF_SECONDS = 1.0


def ask(service: str, call: Callable[[], Any], timeout: float) -> Any:
    """The answer of ``call()``, an RPC to ``service`` made while handling an event; None when ``service`` answers
    ``NotFound``. When it cannot answer now (no answer within ``timeout`` seconds, not running, its database or
    the broker unavailable) this waits :data:`UNAVAILABLE_BACKOFF_SECONDS` and raises
    :class:`~township_shared.errors.Unavailable`, so the consumer puts the message back without spinning on it.
    Any other remote error is raised as it is: a bug, for the dead-letter queue."""
    try:
        with eventlet.Timeout(timeout):
            return call()
    except eventlet.Timeout:
        reason = f"{service} did not answer within {timeout:g} s"
    except UnknownService:
        reason = f"{service} is not running"
    except RemoteError as exc:
        if exc.exc_type == "NotFound":
            return None
        if exc.exc_type not in DATABASE_UNAVAILABLE:
            raise
        reason = f"{service}'s database is unavailable ({exc.exc_type})"
    except BROKER_UNAVAILABLE as exc:
        reason = f"the broker is unavailable ({type(exc).__name__})"
    eventlet.sleep(UNAVAILABLE_BACKOFF_SECONDS)
    raise Unavailable(reason)


class Clock(DependencyProvider):
    """The system clock; tests swap in a ``FixedClock`` with ``replace_dependencies`` to move time."""

    def setup(self):
        self.clock = SystemClock()

    def get_dependency(self, worker_ctx):
        return self.clock
