"""Ledger entries written inside the document whose change they record, then moved to the ``ledger`` collection.

The outbox of :mod:`township_shared.outbox`, for ledger entries: a pool's budget change or a project's payment and
its entries are one single-document update (``journal``: the entries, ``journal_since``: when the oldest became
pending, ``journal_rev``: bumped on every push, never reset), so a movement is never recorded without its entries
nor the entries without the movement, with no multi-document transaction (about 14 contended allocations a second
on SecantusDB, against about 500 with conditional updates: decision 65). Right after the write the service copies
the entries into ``ledger`` (insert by their deterministic ids: a second copy is a duplicate key, ignored) and
clears them; a sweep copies what a crash left pending.

Reports read ``ledger`` after moving whatever is pending in the township (:func:`flush_pending`), so they never
miss an entry.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

log = logging.getLogger(__name__)
DUPLICATE_KEY = 11000


def attach(doc: dict[str, Any], entries: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """``doc`` carrying ``entries`` as pending, for an insert."""
    if entries:
        doc.update(journal=list(entries), journal_since=now, journal_rev=1)
    return doc


def push(update: dict[str, Any], entries: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Extend an update document so it also appends ``entries`` to the pending journal."""
    if entries:
        update.setdefault("$push", {})["journal"] = {"$each": list(entries)}
        update.setdefault("$min", {})["journal_since"] = now
        update.setdefault("$inc", {})["journal_rev"] = 1
    return update


def ensure_indexes(collection: Collection) -> None:
    collection.create_index([("journal_since", ASCENDING)], sparse=True, name="journal_pending")


def store(ledger: Collection, entries: Iterable[dict[str, Any]]) -> None:
    """Insert entries into the ledger; one already there (same id) is left as it is."""
    entries = list(entries)
    if not entries:
        return
    try:
        ledger.insert_many(entries, ordered=False)
    except BulkWriteError as exc:
        other = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
        if other:
            raise


def flush(collection: Collection, ledger: Collection, doc: dict[str, Any] | None) -> int:
    """Move a document's pending entries into the ledger and clear them (if nothing was pushed since: the same
    revision rule as the outbox's); returns how many were moved."""
    if not doc or "journal_since" not in doc:
        return 0
    entries = doc.get("journal") or []
    store(ledger, entries)
    done = collection.update_one({"_id": doc["_id"], "journal_rev": doc.get("journal_rev", 1)},
                                 {"$unset": {"journal": "", "journal_since": ""}})
    if done.matched_count == 0 and entries:
        collection.update_one({"_id": doc["_id"]},
                              {"$pull": {"journal": {"_id": {"$in": [e["_id"] for e in entries]}}}})
    return len(entries)


def pending(collection: Collection, query: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
    return list(collection.find({"journal_since": {"$exists": True}, **query},
                                {"journal": 1, "journal_rev": 1, "journal_since": 1}).limit(limit))


def sweep(collection: Collection, ledger: Collection, older_than: datetime, limit: int = 200) -> int:
    """Move the entries pending since before ``older_than`` (a crash between a write and its flush)."""
    moved = 0
    for doc in collection.find({"journal_since": {"$lte": older_than}},
                               {"journal": 1, "journal_rev": 1, "journal_since": 1}).limit(limit):
        moved += flush(collection, ledger, doc)
    return moved


def flush_pending(collection: Collection, ledger: Collection, township_id: str) -> int:
    """Move every entry pending in the township's documents of ``collection`` (before a report reads the ledger)."""
    return sum(flush(collection, ledger, doc) for doc in pending(collection, {"township_id": township_id}))


