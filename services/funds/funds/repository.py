"""Funds' documents: pools, projects, the ledger, dividend distributions and the townships' villages.

- A **pool** is changed only by atomic conditional updates, never by a read-modify-write: an allocation holds its
  part with ``{available_fen: {$gte: amount}}`` in the update's filter, so however many allocations race, the pool
  never commits more than its budget (decision 65). Each hold or credit is marked ``pending.<op>`` until the
  project it is for records it (then :meth:`settle`) or gives it up (then :meth:`undo`), so a retried step is
  applied once. Budget changes and dividends are recorded in ``changes`` by id, in the same update.
- A **project** is saved whole, conditional on its ``rev`` (:mod:`township_shared.store`'s rule), with its events
  (outbox) and its ledger entries (:mod:`funds.journal`) in the same update.
- The **ledger** is insert-only: entries are never updated or deleted.

Every query filters on ``township_id`` first and runs on an index.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Iterable

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from township_shared import outbox, store
from township_shared.clock import utcnow
from township_shared.errors import Conflict
from township_shared.store import Stale

from . import journal, ledger

OUTBOX_COLLECTIONS = ("pools", "projects")
NOT_STORED = ("_id", "rev", "outbox", "outbox_since", "outbox_rev", "journal", "journal_since", "journal_rev")
OPTIONAL = ("inflight", "attention_since")  # absent rather than null: the sparse index holds only live ones
SETTINGS_TTL_S = 30.0


def pool_id(township_id: str, code: str) -> str:
    return f"{township_id}:{code}"


class FundsRepository:
    def __init__(self, db: Database):
        self.db = db
        self.pools = db["pools"]
        self.projects = db["projects"]
        self.ledger = db["ledger"]
        self.distributions = db["distributions"]
        self.townships = db["townships"]
        self._villages: dict[str, tuple[float, frozenset[str] | None]] = {}

    def ensure_indexes(self) -> None:
        self.pools.create_index([("township_id", ASCENDING), ("year", ASCENDING)], name="township_year")
        self.pools.create_index([("pending_n", ASCENDING)], name="pending")
        self.projects.create_index([("township_id", ASCENDING), ("proposed_at", DESCENDING)],
                                   name="township_proposed")
        self.projects.create_index([("township_id", ASCENDING), ("village", ASCENDING), ("proposed_at", DESCENDING)],
                                   name="township_village_proposed")
        self.projects.create_index([("township_id", ASCENDING), ("proposer_key", ASCENDING),
                                    ("proposed_at", DESCENDING)], name="township_proposer_proposed")
        self.projects.create_index([("township_id", ASCENDING), ("status", ASCENDING), ("proposed_at", DESCENDING)],
                                   name="township_status_proposed")
        self.projects.create_index([("attention_since", ASCENDING)], sparse=True, name="attention")
        for coll in (self.pools, self.projects):
            journal.ensure_indexes(coll)
        self.ledger.create_index([("township_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
                                 name="township_at")
        self.ledger.create_index([("township_id", ASCENDING), ("pool", ASCENDING), ("at", DESCENDING)],
                                 name="township_pool_at")
        self.ledger.create_index([("township_id", ASCENDING), ("project", ASCENDING), ("at", DESCENDING)],
                                 name="township_project_at")
        self.ledger.create_index([("township_id", ASCENDING), ("year", ASCENDING)], name="township_year")
        self.ledger.create_index([("op", ASCENDING)], name="movement")
        self.distributions.create_index([("township_id", ASCENDING), ("village", ASCENDING), ("at", DESCENDING)],
                                        name="township_village_at")

    # reference data ----------------------------------------------------------------------------------------------
    def save_township(self, township_id: str, villages: Iterable[str]) -> None:
        self.townships.replace_one({"_id": township_id}, {"_id": township_id, "villages": sorted(villages)},
                                   upsert=True)
        self._villages.pop(township_id, None)

    def villages(self, township_id: str) -> frozenset[str] | None:
        """The township's village codes (cached for a while), None for a township funds does not know."""
        cached = self._villages.get(township_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        doc = self.townships.find_one({"_id": township_id})
        found = frozenset(doc["villages"]) if doc else None
        self._villages[township_id] = (time.monotonic() + SETTINGS_TTL_S, found)
        return found

    # pools -------------------------------------------------------------------------------------------------------
    def insert_pool(self, doc: dict[str, Any], entries: list[dict], events: list[dict]) -> dict[str, Any]:
        now = utcnow()
        stored = outbox.attach(journal.attach({**doc, "rev": 1}, entries, now), events, now)
        try:
            self.pools.insert_one(stored)
        except DuplicateKeyError:
            raise Conflict(f"the township has a pool {doc['code']!r} already", allowed=[]) from None
        return stored

    def get_pool(self, township_id: str, code: str) -> dict[str, Any] | None:
        return self.pools.find_one({"_id": pool_id(township_id, code)})

    def pools_of(self, township_id: str, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = [pool_id(township_id, c) for c in codes]
        return {p["code"]: p for p in self.pools.find({"_id": {"$in": ids}})}

    def list_pools(self, township_id: str, year: int | None = None, source: str | None = None) -> list[dict]:
        query: dict[str, Any] = {"township_id": township_id}
        if year is not None:
            query["year"] = year
        if source is not None:
            query["source"] = source
        return sorted(self.pools.find(query, {"journal": 0, "outbox": 0}), key=lambda p: (p["year"], p["code"]))

    def hold(self, township_id: str, code: str, attempt: str, amount: int, project: str, now: datetime) -> bool:
        """Take ``amount`` from the pool's available money for one attempt at an allocation, if it has that much;
        True if held (now, or by an earlier try of the same attempt). The mark ``pending.<attempt>`` stays until
        the project records the attempt (:meth:`settle`) or will never record it (:meth:`undo`)."""
        done = self.pools.update_one(
            {"_id": pool_id(township_id, code), "available_fen": {"$gte": amount},
             f"pending.{attempt}": {"$exists": False}},
            {"$inc": {"available_fen": -amount, "pending_n": 1},
             "$set": {f"pending.{attempt}": {"amount_fen": amount, "project": project, "at": now}}})
        if done.modified_count:
            return True
        return self.pools.count_documents({"_id": pool_id(township_id, code),
                                           f"pending.{attempt}": {"$exists": True}}) > 0

    def settle(self, township_id: str, code: str, attempt: str) -> None:
        """The project recorded the attempt: its hold stands and needs no mark any more."""
        self.pools.update_one({"_id": pool_id(township_id, code), f"pending.{attempt}": {"$exists": True}},
                              {"$unset": {f"pending.{attempt}": ""}, "$inc": {"pending_n": -1}})

    def undo(self, township_id: str, code: str, attempt: str) -> None:
        """Give back what an attempt the project will never record held (once, whoever else tries too)."""
        doc = self.pools.find_one({"_id": pool_id(township_id, code)}, {f"pending.{attempt}": 1})
        mark = ((doc or {}).get("pending") or {}).get(attempt)
        if mark is None:
            return
        self.pools.update_one(
            {"_id": pool_id(township_id, code), f"pending.{attempt}.amount_fen": mark["amount_fen"]},
            {"$unset": {f"pending.{attempt}": ""}, "$inc": {"available_fen": mark["amount_fen"], "pending_n": -1}})

    def credit(self, township_id: str, code: str, op: str, amount: int) -> None:
        """Give ``amount`` back to the pool for ``op`` (a release or a reversed allocation), once ever: ``credited``
        keeps every such op (one or two per project)."""
        self.pools.update_one({"_id": pool_id(township_id, code), "credited": {"$ne": op}},
                              {"$inc": {"available_fen": amount}, "$push": {"credited": op}})

    def change_pool(self, township_id: str, code: str, record: dict[str, Any], delta: int, entries: list[dict],
                    events: list[dict]) -> bool:
        """Apply a budget change, its reversal or a distribution (``delta`` to the available money, and to the
        budget unless it is a distribution) once: refused (False) when the pool lacks ``-delta`` available or
        ``record['id']`` was applied already."""
        query: dict[str, Any] = {"_id": pool_id(township_id, code), "changes.id": {"$ne": record["id"]}}
        if delta < 0:
            query["available_fen"] = {"$gte": -delta}
        inc = {"available_fen": delta, "rev": 1}
        if record["change"] != "dividend":
            inc["budget_fen"] = delta
        update: dict[str, Any] = {"$inc": inc, "$push": {"changes": record}}
        now = utcnow()
        journal.push(update, entries, now)
        outbox.push(update, events, now)
        return self.pools.update_one(query, update).modified_count == 1

    def pools_with_pending(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.pools.find({"pending_n": {"$gt": 0}}, {"pending": 1, "township_id": 1, "code": 1})
                    .limit(limit))

    # projects ----------------------------------------------------------------------------------------------------
    def insert_project(self, doc: dict[str, Any], events: list[dict]) -> dict[str, Any] | None:
        """Store a new project with its events; None if one with its id exists (a retried proposal)."""
        return store.insert(self.projects, doc, events, OPTIONAL)

    def get_project(self, township_id: str, project_id: str) -> dict[str, Any] | None:
        return self.projects.find_one({"_id": project_id, "township_id": township_id})

    def save_project(self, doc: dict[str, Any], events: list[dict], entries: list[dict]) -> dict[str, Any]:
        """:func:`township_shared.store.save` with the ledger entries pushed to the journal by the same update."""
        fields = {k: v for k, v in doc.items() if k not in NOT_STORED and not (k in OPTIONAL and v is None)}
        unset = {k: "" for k in OPTIONAL if doc.get(k) is None}
        update: dict[str, Any] = {"$set": fields, "$inc": {"rev": 1}}
        if unset:
            update["$unset"] = unset
        now = utcnow()
        journal.push(update, entries, now)
        outbox.push(update, events, now)
        done = self.projects.update_one({"_id": doc["_id"], "rev": doc["rev"]}, update)
        if done.matched_count == 0:
            raise Stale(doc["_id"])
        saved = self.projects.find_one({"_id": doc["_id"]})
        if saved is None:
            raise Stale(doc["_id"])
        return saved

    def list_projects(self, township_id: str, *, status: str | None = None, villages: Iterable[str] | None = None,
                      proposer_key: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first. ``villages`` (a list) restricts to those villages; ``proposer_key`` to one proposer's."""
        query: dict[str, Any] = {"township_id": township_id}
        if proposer_key is not None:
            query["proposer_key"] = proposer_key
        if villages is not None:
            query["village"] = {"$in": list(villages)}
        if status is not None:
            query["status"] = status
        found = self.projects.find(query, {"journal": 0, "outbox": 0})
        return list(found.sort("proposed_at", DESCENDING).limit(limit))

    def projects_needing_attention(self, older_than: datetime, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.projects.find({"attention_since": {"$lte": older_than}}).limit(limit))

    # ledger ------------------------------------------------------------------------------------------------------
    def flush(self, doc: dict[str, Any] | None, collection: str) -> int:
        return journal.flush(self.db[collection], self.ledger, doc)

    def flush_township(self, township_id: str) -> int:
        return sum(journal.flush_pending(self.db[c], self.ledger, township_id) for c in OUTBOX_COLLECTIONS)

    def sweep_journals(self, older_than: datetime) -> int:
        return sum(journal.sweep(self.db[c], self.ledger, older_than) for c in OUTBOX_COLLECTIONS)

    def movement(self, township_id: str, entry_id: str) -> list[dict[str, Any]]:
        """Every entry of the movement the entry ``entry_id`` belongs to, in order; empty if it is not there."""
        first = self.ledger.find_one({"_id": entry_id, "township_id": township_id})
        if first is None:
            return []
        return sorted(self.ledger.find({"op": first["op"], "township_id": township_id}), key=lambda e: e["_id"])

    def entries(self, township_id: str, *, pool: str | None = None, project: str | None = None,
                before: tuple[datetime, str] | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first, from before ``(at, id)`` if given."""
        query: dict[str, Any] = {"township_id": township_id}
        if pool is not None:
            query["pool"] = pool
        if project is not None:
            query["project"] = project
        if before is not None:
            at, entry_id = before
            query["$or"] = [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": entry_id}}]
        return list(self.ledger.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit))

    def project_entries(self, township_id: str, project_id: str) -> list[dict[str, Any]]:
        return list(self.ledger.find({"township_id": township_id, "project": project_id}))

    def totals(self, township_id: str, year: int | None = None) -> list[dict[str, Any]]:
        """:func:`funds.ledger.totals` of the township's entries (of one year's pools), summed by the database."""
        match: dict[str, Any] = {"township_id": township_id}
        if year is not None:
            match["year"] = year
        group = {"_id": {k: f"${k}" for k in ledger.TOTAL_KEYS}, "amount_fen": {"$sum": "$amount_fen"}}
        return [{**{k: row["_id"].get(k) for k in ledger.TOTAL_KEYS}, "amount_fen": row["amount_fen"]}
                for row in self.ledger.aggregate([{"$match": match}, {"$group": group}])]

    # dividends ---------------------------------------------------------------------------------------------------
    def save_distribution(self, record: dict[str, Any]) -> None:
        self.distributions.replace_one({"_id": record["_id"]}, record, upsert=True)

    def get_distribution(self, township_id: str, distribution_id: str) -> dict[str, Any] | None:
        return self.distributions.find_one({"_id": distribution_id, "township_id": township_id})

    def list_distributions(self, township_id: str, village: str | None, limit: int = 50) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"township_id": township_id}
        if village is not None:
            query["village"] = village
        return list(self.distributions.find(query).sort("at", DESCENDING).limit(limit))
