"""Event consumers that never lose a message and never loop on one they cannot use.

Wrap every ``@event_handler`` (declared with ``requeue_on_error=True``) with :func:`consumer`:

- a message the service cannot use (bad envelope or payload, or any bug the handler hits) is published, with the
  reason, to the durable dead-letter queue ``township.dead_letters`` and acknowledged: kept for the office
  (``GET /api/v1/dead-letters``), not retried forever, not silently dropped;
- an outage of the database (``PyMongoError``) is raised again, so nameko requeues the message and it is
  redelivered when MongoDB answers (each attempt waits out the server-selection timeout, so this is no hot loop).
"""
from __future__ import annotations

import functools
import logging
import traceback
from typing import Any, Callable

from kombu import Exchange, Queue
from nameko.messaging import Publisher
from pymongo.errors import PyMongoError

from .clock import utcnow
from .errors import ServiceError
from .observability import EVENTS_DEAD_LETTERED, EVENTS_HANDLED, EVENTS_REQUEUED, correlation

log = logging.getLogger(__name__)

DEAD_LETTERS = "township.dead_letters"
dead_letter_exchange = Exchange(DEAD_LETTERS, type="fanout", durable=True)
dead_letter_queue = Queue(DEAD_LETTERS, exchange=dead_letter_exchange, durable=True)


def DeadLetterPublisher() -> Publisher:
    """A publisher onto the dead-letter queue (declared on start, persistent, with confirms)."""
    return Publisher(queue=dead_letter_queue)


def dead_letter(service: str, handler: str, body: Any, exc: BaseException) -> dict[str, Any]:
    """The dead-letter record: the original body, where it failed and why."""
    record = {"service": service, "handler": handler, "at": utcnow().isoformat(), "body": body,
              "error": type(exc).__name__, "reason": str(exc)[:2000]}
    if isinstance(exc, ServiceError):
        record["details"] = exc.body
    else:
        record["traceback"] = "".join(traceback.format_exception(exc))[-4000:]
    return record


def consumer(handler: Callable) -> Callable:
    """Decorate an event handler method of a service that has ``dead_letters = DeadLetterPublisher()``."""

    @functools.wraps(handler)
    def wrapper(self, body):
        if isinstance(body, dict) and isinstance(body.get("correlation_id"), str):
            correlation(body["correlation_id"])
        try:
            result = handler(self, body)
        except PyMongoError:
            EVENTS_REQUEUED.labels(self.name, handler.__name__).inc()
            log.warning("%s.%s: database unavailable; the message will be redelivered", self.name,
                        handler.__name__)
            raise
        except Exception as exc:
            if not isinstance(exc, ServiceError):
                log.exception("%s.%s failed; message sent to %s", self.name, handler.__name__, DEAD_LETTERS)
            else:
                log.warning("%s.%s refused a message (%s); sent to %s", self.name, handler.__name__, exc,
                            DEAD_LETTERS)
            self.dead_letters(dead_letter(self.name, handler.__name__, body, exc))
            EVENTS_DEAD_LETTERED.labels(self.name, handler.__name__).inc()
            return None
        EVENTS_HANDLED.labels(self.name, handler.__name__).inc()
        return result

    return wrapper
