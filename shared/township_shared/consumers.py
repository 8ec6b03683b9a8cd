"""Event consumers that never lose a message and never loop on one they cannot use.

Wrap every ``@event_handler`` (declared with ``requeue_on_error=True``) with :func:`consumer`:

- a message the service cannot use (bad envelope or payload, or any bug the handler hits) is published, with the
  reason, to the durable dead-letter queue ``township.dead_letters`` and acknowledged: kept for the office
  (``GET /api/v1/dead-letters``), not retried forever, not silently dropped;
- an outage of the database (:func:`~township_shared.errors.is_outage`: unreachable, timed out, shutting down) is
  raised again, so nameko requeues the message and it is redelivered when MongoDB answers (each attempt waits out
  the server-selection timeout, so this is no hot loop). Any other database error (a write the server refuses, a
  document too large or not encodable) is a dead letter like a bug: the same message would fail for ever.

- a message that did not come through the exchange of the service the handler subscribed to, or whose envelope
  names another source, or a type that source does not publish, is refused (:func:`~township_shared.events.
  check_origin`), and so is one whose handler raises :class:`~township_shared.errors.Refused` (an unknown case,
  task or actor): a dead letter with the reason (decision 51);
- a service the handler must ask that does not answer (:class:`~township_shared.errors.Unavailable`) is an outage
  too: the message comes back later.

Declare handlers with this module's :data:`event_handler`, not nameko's: a body that cannot even be decoded (not
JSON, a content type nameko does not accept) never reaches a handler, and kombu's default acknowledges and drops it
with a log line. :class:`DeadLetteringQueueConsumer` sends it to the dead-letter queue first. It also hands the
handler where the message came from (``delivery``), which the origin check needs.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import traceback
from typing import Any, Callable

from functools import partial

from kombu import Exchange, Queue
from nameko import events
from nameko.exceptions import ContainerBeingKilled
from nameko.amqp.publish import Publisher as AmqpPublisher
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.messaging import Publisher, QueueConsumer

from . import queues
from .clock import utcnow
from .errors import BROKER_UNAVAILABLE, ServiceError, Unavailable, is_outage
from .events import check_origin
from .privacy import cut_out, scrub
from .observability import EVENTS_DEAD_LETTERED, EVENTS_HANDLED, EVENTS_REQUEUED, correlation
from .schemas.bounds import echo

log = logging.getLogger(__name__)

DEAD_LETTERS = "township.dead_letters"
dead_letter_exchange = Exchange(DEAD_LETTERS, type="fanout", durable=True)
dead_letter_queue = Queue(DEAD_LETTERS, exchange=dead_letter_exchange, durable=True)


def _dead_letter_entities(config) -> list:
    """What a service declares before it publishes a dead letter: the queue (with the deployment's queue type,
    decision 80) and its exchange, unless the broker's administrator declared them
    (``bus.declared_by_administrator``: the service's user may not, decision 50)."""
    from .bus import declared_by_administrator

    return [] if declared_by_administrator(config) else [queues.typed(dead_letter_queue, config)]


class _DeadLetterPublisher(Publisher):
    def setup(self):
        self.declare = _dead_letter_entities(self.container.config)
        super().setup()


def DeadLetterPublisher() -> Publisher:
    """A publisher onto the dead-letter queue (persistent, with confirms; declared on start unless the
    administrator declared it)."""
    return _DeadLetterPublisher(exchange=dead_letter_exchange)


def letter_id(service: str, handler: str, body: Any) -> str:
    """The same for the same message at the same handler: a consumer killed between recording a dead letter and
    acknowledging the message records it again when the message comes back (at least once); readers collapse
    repeats by this id."""
    raw = json.dumps([service, handler, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()


def township_of(body: Any) -> str | None:
    """The township a message names in its envelope, if it names one: whose office lists its dead letter."""
    township = body.get("township_id") if isinstance(body, dict) else None
    return township if isinstance(township, str) and 0 < len(township) <= 64 else None


def _cut_out_all(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return cut_out(value, secrets)
    if isinstance(value, dict):
        return {k: _cut_out_all(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_out_all(v, secrets) for v in value]
    return value


def dead_letter(service: str, handler: str, body: Any, exc: BaseException,
                delivery: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dead-letter record: the body without its personal data, where it failed and why (decision 58), and,
    when known, the exchange and routing key it came through.

    Personal fields (:data:`~township_shared.privacy.PERSONAL_FIELDS`: reporter, names, phones, comments, ...) are
    replaced by markers of their type and length, and their values cut out of the reason, the details and the
    traceback, which may quote them. The record names the township of the envelope, whose office lists it."""
    removed: list[str] = []
    record = {"letter_id": letter_id(service, handler, body), "service": service, "handler": handler,
              "township_id": township_of(body), "at": utcnow().isoformat(), "body": scrub(body, found=removed),
              "error": type(exc).__name__, "reason": cut_out(str(exc)[:2000], removed)}
    if delivery is not None:
        record.update(exchange=delivery.get("exchange"), routing_key=delivery.get("routing_key"))
    if isinstance(exc, ServiceError):
        record["details"] = _cut_out_all(exc.body, removed)
    else:
        record["traceback"] = cut_out("".join(traceback.format_exception(exc))[-4000:], removed)
    return record


def consumer(handler: Callable) -> Callable:
    """Decorate an event handler method of a service that has ``dead_letters = DeadLetterPublisher()``. Keyword
    arguments an entrypoint adds to the body (the audit trail's ``exchange``) are passed on."""

    @functools.wraps(handler)
    def wrapper(self, body, delivery=None, **context):
        if isinstance(body, dict) and isinstance(body.get("correlation_id"), str):
            correlation(body["correlation_id"])
        try:
            if delivery is not None:
                check_origin(body, delivery.get("exchange"), delivery["subscribed"])
            result = handler(self, body, **context)
        except Exception as exc:
            if is_outage(exc) or isinstance(exc, Unavailable):
                EVENTS_REQUEUED.labels(self.name, handler.__name__).inc()
                what = exc if isinstance(exc, Unavailable) else f"database unavailable ({type(exc).__name__})"
                log.warning("%s.%s: %s; the message will be redelivered", self.name, handler.__name__, what)
                raise
            record = dead_letter(self.name, handler.__name__, body, exc, delivery)
            if not isinstance(exc, ServiceError):
                log.error("%s.%s failed; message sent to %s\n%s", self.name, handler.__name__, DEAD_LETTERS,
                          record["traceback"])
            else:
                log.warning("%s.%s refused a message (%s); sent to %s", self.name, handler.__name__,
                            echo(record["reason"]), DEAD_LETTERS)
            self.dead_letters(record)
            EVENTS_DEAD_LETTERED.labels(self.name, handler.__name__).inc()
            return None
        EVENTS_HANDLED.labels(self.name, handler.__name__).inc()
        return result

    wrapper.takes_delivery = True
    return wrapper


def undecodable_letter(service: str, handler: str, message: Any, exc: BaseException) -> dict[str, Any]:
    """The dead-letter record of a message whose body could not be decoded: its size and SHA-256, never its text
    (which cannot be parsed, so its personal data cannot be told from the rest: decision 58), its content type and
    where it was addressed. It names no township: no office lists it."""
    raw = message.body
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    raw = bytes(raw) if isinstance(raw, (bytes, bytearray, memoryview)) else str(raw).encode("utf-8", "replace")
    info = message.delivery_info or {}
    return {"letter_id": letter_id(service, handler, raw.decode("utf-8", errors="replace")[:100_000]),
            "service": service, "handler": handler, "township_id": None, "at": utcnow().isoformat(),
            "body": None, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
            "error": "UndecodableMessage", "reason": f"{type(exc).__name__}: {exc}"[:300],
            "content_type": message.content_type, "content_encoding": message.content_encoding,
            "exchange": info.get("exchange"), "routing_key": info.get("routing_key")}


class ResilientQueueConsumer(QueueConsumer):
    """nameko's shared queue consumer, except that an acknowledgement or requeue the broker cannot take is logged
    instead of raised.

    nameko lets the socket error (``ConnectionResetError``) of an acknowledgement escape when RabbitMQ goes away;
    raised in a worker's or the consumer's thread it makes nameko kill the container. The message needs nothing:
    its channel is gone, so the broker delivers it again, and every consumer deduplicates (events by id, RPC
    replies by correlation id)."""

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except BROKER_UNAVAILABLE as exc:
            log.warning("message not acknowledged, the broker is unavailable (%r); it will be delivered again", exc)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except BROKER_UNAVAILABLE as exc:
            log.warning("message not requeued, the broker is unavailable (%r); it will be delivered again", exc)


class DeadLetteringQueueConsumer(ResilientQueueConsumer):
    """nameko's shared queue consumer (resilient, above), except that an undecodable body is published (persistent, confirmed) to
    the dead-letter queue before it is acknowledged. If that publish fails the exception propagates, the
    connection is re-established and the broker redelivers the message: it is never acknowledged unrecorded."""

    def on_decode_error(self, message, exc):
        tag = (message.delivery_info or {}).get("consumer_tag")
        handler = next((provider.method_name for provider, kombu_consumer in self._consumers.items()
                        if tag in kombu_consumer._active_tags.values()), "unknown")
        record = undecodable_letter(self.container.service_name, handler, message, exc)
        log.warning("%s.%s got an undecodable message (%s); sent to %s", self.container.service_name, handler, exc,
                    DEAD_LETTERS)
        AmqpPublisher(self.container.config[AMQP_URI_CONFIG_KEY], serializer="json").publish(
            record, exchange=dead_letter_exchange, routing_key=DEAD_LETTERS,
            declare=_dead_letter_entities(self.container.config))
        EVENTS_DEAD_LETTERED.labels(self.container.service_name, handler).inc()
        message.ack()


class EventHandler(events.EventHandler):
    """nameko's event handler on a :class:`DeadLetteringQueueConsumer`, which also gives the handler (wrapped by
    :func:`consumer`) the ``delivery`` of each message: the exchange and routing key it came through and the
    service the handler subscribed to."""

    queue_consumer = DeadLetteringQueueConsumer()

    def setup(self):
        super().setup()
        self.queue = queues.typed(self.queue, self.container.config)

    def handle_message(self, body, message):
        """nameko's ``Consumer.handle_message`` with ``delivery`` as a keyword argument of the worker (for a
        method wrapped by :func:`consumer`)."""
        kwargs = {}
        if getattr(getattr(self.container.service_cls, self.method_name), "takes_delivery", False):
            info = message.delivery_info or {}
            kwargs["delivery"] = {"exchange": info.get("exchange"), "routing_key": info.get("routing_key"),
                                  "subscribed": self.source_service}
        try:
            self.container.spawn_worker(self, (body,), kwargs, context_data=self.unpack_message_headers(message),
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)


event_handler = EventHandler.decorator
