"""Feedback's documents: callbacks, completion reports, hotspot windows and the tasks dispatch confirmed
(assessment figures: ``figures.py``)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from township_shared import outbox as outbox_lib
from township_shared import store
from township_shared.clock import utcnow

RECENT_PER_HOTSPOT = 50
OUTBOX_COLLECTIONS = ("callbacks", "reports", "hotspots")  # the documents whose events the relay publishes


class FeedbackRepository:
    def __init__(self, db: Database):
        self.db = db
        self.callbacks = db["callbacks"]
        self.reports = db["reports"]
        self.hotspots = db["hotspots"]
        self.tasks = db["tasks"]
        self.projects = db["projects"]

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

    # tasks dispatch confirmed (decision 52) --------------------------------------------------------------------
    def known_task(self, task_id: str) -> dict[str, Any] | None:
        return self.tasks.find_one({"_id": task_id})

    def remember_task(self, township_id: str, facts: dict[str, Any]) -> dict[str, Any]:
        """Keep what dispatch said of a task: its township, case and assignee, which never change (idempotent)."""
        doc = {"_id": facts["task_id"], "township_id": township_id, "case_id": facts["case_id"],
               "assignee": {"kind": facts["assignee"]["kind"], "id": facts["assignee"]["id"]}}
        try:
            self.tasks.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
        except DuplicateKeyError:  # a concurrent first sighting of the same task inserted it
            pass
        return doc

    # funds projects that reports may name (decision 66) -----------------------------------------------------------
    def known_project(self, township_id: str, project_id: str) -> dict[str, Any] | None:
        return self.projects.find_one({"_id": f"{township_id}:{project_id}"})

    def remember_project(self, township_id: str, facts: dict[str, Any]) -> dict[str, Any]:
        """Keep what funds said of an approved project: its proposer, village and milestone names, which never
        change once it is approved (idempotent)."""
        proposer = facts["proposer"]
        doc = {"_id": f"{township_id}:{facts['project_id']}", "township_id": township_id,
               "project_id": facts["project_id"], "proposer_key": f"{proposer['kind']}:{proposer['id']}",
               "village": facts["village"], "milestones": list(facts["milestones"])}
        try:
            self.projects.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
        except DuplicateKeyError:
            pass
        return doc

    # reports -------------------------------------------------------------------------------------------------
    def insert_report(self, report: dict[str, Any], events: list[dict[str, Any]]) -> None:
        store.insert(self.reports, report, events)

    def get_report(self, township_id: str, report_id: str) -> dict[str, Any] | None:
        return self.reports.find_one({"_id": report_id, "township_id": township_id})

    def save_report(self, report: dict[str, Any], events: list[dict]) -> dict[str, Any]:
        return store.save(self.reports, report, events)

    def list_reports(self, township_id: str, organisation_key: str | None, status: str | None,
                     villages: list[str] | None = None) -> list[dict]:
        query: dict[str, Any] = {"township_id": township_id}
        if organisation_key:
            query["organisation_key"] = organisation_key
        if villages is not None:
            query["village"] = {"$in": list(villages)}
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
