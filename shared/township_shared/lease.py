"""Leases in MongoDB: a duty (a timer's round of work) done by one instance of a service at a time, however many
run. See docs/decisions/0081-timer-duties-under-a-lease.md.

A lease is one document per duty in the service's ``leases`` collection: ``{_id: duty, holder, expires_at,
term}``. :meth:`Lease.acquire` is a single conditional upsert: it matches the document only when the caller
already holds it or it has expired, and then sets the caller as holder until ``now + ttl``; when another holder's
lease is still running the filter matches nothing, the upsert tries to insert a second document with the same
``_id`` and the unique ``_id`` index refuses it (DuplicateKeyError), which is the answer "not yours". A single
document write is atomic on every MongoDB deployment, so two instances can never both be told yes for the same
unexpired term.

The invariant: **at any wall-clock instant at most one instance holds a duty's lease**, provided the instances'
clocks agree to within less than ``ttl`` (NTP keeps them within milliseconds; ``ttl`` is seconds). A holder
renews at each round (its timer's interval, well under ``ttl``), so it keeps the duty while it lives; when it
stops it releases the lease (:meth:`release`), and when it dies another instance takes the duty over once
``expires_at`` has passed. ``term`` counts changes of holder: a round that took longer than ``ttl`` may overlap
the next holder's first round, which the duties tolerate because each is idempotent anyway (conditional writes
on ``rev``, applied-event lists: delivery is at least once everywhere in the product); the lease makes them run
once instead of once per instance, and :meth:`Lease.acquire` tells the caller how long it has (the expiry).

Time is the hosts' UTC clock, not a service's injectable clock: a lease measures real time between processes.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from nameko.extensions import DependencyProvider
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, PyMongoError

from .clock import utcnow
from .observability import DUTY_ROUNDS, LEASE_HELD

log = logging.getLogger(__name__)

COLLECTION = "leases"
DEFAULT_TTL_SECONDS = 15.0
RELEASED = datetime(1970, 1, 1, tzinfo=timezone.utc)


def new_holder() -> str:
    """A name for one instance (one nameko container): host, process and a random part, unique across restarts."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Held:
    """A lease the caller holds: until when, and in which term (how many times the holder changed)."""

    duty: str
    holder: str
    expires_at: datetime
    term: int


class Lease:
    """The leases of one service, in its own database's ``leases`` collection (indexed by ``_id`` only)."""

    def __init__(self, collection: Collection):
        self.collection = collection

    def acquire(self, duty: str, holder: str, now: datetime, ttl: timedelta) -> Held | None:
        """Take or renew ``duty`` for ``holder`` until ``now + ttl``; None when another holder's lease runs."""
        try:
            doc = self._take(duty, holder, now, ttl)
        except DuplicateKeyError:
            return None
        return Held(duty, holder, doc["expires_at"], doc.get("term", 1))

    def _take(self, duty: str, holder: str, now: datetime, ttl: timedelta) -> dict[str, Any]:
        """The conditional upsert; ``term`` grows when the holder changes (read first: informational only, the
        write's filter alone decides who holds the lease)."""
        current = self.collection.find_one({"_id": duty}, {"holder": 1})
        changed = current is None or current.get("holder") != holder
        update: dict[str, Any] = {"$set": {"holder": holder, "expires_at": now + ttl, "renewed_at": now}}
        if changed:
            update["$inc"] = {"term": 1}
            update["$set"]["acquired_at"] = now
        doc = self.collection.find_one_and_update(
            {"_id": duty, "$or": [{"holder": holder}, {"expires_at": {"$lte": now}}]},
            update, upsert=True, return_document=ReturnDocument.AFTER)
        if changed:
            log.info("lease %s: %s holds it (term %s)", duty, holder, doc.get("term"))
        return doc

    def release(self, duty: str, holder: str) -> bool:
        """Give ``duty`` up if ``holder`` holds it, so another instance takes it at its next round."""
        done = self.collection.update_one({"_id": duty, "holder": holder}, {"$set": {"expires_at": RELEASED}})
        return done.modified_count == 1

    def holder(self, duty: str, now: datetime) -> str | None:
        """Who holds ``duty`` at ``now`` (None: nobody, or an expired lease)."""
        doc = self.collection.find_one({"_id": duty})
        if doc is None or doc["expires_at"] <= now:
            return None
        return doc["holder"]


# nameko ----------------------------------------------------------------------------------------------------------
def holder_of(container: Any) -> str:
    """The holder name of a nameko container: one per container, shared by its :class:`Duties` and its relay."""
    name = getattr(container, "_township_lease_holder", None)
    if name is None:
        name = new_holder()
        container._township_lease_holder = name
    return name


def lease_of(container: Any) -> Lease:
    """The :class:`Lease` of a container's service, in the database of its ``MongoRepository`` dependency."""
    from .mongo import MongoRepository

    store = next((d for d in container.dependencies if isinstance(d, MongoRepository)), None)
    if store is None or store.database is None:
        raise RuntimeError(f"{container.service_name}: leases need a MongoRepository dependency")
    return Lease(store.database[COLLECTION])


def ttl_of(config: Any) -> timedelta:
    return timedelta(seconds=float(config.get("LEASE_SECONDS", DEFAULT_TTL_SECONDS) or DEFAULT_TTL_SECONDS))


class Duties(DependencyProvider):
    """``duties = Duties()`` on a service; in a ``@timer`` method, ``if not self.duties.hold("chase_deadlines"):
    return`` makes the round run in one instance only (the module docstring). ``LEASE_SECONDS`` (15) is how long
    a lease runs unrenewed: how long a dead holder's duty waits for another instance. Stopping the container
    releases what it holds. A database error answers False (the round is skipped; the next one tries again)."""

    def setup(self):
        self.ttl = ttl_of(self.container.config)
        self.holder = holder_of(self.container)
        self.held: set[str] = set()
        self.rounds: dict[str, int] = {}
        self.lease: Lease | None = None

    def start(self):
        self.lease = lease_of(self.container)

    def stop(self):
        for duty in sorted(self.held):
            try:
                self.lease.release(duty, self.holder)
            except PyMongoError:
                log.warning("lease %s: not released (the database is unavailable); it expires in %s", duty,
                            self.ttl)
        self.held.clear()

    def hold(self, duty: str) -> bool:
        try:
            held = self.lease.acquire(duty, self.holder, utcnow(), self.ttl)
        except PyMongoError as exc:
            log.warning("lease %s: not renewed (%s); skipping this round", duty, type(exc).__name__)
            held = None
        if held is None:
            self.held.discard(duty)
            LEASE_HELD.labels(self.container.service_name, duty).set(0)
            return False
        self.held.add(duty)
        self.rounds[duty] = self.rounds.get(duty, 0) + 1
        LEASE_HELD.labels(self.container.service_name, duty).set(1)
        DUTY_ROUNDS.labels(self.container.service_name, duty).inc()
        return True

    def get_dependency(self, worker_ctx):
        return self
