"""Identity's documents: tokens (by their hash), the audit trail (append-only) and the townships of each county."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from township_shared import store
from township_shared.schemas.bounds import EARLIEST

from .domain import after_cursor

OUTBOX_COLLECTIONS = ("tokens",)  # the documents whose events the relay publishes
FIRST_WINDOW = timedelta(hours=1)
# what ``resolve_token`` reads of a token: never more than the principal needs
PRINCIPAL_FIELDS = {"token_id": 1, "role": 1, "actor": 1, "township_id": 1, "county_id": 1, "townships": 1,
                    "villages": 1, "organisation": 1, "revoked_at": 1}


class IdentityRepository:
    def __init__(self, db: Database):
        self.db = db
        self.tokens = db["tokens"]
        self.audit = db["audit"]
        self.townships = db["townships"]
        self.sessions = db["sessions"]

    def ensure_indexes(self) -> None:
        self.tokens.create_index([("token_id", ASCENDING)], unique=True, name="token_id")
        self.tokens.create_index([("township_id", ASCENDING), ("role", ASCENDING)], name="township_role")
        self.tokens.create_index([("township_id", ASCENDING), ("actor", ASCENDING)], name="township_actor")
        self.audit.create_index([("township_id", ASCENDING), ("time", ASCENDING)], name="township_time")
        self.audit.create_index([("township_id", ASCENDING), ("actor", ASCENDING), ("time", ASCENDING)],
                                name="township_actor_time")
        self.audit.create_index([("township_id", ASCENDING), ("type", ASCENDING), ("time", ASCENDING)],
                                name="township_type_time")
        self.audit.create_index([("township_id", ASCENDING), ("correlation_id", ASCENDING)], name="township_case")
        self.townships.create_index([("county_id", ASCENDING)], name="county")
        self.sessions.create_index([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0)

    # tokens --------------------------------------------------------------------------------------------------
    def principal_fields(self, token_hash: str) -> dict[str, Any] | None:
        """The stored token with this hash (what a principal is made of), or None: one point read."""
        return self.tokens.find_one({"_id": token_hash}, PRINCIPAL_FIELDS)

    def insert_token(self, doc: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Store a new token with its ``token_issued`` pending; None if its hash is stored already."""
        return store.insert(self.tokens, doc, events)

    def insert_tokens(self, docs: list[dict[str, Any]]) -> int:
        """Store those of ``docs`` whose hash is not stored yet, announcing nothing (loaded data, such as the demo
        county's, is not issued); returns how many were new."""
        known = {d["_id"] for d in self.tokens.find({"_id": {"$in": [d["_id"] for d in docs]}}, {"_id": 1})}
        new = [{**d, "rev": 1} for d in docs if d["_id"] not in known]
        inserted = 0
        for doc in new:  # one by one: a concurrent loader's insert is a duplicate, not a failed batch
            try:
                self.tokens.insert_one(doc)
                inserted += 1
            except DuplicateKeyError:
                pass
        return inserted

    # console sessions (decision 90) -----------------------------------------------------------------------------
    def token_document(self, token_hash: str) -> dict[str, Any] | None:
        return self.tokens.find_one({"_id": token_hash}, {**PRINCIPAL_FIELDS, "_id": 1})

    def insert_session(self, doc: dict[str, Any]) -> None:
        self.sessions.insert_one(doc)

    def session(self, session_hash: str) -> dict[str, Any] | None:
        return self.sessions.find_one({"_id": session_hash})

    def close_session(self, session_hash: str, now: datetime) -> bool:
        return self.sessions.update_one({"_id": session_hash, "closed_at": None},
                                        {"$set": {"closed_at": now}}).modified_count == 1

    def token_of_township(self, township_id: str, token_id: str) -> dict[str, Any] | None:
        return self.tokens.find_one({"token_id": token_id, "township_id": township_id})

    def token_by_id(self, token_id: str) -> dict[str, Any] | None:
        return self.tokens.find_one({"token_id": token_id})

    def save_token(self, doc: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        return store.save(self.tokens, doc, events)

    def list_tokens(self, township_id: str, role: str | None = None, actor: str | None = None,
                    active: bool | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first. A township holds a few hundred tokens: the narrowest of its indexes, the rest here."""
        query: dict[str, Any] = {"township_id": township_id}
        if actor is not None:
            query["actor"] = actor
        elif role is not None:
            query["role"] = role
        found = [d for d in self.tokens.find(query, {"outbox": 0})
                 if (role is None or d["role"] == role)
                 and (active is None or (d.get("revoked_at") is None) == active)]
        return sorted(found, key=lambda d: (d["issued_at"], d["token_id"]), reverse=True)[:limit]

    # audit trail ---------------------------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> bool:
        """Append an entry (keyed by its event's id); False if that event is recorded already."""
        try:
            self.audit.insert_one(entry)
        except DuplicateKeyError:
            return False
        return True

    def list_audit(self, township_id: str, filters: dict[str, str], limit: int, now: datetime,
                   cursor: tuple[datetime, str] | None = None) -> tuple[list[dict[str, Any]], bool]:
        """Newest first (time, then id): the page and whether more follow.

        A case's entries are few and read at once. Otherwise time windows are read downwards from the cursor
        (or from now, after the few entries dated later), each four times the last, on the index of the most
        selective filter, until the page is full or the window passes 1970: every query reads a bounded range
        (decision 4). The other filters are applied here."""
        query: dict[str, Any] = {"township_id": township_id}
        indexed = next((f for f in ("case", "actor", "type") if f in filters), None)
        if indexed:
            query["correlation_id" if indexed == "case" else indexed] = filters[indexed]

        def wanted(doc: dict[str, Any]) -> bool:
            return (after_cursor(doc, cursor)
                    and all(doc.get("correlation_id" if k == "case" else k) == v for k, v in filters.items()))

        def newest_first(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
            return sorted((d for d in docs if wanted(d)), key=lambda d: (d["time"], d["_id"]), reverse=True)

        if indexed == "case":
            items = newest_first(self.audit.find(query))
            return items[:limit], len(items) > limit
        items: list[dict[str, Any]] = []
        if cursor is None:
            hi = now
            items.extend(newest_first(self.audit.find({**query, "time": {"$gte": hi}})))
        else:
            hi = cursor[0]
            items.extend(newest_first(self.audit.find({**query, "time": cursor[0]})))
        window = FIRST_WINDOW
        while len(items) <= limit and hi > EARLIEST:
            lo = max(hi - window, EARLIEST - timedelta(days=1))
            items.extend(newest_first(self.audit.find({**query, "time": {"$gte": lo, "$lt": hi}})))
            hi, window = lo, window * 4
        return items[:limit], len(items) > limit

    # townships -----------------------------------------------------------------------------------------------
    def save_township(self, township_id: str, county_id: str | None, villages: Iterable[str]) -> None:
        self.townships.update_one({"_id": township_id},
                                  {"$set": {"county_id": county_id, "villages": list(villages)}}, upsert=True)

    def get_township(self, township_id: str) -> dict[str, Any] | None:
        return self.townships.find_one({"_id": township_id})

    def townships_of_county(self, county_id: str) -> list[str]:
        return sorted(d["_id"] for d in self.townships.find({"county_id": county_id}, {"_id": 1}))
