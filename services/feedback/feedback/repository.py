"""Feedback's documents: callbacks, completion reports, hotspot windows, and assessment figures.

Figures are kept as one document per township and local day: ``c.<dimension>.<key>.<counter>`` counters plus
``applied``, the ids of the last :data:`RECENT_APPLIED` events folded into it. An event changes exactly one day
document, with a single conditional ``$inc`` (``applied`` must not hold its id), then leaves a marker in
``folded_events`` (``_id`` = event id), which is checked first. So a redelivered event changes nothing: the marker
catches it whenever it comes back, and the ``applied`` window catches the one that comes back after a crash
between the ``$inc`` and the marker (redelivered at once, long before a thousand other events of that township's
day). The window keeps the day document small: with every id in it, each fold rewrote and scanned a list that grew
through the day (decision 19). A month is the sum of at most 31 day documents read through the
``(township_id, month)`` index; a year, of at most 366 (decision 13)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from township_shared import outbox as outbox_lib
from township_shared import store
from township_shared.clock import utcnow

from .assessment import merge

RECENT_PER_HOTSPOT = 50
RECENT_APPLIED = 1000
OUTBOX_COLLECTIONS = ("callbacks", "reports", "hotspots")  # the documents whose events the relay publishes


class FeedbackRepository:
    def __init__(self, db: Database):
        self.db = db
        self.callbacks = db["callbacks"]
        self.reports = db["reports"]
        self.hotspots = db["hotspots"]
        self.figures = db["figures"]
        self.folded_events = db["folded_events"]

    def ensure_indexes(self) -> None:
        self.callbacks.create_index([("township_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)],
                                    name="township_status_created")
        self.callbacks.create_index([("token", ASCENDING)], unique=True, sparse=True, name="token")
        self.callbacks.create_index([("case_id", ASCENDING)], name="case")
        self.reports.create_index([("township_id", ASCENDING), ("organisation_key", ASCENDING)],
                                  name="township_organisation")
        self.reports.create_index([("township_id", ASCENDING), ("status", ASCENDING)], name="township_status")
        self.hotspots.create_index([("township_id", ASCENDING), ("raised_at", ASCENDING)], sparse=True,
                                   name="township_raised")
        for name in ("month", "year"):
            self.figures.create_index([("township_id", ASCENDING), (name, ASCENDING)], name=f"township_{name}")

    # callbacks -----------------------------------------------------------------------------------------------
    def insert_callback(self, cb: dict[str, Any]) -> bool:
        return store.insert(self.callbacks, cb, [], ("token",)) is not None

    def get_callback(self, township_id: str, callback_id: str) -> dict[str, Any] | None:
        return self.callbacks.find_one({"_id": callback_id, "township_id": township_id})

    def callback_by_token(self, token: str) -> dict[str, Any] | None:
        return self.callbacks.find_one({"token": token})

    def save_callback(self, cb: dict[str, Any], events: list[dict]) -> dict[str, Any]:
        return store.save(self.callbacks, cb, events, ("token",))

    def list_callbacks(self, township_id: str, status: str, limit: int,
                       case_id: str | None = None) -> list[dict[str, Any]]:
        """Oldest first; with ``case_id``, only that case's (through the ``case`` index)."""
        if case_id is not None:
            found = self.callbacks.find({"case_id": case_id, "township_id": township_id, "status": status})
        else:
            found = self.callbacks.find({"township_id": township_id, "status": status})
        return list(found.sort("created_at", ASCENDING).limit(limit))

    # reports -------------------------------------------------------------------------------------------------
    def insert_report(self, report: dict[str, Any]) -> None:
        store.insert(self.reports, report, [])

    def get_report(self, township_id: str, report_id: str) -> dict[str, Any] | None:
        return self.reports.find_one({"_id": report_id, "township_id": township_id})

    def save_report(self, report: dict[str, Any], events: list[dict]) -> dict[str, Any]:
        return store.save(self.reports, report, events)

    def list_reports(self, township_id: str, organisation_key: str | None, status: str | None) -> list[dict]:
        query: dict[str, Any] = {"township_id": township_id}
        if organisation_key:
            query["organisation_key"] = organisation_key
        if status:
            query["status"] = status
        return sorted(self.reports.find(query), key=lambda d: d["submitted_at"], reverse=True)

    # hotspots ------------------------------------------------------------------------------------------------
    def note_demand(self, township_id: str, village: str, category: str, case_id: str, at: datetime,
                    event_id: str) -> dict[str, Any] | None:
        """Append a demand to its village-and-category window (idempotent by event id); returns the window."""
        key = f"{township_id}:{village}:{category}"
        try:
            return self.hotspots.find_one_and_update(
                {"_id": key, "seen": {"$ne": event_id}},
                {"$push": {"recent": {"$each": [{"case_id": case_id, "at": at}], "$slice": -RECENT_PER_HOTSPOT},
                           "seen": {"$each": [event_id], "$slice": -RECENT_PER_HOTSPOT}},
                 "$setOnInsert": {"township_id": township_id, "village": village, "category": category, "rev": 0}},
                upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            return None

    def raise_hotspot(self, window: dict[str, Any], cluster: dict[str, Any], active_until: datetime,
                      events: list[dict], now: datetime) -> bool:
        update = {"$set": {"active_until": active_until, "raised_at": now, "cluster": cluster},
                  "$push": {"clusters": cluster}, "$inc": {"rev": 1}}
        outbox_lib.push(update, events, utcnow())
        done = self.hotspots.update_one({"_id": window["_id"], "rev": window["rev"]}, update)
        return done.modified_count == 1

    def get_hotspot(self, window_id: str) -> dict[str, Any] | None:
        return self.hotspots.find_one({"_id": window_id})

    def extend_hotspot(self, window_id: str, active_until: datetime) -> None:
        self.hotspots.update_one({"_id": window_id, "active_until": {"$lt": active_until}},
                                  {"$set": {"active_until": active_until}})

    def raised_hotspots(self, township_id: str, since: datetime) -> list[dict[str, Any]]:
        return sorted(self.hotspots.find({"township_id": township_id, "raised_at": {"$gte": since}}),
                      key=lambda h: h["raised_at"], reverse=True)

    # figures -------------------------------------------------------------------------------------------------
    def apply_figures(self, township_id: str, periods: dict[str, str], deltas: Iterable[tuple[str, str, str, float]],
                      event_id: str) -> bool:
        """Fold one event's contributions into its day document; False if it was folded before."""
        inc: dict[str, float] = {}
        for dimension, key, counter, delta in deltas:
            path = f"c.{dimension}.{key}.{counter}"
            inc[path] = inc.get(path, 0) + delta
        day_id = f"{township_id}:{periods['day']}"
        if self.folded_events.find_one({"_id": event_id}, {"_id": 1}) is not None:
            return False
        remember = {"applied": {"$each": [event_id], "$slice": -RECENT_APPLIED}}
        try:
            update = {"$push": remember, "$setOnInsert": {"township_id": township_id, **periods}}
            if inc:
                update["$inc"] = inc
            done = self.figures.update_one({"_id": day_id, "applied": {"$ne": event_id}}, update, upsert=True)
            applied = done.modified_count == 1 or done.upserted_id is not None
        except DuplicateKeyError:
            applied = False
        try:
            self.folded_events.insert_one({"_id": event_id, "township_id": township_id, "day": day_id})
        except DuplicateKeyError:
            pass
        return applied

    def read_figures(self, township_id: str, period: str, at: str) -> dict[str, Any]:
        """Summed counters of every day document in the period: ``{dimension: {key: {counter: n}}}``."""
        if period == "day":
            docs = self.figures.find({"_id": f"{township_id}:{at}"}, {"c": 1})
        else:
            docs = self.figures.find({"township_id": township_id, period: at}, {"c": 1})
        total: dict[str, Any] = {}
        for doc in docs:
            merge(total, doc.get("c", {}))
        return total

    def load_day_figures(self, docs: Iterable[dict[str, Any]]) -> None:
        """Bulk-load precomputed day documents (historical import, benchmark)."""
        batch = list(docs)
        if batch:
            self.figures.insert_many(batch, ordered=False)
