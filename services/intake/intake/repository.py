"""Intake's documents in MongoDB: cases (one per demand), counters, and the township's reference data.

Every document carries ``township_id`` and every query filters on it first. Every query runs on an index
(the MongoDB-compatible server used in development scans slowly and does not push ``limit`` into index scans),
so listings page over ``seq``, a per-township sequence, in bounded windows; see
docs/decisions/0004-paging-by-sequence-windows.md.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Iterable

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from .domain import ReferenceData

LIST_INDEXES = {  # filter field -> index serving listings filtered on it (first present wins)
    "village": "township_village_seq",
    "category": "township_category_seq",
    "status": "township_status_seq",
    "channel": "township_channel_seq",
}
REFERENCE_TTL_S = 30.0


class IdempotencyKeyTaken(Exception):
    """Another request stored a case under the same idempotency key first."""


class DemandRepository:
    def __init__(self, db: Database):
        self.db = db
        self.cases = db["cases"]
        self.counters = db["counters"]
        self.townships = db["townships"]
        self.villages = db["villages"]
        self.categories = db["categories"]
        self.limits = db["submission_limits"]
        self._reference: dict[str, tuple[float, ReferenceData | None]] = {}

    def ensure_indexes(self) -> None:
        c = self.cases
        c.create_index([("township_id", ASCENDING), ("seq", DESCENDING)], unique=True, name="township_seq")
        for field, name in LIST_INDEXES.items():
            c.create_index([("township_id", ASCENDING), (field, ASCENDING), ("seq", DESCENDING)], name=name)
        # Every case has a key (intake makes one when the caller gave none): a partial index would not be used
        # by the MongoDB-compatible server, which then scans the collection on every submission.
        c.create_index([("township_id", ASCENDING), ("idempotency_key", ASCENDING)], unique=True,
                       name="township_idempotency_key")
        c.create_index([("township_id", ASCENDING), ("village", ASCENDING), ("category", ASCENDING),
                        ("received_at", DESCENDING)], name="duplicate_candidates")
        c.create_index([("township_id", ASCENDING), ("case_number", ASCENDING)], name="township_case_number")
        for coll in (self.villages, self.categories):
            coll.create_index([("township_id", ASCENDING), ("code", ASCENDING)], unique=True, name="township_code")
        # a counter nobody submitted under for a whole window is empty: the server may drop it
        self.limits.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at")

    # reference data -------------------------------------------------------------------------------------
    def save_township(self, township: dict[str, Any], villages: Iterable[dict[str, Any]],
                      categories: Iterable[dict[str, Any]]) -> None:
        """Create or update a township with its villages and catalogue (idempotent: the demo loader reruns it)."""
        tid = township["id"]
        self.townships.replace_one({"_id": tid}, {"_id": tid, **township}, upsert=True)
        self.counters.update_one({"_id": f"cases:{tid}"}, {"$setOnInsert": {"seq": 0, "day": {}}}, upsert=True)
        for coll, items in ((self.villages, villages), (self.categories, categories)):
            for item in items:
                coll.replace_one({"_id": f"{tid}:{item['code']}"},
                                 {"_id": f"{tid}:{item['code']}", "township_id": tid, **item}, upsert=True)
        self._reference.pop(tid, None)

    def reference(self, township_id: str) -> ReferenceData | None:
        """The township's codes, cached briefly: they change rarely and every submission needs them."""
        cached = self._reference.get(township_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        township = self.townships.find_one({"_id": township_id})
        ref = None
        if township:
            villages = frozenset(v["code"] for v in self.villages.find({"township_id": township_id}, {"code": 1}))
            urgency = {c["code"]: c["default_urgency"]
                       for c in self.categories.find({"township_id": township_id}, {"code": 1, "default_urgency": 1})}
            ref = ReferenceData(township_id, township["prefix"], township.get("timezone", "Asia/Shanghai"),
                                villages, urgency, township.get("area_code"))
        self._reference[township_id] = (time.monotonic() + REFERENCE_TTL_S, ref)
        return ref

    def list_villages(self, township_id: str) -> list[dict[str, Any]]:
        return sorted(self.villages.find({"township_id": township_id}, {"_id": 0, "township_id": 0}),
                      key=lambda v: v["code"])

    def list_categories(self, township_id: str) -> list[dict[str, Any]]:
        return sorted(self.categories.find({"township_id": township_id}, {"_id": 0, "township_id": 0}),
                      key=lambda c: c["code"])

    # submission limits (decision 55) -------------------------------------------------------------------
    def take_slot(self, counter: str, township_id: str, now: datetime, count: int, window: timedelta,
                  slot: str) -> datetime | None:
        """Count one demand (``slot``) under ``counter`` if fewer than ``count`` were counted since ``now - window``;
        None when counted, else the time of the oldest counted one (the caller says when to retry).

        One conditional update, atomic on the server: the counter keeps its latest ``count`` entries, and takes a
        new one only while it holds fewer or its oldest has left the window. When the condition fails the upsert
        tries to insert a counter that exists: the duplicate key is the refusal, once the counter confirms it is full."""
        condition = {"_id": counter, "$or": [{f"entries.{count - 1}": {"$exists": False}},
                                             {"entries.0.at": {"$lte": now - window}}]}
        change = {"$push": {"entries": {"$each": [{"at": now, "slot": slot}], "$sort": {"at": 1},
                                        "$slice": -count}},
                  "$set": {"township_id": township_id, "expires_at": now + window}}
        for _ in range(5):
            try:
                self.limits.update_one(condition, change, upsert=True)
                return None
            except DuplicateKeyError:
                entries = (self.limits.find_one({"_id": counter}, {"entries": 1}) or {}).get("entries") or []
                if len(entries) >= count and entries[0]["at"] > now - window:
                    return entries[0]["at"]
            # two first demands raced to create the counter, or it expired meanwhile: count again
        raise RuntimeError(f"could not count a demand under {counter}")

    def release_slot(self, counter: str, slot: str) -> None:
        """Uncount a demand that was not stored after all (a concurrent retry stored it first)."""
        self.limits.update_one({"_id": counter}, {"$pull": {"entries": {"slot": slot}}})

    # cases ----------------------------------------------------------------------------------------------
    def next_numbers(self, township_id: str, local_day: str) -> tuple[int, int]:
        """Allocate ``(seq, day_seq)``: the township-wide sequence and the sequence within the local day.

        The counter is created first (an insert that may lose a race harmlessly) and then only incremented, never
        upserted: the compatible server can apply the increment of an upsert that lost a race and still answer
        None, which left a gap in the numbers when the caller retried."""
        key = f"cases:{township_id}"
        increment = {"$inc": {"seq": 1, f"day.{local_day}": 1}}
        doc = self.counters.find_one_and_update({"_id": key}, increment, return_document=ReturnDocument.AFTER)
        if doc is None:
            try:
                self.counters.insert_one({"_id": key, "seq": 0, "day": {}})
            except DuplicateKeyError:
                pass  # another request created it meanwhile
            doc = self.counters.find_one_and_update({"_id": key}, increment, return_document=ReturnDocument.AFTER)
        if doc is None:
            raise RuntimeError(f"could not allocate a case number for {township_id}")
        return doc["seq"], doc["day"][local_day]

    def last_seq(self, township_id: str) -> int:
        doc = self.counters.find_one({"_id": f"cases:{township_id}"}, {"seq": 1})
        return doc["seq"] if doc else 0

    def insert_case(self, doc: dict[str, Any]) -> None:
        """Store a new case. Raises :class:`IdempotencyKeyTaken` if its idempotency key is already used."""
        try:
            self.cases.insert_one(doc)
        except DuplicateKeyError as exc:
            if "idempotency_key" in str(exc):
                raise IdempotencyKeyTaken() from None
            raise

    def apply_status(self, township_id: str, case_id: str, case_number: str, status: str, outcome: str | None,
                     since: datetime, seq: int) -> bool:
        """Show dispatch's status ``seq`` of a case unless a later one is shown already; True if applied."""
        done = self.cases.update_one(
            {"_id": case_id, "township_id": township_id, "case_number": case_number,
             "status_seq": {"$not": {"$gte": seq}}},
            {"$set": {"status": status, "outcome": outcome, "status_since": since, "status_seq": seq}})
        return done.modified_count == 1

    def by_idempotency_key(self, township_id: str, key: str) -> dict[str, Any] | None:
        return self.cases.find_one({"township_id": township_id, "idempotency_key": key})

    def get_case(self, township_id: str, case_id: str) -> dict[str, Any] | None:
        return self.cases.find_one({"_id": case_id, "township_id": township_id})

    def case_by_number(self, township_id: str, case_number: str) -> dict[str, Any] | None:
        return self.cases.find_one({"township_id": township_id, "case_number": case_number})

    def duplicate_candidates(self, township_id: str, village: str, category: str,
                             since: datetime) -> list[dict[str, Any]]:
        return list(self.cases.find(
            {"township_id": township_id, "village": village, "category": category, "received_at": {"$gte": since}},
            {"reporter": 1, "location": 1, "status": 1, "duplicate_of": 1, "received_at": 1, "village": 1,
             "category": 1},
        ))

    def list_cases(self, township_id: str, filters: dict[str, Any], limit: int,
                   before_seq: int | None = None, received_from: datetime | None = None,
                   received_to: datetime | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first. Returns the page and the cursor of the next page (None at the end).

        Scans ``seq`` windows downwards from ``before_seq``, each four times the last, so every query reads a
        bounded range of one index; stops when the page is full or the window reaches ``received_from``.
        Only the most selective filter goes to the server (with several, its planner may pick a wide index,
        and hints cost a collection-sized overhead there); the others are applied to the window's documents."""
        indexed = next((f for f in LIST_INDEXES if f in filters), None)
        query: dict[str, Any] = {"township_id": township_id}
        if indexed:
            query[indexed] = filters[indexed]
        rest = {k: v for k, v in filters.items() if k != indexed}

        def wanted(doc: dict[str, Any]) -> bool:
            return (all(doc.get(k) == v for k, v in rest.items())
                    and (received_from is None or doc["received_at"] >= received_from)
                    and (received_to is None or doc["received_at"] <= received_to))

        hi = before_seq if before_seq is not None else self.last_seq(township_id) + 1
        if received_to is not None:
            hi = min(hi, self._first_seq_after(township_id, received_to, hi))
        window = max(limit * 2, 32)
        items: list[dict[str, Any]] = []
        while hi > 1 and len(items) < limit:
            lo = max(1, hi - window)
            batch = self.cases.find({**query, "seq": {"$gte": lo, "$lt": hi}}).sort("seq", DESCENDING)
            items.extend(doc for doc in batch if wanted(doc))
            if received_from and self._older_than(township_id, lo, received_from):
                break
            hi, window = lo, window * 4
        items = items[:limit]
        more = len(items) == limit and items[-1]["seq"] > 1
        return items, (items[-1]["seq"] if more else None)

    def _first_seq_after(self, township_id: str, moment: datetime, hi: int) -> int:
        """About the first ``seq`` received after ``moment`` (binary search over point lookups), so a listing
        that ends in the past starts its windows there instead of walking down from the newest case."""
        lo = 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self._older_than(township_id, mid, moment + timedelta(microseconds=1)):
                lo = mid + 1
            else:
                hi = mid
        return hi + 64

    def _older_than(self, township_id: str, seq: int, moment: datetime) -> bool:
        """Whether cases around ``seq`` were received before ``moment`` (seq grows with time)."""
        probe = self.cases.find_one({"township_id": township_id, "seq": {"$gte": seq, "$lt": seq + 64}},
                                    {"received_at": 1})
        return probe is not None and probe["received_at"] < moment
