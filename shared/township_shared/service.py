"""What every nameko service of the product shares: loading input through a schema, the injectable clock, and
publishing the events a write left in its document's outbox."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Iterable

from marshmallow import Schema, ValidationError
from nameko.extensions import DependencyProvider

from . import outbox
from .clock import SystemClock
from .errors import ValidationFailed, flatten_messages

log = logging.getLogger(__name__)


def load(schema: Schema, data: Any) -> Any:
    """``schema.load(data)`` (no body counts as ``{}``); errors become a 400 naming each field."""
    try:
        return schema.load(data if data is not None else {})
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from None


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
