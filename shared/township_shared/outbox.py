"""Transactional outbox kept inside the document it describes, so a write and its events commit atomically.

A repository stores the events a write produces in the same document (``outbox``: list of envelopes,
``outbox_since``: when the oldest became pending, ``outbox_rev``: bumped on every push and never reset, so a
clear can tell whether events arrived after the read it publishes from). Single-document writes
are atomic on every MongoDB deployment (standalone included), so either the fact and its announcement are both
stored, or neither is. After the write the service publishes the events and clears them; if it dies in between,
a timer finds documents whose ``outbox_since`` is older than a grace period (sparse index: only pending
documents are in it) and publishes them. Delivery is at least once: consumers deduplicate by event id.
See docs/decisions/0003-outbox-in-document.md.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from pymongo import ASCENDING
from pymongo.collection import Collection

log = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], None]


def attach(doc: dict[str, Any], events: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Return ``doc`` carrying ``events`` as pending, for an insert."""
    if events:
        doc.update(outbox=list(events), outbox_since=now, outbox_rev=1)
    return doc


def push(update: dict[str, Any], events: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Extend an update document so it also appends ``events`` to the pending outbox."""
    if events:
        update.setdefault("$push", {})["outbox"] = {"$each": list(events)}
        update.setdefault("$min", {})["outbox_since"] = now
        update.setdefault("$inc", {})["outbox_rev"] = 1
    return update


class Outbox:
    """Pending events of one collection: find the overdue ones, mark published ones."""

    def __init__(self, collection: Collection):
        self.collection = collection

    def ensure_indexes(self) -> None:
        self.collection.create_index([("outbox_since", ASCENDING)], sparse=True, name="outbox_pending")

    def due(self, older_than: datetime, limit: int = 200) -> list[dict[str, Any]]:
        return list(self.collection.find(
            {"outbox_since": {"$lte": older_than}},
            {"outbox": 1, "outbox_rev": 1, "outbox_since": 1},
        ).limit(limit))

    def oldest_pending(self, now: datetime) -> datetime | None:
        """When the longest-waiting pending event of the collection became pending (None: nothing pending)."""
        doc = next(iter(self.collection.find({"outbox_since": {"$lte": now}}, {"outbox_since": 1})
                        .sort("outbox_since", ASCENDING).limit(1)), None)
        return doc["outbox_since"] if doc else None

    def mark_published(self, doc_id: Any, rev: int, event_ids: Iterable[str]) -> None:
        """Clear published events. If events were pushed since ``rev``, keep those pending. If a clear fails,
        the sweep publishes the events again and consumers drop the duplicates.

        ``outbox_rev`` stays in the document: were it reset with the outbox, a clear arriving late (its publish
        held for seconds in retries during a broker outage, while the sweep sent and cleared the same events) would
        match the revision of a later push and remove events nobody sent (the loss of chaos run 3)."""
        done = self.collection.update_one(
            {"_id": doc_id, "outbox_rev": rev},
            {"$unset": {"outbox": "", "outbox_since": ""}},
        )
        if done.matched_count == 0:
            ids = list(event_ids)
            if ids:
                self.collection.update_one({"_id": doc_id}, {"$pull": {"outbox": {"id": {"$in": ids}}}})


def flush(outbox: Outbox, doc: dict[str, Any], publish: Publish) -> int:
    """Publish a document's pending events in order, then clear them. Returns how many were published.

    Stops at the first failure and leaves the rest pending for the sweep: order within a document is kept."""
    events = doc.get("outbox") or []
    if not events:
        if "outbox_since" in doc:
            outbox.mark_published(doc["_id"], doc.get("outbox_rev", 1), [])
        return 0
    for event in events:
        publish(event)
    outbox.mark_published(doc["_id"], doc.get("outbox_rev", 1), [e["id"] for e in events])
    return len(events)


def sweep(outbox: Outbox, publish: Publish, now: datetime, grace: timedelta, limit: int = 200) -> int:
    """Publish every event pending for longer than ``grace``; returns how many were published."""
    published = 0
    for doc in outbox.due(now - grace, limit):
        try:
            published += flush(outbox, doc, publish)
        except Exception:
            log.exception("outbox: publishing events of %s failed; will retry", doc["_id"])
            break
    return published
