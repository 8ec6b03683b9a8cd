"""The meetings service's documents: candidate items, meetings (agenda, records, frozen minutes, addenda and the
decisions with what became of them) and consultation topics. Each carries its own outbox; every query filters on
the township first and runs on an index."""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from township_shared import store

OUTBOX_COLLECTIONS = ("candidates", "meetings", "topics")
CANDIDATE_OPTIONAL = ("open_key",)
MEETING_OPTIONAL = ("has_open",)


class MeetingsRepository:
    def __init__(self, db: Database):
        self.db = db
        self.candidates = db["candidates"]
        self.meetings = db["meetings"]
        self.topics = db["topics"]

    def ensure_indexes(self) -> None:
        self.candidates.create_index([("open_key", ASCENDING)], unique=True, sparse=True, name="open_subject")
        self.candidates.create_index([("township_id", ASCENDING), ("state", ASCENDING), ("created_at", ASCENDING)],
                                     name="township_state_created")
        self.candidates.create_index([("township_id", ASCENDING), ("cases", ASCENDING)], name="township_cases")
        self.candidates.create_index([("township_id", ASCENDING), ("subject.kind", ASCENDING),
                                      ("subject.id", ASCENDING)], name="township_subject")
        self.meetings.create_index([("township_id", ASCENDING), ("starts_at", DESCENDING)], name="township_starts")
        self.meetings.create_index([("township_id", ASCENDING), ("attendee_actors", ASCENDING)],
                                   name="township_attendee")
        self.meetings.create_index([("township_id", ASCENDING), ("followed", ASCENDING)], name="township_followed")
        self.meetings.create_index([("township_id", ASCENDING), ("has_open", ASCENDING)], sparse=True,
                                   name="township_has_open")
        self.topics.create_index([("township_id", ASCENDING), ("village", ASCENDING), ("proposed_at", DESCENDING)],
                                 name="township_village_proposed")
        self.topics.create_index([("township_id", ASCENDING), ("proposed_at", DESCENDING)], name="township_proposed")

    # candidates ------------------------------------------------------------------------------------------------
    def insert_candidate(self, cand: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Store a new candidate; None if its id exists (a redelivery). Raises ``DuplicateKeyError`` on
        ``open_key`` when the subject already has an open candidate (the caller merges)."""
        return store.insert(self.candidates, cand, events, CANDIDATE_OPTIONAL)

    def save_candidate(self, cand: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        return store.save(self.candidates, cand, events, CANDIDATE_OPTIONAL)

    def get_candidate(self, township_id: str, candidate_id: str) -> dict[str, Any] | None:
        return self.candidates.find_one({"_id": candidate_id, "township_id": township_id})

    def open_candidate_of(self, township_id: str, subject: dict[str, str]) -> dict[str, Any] | None:
        return self.candidates.find_one({"open_key": f"{township_id}|{subject['kind']}:{subject['id']}"})

    def candidates_of_subject(self, township_id: str, subject: dict[str, str]) -> list[dict[str, Any]]:
        return list(self.candidates.find({"township_id": township_id, "subject.kind": subject["kind"],
                                          "subject.id": subject["id"]}))

    def candidates_of_case(self, township_id: str, case_id: str) -> list[dict[str, Any]]:
        return list(self.candidates.find({"township_id": township_id, "cases": case_id}))

    def list_candidates(self, township_id: str, state: str, limit: int) -> list[dict[str, Any]]:
        return list(self.candidates.find({"township_id": township_id, "state": state})
                    .sort("created_at", ASCENDING).limit(limit))

    def candidates_by_ids(self, township_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {c["_id"]: c for c in self.candidates.find({"_id": {"$in": ids}, "township_id": township_id})}

    # meetings --------------------------------------------------------------------------------------------------
    @staticmethod
    def _flag(meeting: dict[str, Any]) -> dict[str, Any]:
        meeting["has_open"] = True if meeting.get("followed") else None
        return meeting

    def insert_meeting(self, meeting: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any] | None:
        return store.insert(self.meetings, self._flag(meeting), events, MEETING_OPTIONAL)

    def save_meeting(self, meeting: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        return store.save(self.meetings, self._flag(meeting), events, MEETING_OPTIONAL)

    def get_meeting(self, township_id: str, meeting_id: str) -> dict[str, Any] | None:
        return self.meetings.find_one({"_id": meeting_id, "township_id": township_id})

    def list_meetings(self, township_id: str, attendee: str | None, status: str | None,
                      limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"township_id": township_id}
        if attendee is not None:
            query["attendee_actors"] = attendee
        if status is not None:
            query["status"] = status
        return list(self.meetings.find(query, {"outbox": 0}).sort("starts_at", DESCENDING).limit(limit))

    def meetings_with_open_decisions(self, township_id: str) -> list[dict[str, Any]]:
        return list(self.meetings.find({"township_id": township_id, "has_open": True}, {"outbox": 0}))

    def meetings_following(self, township_id: str, subject_key: str) -> list[dict[str, Any]]:
        return list(self.meetings.find({"township_id": township_id, "followed": subject_key}))

    # topics ----------------------------------------------------------------------------------------------------
    def insert_topic(self, topic: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any] | None:
        try:
            return store.insert(self.topics, topic, events)
        except DuplicateKeyError:
            return None

    def save_topic(self, topic: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        return store.save(self.topics, topic, events)

    def get_topic(self, township_id: str, topic_id: str) -> dict[str, Any] | None:
        return self.topics.find_one({"_id": topic_id, "township_id": township_id})

    def list_topics(self, township_id: str, village: str | None, limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"township_id": township_id}
        if village is not None:
            query["village"] = village
        return list(self.topics.find(query, {"outbox": 0}).sort("proposed_at", DESCENDING).limit(limit))
