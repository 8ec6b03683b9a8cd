"""The event relay: the one dependency through which a service announces its facts.

Every event a service publishes was first written into the outbox of the document it describes
(:mod:`township_shared.store`). The relay publishes it from there, twice over:

- ``self.events.flush(doc)`` right after a write, from the worker that made it (the common, fast path);
- a sweep, in a thread of the relay's own every :data:`SWEEP_SECONDS`, for events left pending longer than
  ``OUTBOX_GRACE_SECONDS`` by a crash or a broker outage between the write and its flush. However many instances
  of the service run, one sweeps at a time: the one holding the ``outbox_sweep`` lease
  (:mod:`township_shared.lease`); it also reports the age of the oldest pending event
  (``township_outbox_oldest_pending_seconds``).

The relay knows the collections whose documents carry outboxes (``EventRelay("cases")``) and reaches them through
the service's own :class:`~township_shared.mongo.MongoRepository`, so a service declares both once and never
hands the relay a collection or picks an outbox by position. Publishing is at least once; consumers
deduplicate by event id. Events go to nameko's ``<service>.events`` exchange with the event type as routing key,
exactly as nameko's ``EventDispatcher`` (which this extends) would send them.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import eventlet
from nameko.events import EventDispatcher

from . import outbox
from .clock import utcnow
from .lease import Lease, holder_of, lease_of, ttl_of
from .mongo import MongoRepository
from .observability import OUTBOX_OLDEST_SECONDS

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
SWEEP_DUTY = "outbox_sweep"


class Relay:
    """What a worker gets: ``flush(doc, collection=None)`` publishes a document's pending events."""

    def __init__(self, provider: "EventRelay", publish):
        self._provider = provider
        self.publish = publish

    def flush(self, doc: dict[str, Any] | None, collection: str | None = None) -> int:
        """Publish ``doc``'s pending events in order and clear them; the sweep retries whatever fails.
        ``collection`` names the document's collection when the relay has more than one."""
        if not doc or "outbox_since" not in doc:
            return 0
        box = self._provider.outbox(collection)
        try:
            return outbox.flush(box, doc, lambda event: self.publish(event["type"], event))
        except Exception:
            log.warning("publishing the events of %s failed; the outbox sweep will retry", doc["_id"],
                        exc_info=True)
            return 0


class EventRelay(EventDispatcher):
    """``events = EventRelay("cases", ...)``: publish the outboxes of these collections of the service's
    database (see the module docstring)."""

    def __init__(self, *collections: str, **options: Any):
        if not collections:
            raise ValueError("EventRelay needs the collections whose documents carry outboxes")
        self.collections = collections
        self.outboxes: dict[str, outbox.Outbox] = {}
        self.lease: Lease | None = None
        self.sweeps = 0
        self._sweeper = None
        super().__init__(**options)

    def setup(self):
        super().setup()
        self.grace = timedelta(seconds=float(self.container.config.get("OUTBOX_GRACE_SECONDS", 5)))
        self.lease_ttl = ttl_of(self.container.config)
        self.holder = holder_of(self.container)

    def start(self):
        store = next((d for d in self.container.dependencies if isinstance(d, MongoRepository)), None)
        if store is None or store.database is None:
            raise RuntimeError(f"{self.container.service_name}: EventRelay needs a MongoRepository dependency")
        self.outboxes = {name: outbox.Outbox(store.database[name]) for name in self.collections}
        for box in self.outboxes.values():
            box.ensure_indexes()
        self.lease = lease_of(self.container)
        self._sweeper = self.container.spawn_managed_thread(self._sweep_forever, identifier="outbox_sweep")

    def stop(self):
        self._kill_sweeper()
        if self.lease is not None:
            try:
                self.lease.release(SWEEP_DUTY, self.holder)
            except Exception:  # the lease expires by itself
                log.warning("%s: outbox sweep lease not released", self.container.service_name, exc_info=True)
        super().stop()

    def kill(self):
        self._kill_sweeper()
        super().kill()

    def _kill_sweeper(self):
        if self._sweeper is not None:
            self._sweeper.kill()
            self._sweeper = None

    def outbox(self, collection: str | None = None) -> outbox.Outbox:
        if collection is None:
            if len(self.outboxes) != 1:
                raise ValueError(f"name the collection: this relay has {sorted(self.outboxes)}")
            return next(iter(self.outboxes.values()))
        return self.outboxes[collection]

    def publish(self, event: dict[str, Any], extra_headers: dict[str, Any] | None = None) -> None:
        self.publisher.publish(event, exchange=self.exchange, routing_key=event["type"],
                               extra_headers=extra_headers or {})

    def sweep(self) -> int:
        """Publish every event pending longer than the grace; returns how many were published."""
        now = utcnow()
        sent = sum(outbox.sweep(box, self.publish, now, self.grace) for box in self.outboxes.values())
        if sent:
            log.info("%s: outbox sweep published %d pending event(s)", self.container.service_name, sent)
        oldest = [box.oldest_pending(now) for box in self.outboxes.values()]
        waited = min((since for since in oldest if since is not None), default=None)
        OUTBOX_OLDEST_SECONDS.labels(self.container.service_name).set(
            (utcnow() - waited).total_seconds() if waited else 0)
        return sent

    def sweep_if_held(self) -> int | None:
        """:meth:`sweep` if this instance holds the ``outbox_sweep`` lease (renewing it); None if another does."""
        if self.lease.acquire(SWEEP_DUTY, self.holder, utcnow(), self.lease_ttl) is None:
            OUTBOX_OLDEST_SECONDS.labels(self.container.service_name).set(0)  # the holder reports it
            return None
        self.sweeps += 1
        return self.sweep()

    def _sweep_forever(self):
        """Never raises: an exception in a managed thread would make nameko kill the whole container."""
        while True:
            eventlet.sleep(SWEEP_SECONDS)
            try:
                self.sweep_if_held()
            except Exception:  # a database or broker outage: try again at the next round
                log.warning("%s: outbox sweep failed; retrying in %.0f s", self.container.service_name,
                            SWEEP_SECONDS, exc_info=True)

    def get_dependency(self, worker_ctx):
        return Relay(self, super().get_dependency(worker_ctx))
