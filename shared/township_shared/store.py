"""Versioned documents that carry their own events: the one way a service writes a fact and its announcement.

A document of this kind has ``rev`` (bumped by every save) and, while events wait to be published, an outbox
(:mod:`township_shared.outbox`). Invariant: a save succeeds only if nobody saved the document since it was read
(``{"_id", "rev"}`` matches), and the events the change produced are written by the same single-document update,
so a fact is never stored without its events nor announced without being stored. A lost race raises
:class:`Stale`; :func:`mutate` reloads and applies the change again, so a rule always runs on the latest state.

The outbox is stamped with the wall clock, not the service's injectable clock: the sweep's grace is real elapsed
time since the write (a test that moves a service's clock must not make its events look overdue or never due).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from . import outbox
from .clock import utcnow
from .errors import Conflict, NotFound

NOT_STORED = ("_id", "rev", "outbox", "outbox_since", "outbox_rev")
RETRIES = 8

R = TypeVar("R")


class Stale(Exception):
    """The document changed since it was read; reload and retry."""


def _fields(doc: dict[str, Any], optional: Iterable[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """``$set`` and ``$unset`` parts: an ``optional`` field that is absent or None is removed, not stored as null,
    so sparse indexes hold only live entries."""
    optional = tuple(optional)
    fields = {k: v for k, v in doc.items() if k not in NOT_STORED and not (k in optional and v is None)}
    unset = {k: "" for k in optional if doc.get(k) is None}
    return fields, unset


def insert(coll: Collection, doc: dict[str, Any], events: list[dict[str, Any]],
           optional: Iterable[str] = ()) -> dict[str, Any] | None:
    """Store a new document at ``rev`` 1 with ``events`` pending; return it as stored (no read back), or None
    if a document with its ``_id`` exists (a redelivery, a retry)."""
    fields, _ = _fields(doc, optional)
    stored = outbox.attach({"_id": doc["_id"], **fields, "rev": 1}, events, utcnow())
    try:
        coll.insert_one(stored)
    except DuplicateKeyError as exc:
        if (exc.details or {}).get("keyPattern", {"_id": 1}) != {"_id": 1}:
            raise
        return None
    return stored


def save(coll: Collection, doc: dict[str, Any], events: list[dict[str, Any]],
         optional: Iterable[str] = ()) -> dict[str, Any]:
    """Write a changed document read at ``doc["rev"]`` with ``events`` appended to its outbox, and return it as
    stored; raise :class:`Stale` if it was saved meanwhile."""
    fields, unset = _fields(doc, optional)
    update: dict[str, Any] = {"$set": fields, "$inc": {"rev": 1}}
    if unset:
        update["$unset"] = unset
    outbox.push(update, events, utcnow())
    # update_one and a read by _id, not find_one_and_update: on SecantusDB 0.7.0b3 findAndModify costs about
    # 5 us per document of the collection (17 ms at 3,000 documents), an update and a point read under 1.5 ms
    done = coll.update_one({"_id": doc["_id"], "rev": doc["rev"]}, update)
    if done.matched_count == 0:
        raise Stale(doc["_id"])
    saved = coll.find_one({"_id": doc["_id"]})
    if saved is None:  # documents of this kind are never deleted; keep the contract anyway
        raise Stale(doc["_id"])
    return saved


Change = Callable[[dict[str, Any]], tuple[list[dict[str, Any]], R]]


def mutate(load: Callable[[], dict[str, Any] | None], change: Change, store: Callable[..., dict[str, Any]],
           missing: str) -> tuple[dict[str, Any], R]:
    """Load a document, apply ``change(doc) -> (envelopes, result)`` and ``store(doc, envelopes)`` it; on
    :class:`Stale`, start again from a fresh read (up to :data:`RETRIES` times, then a 409 the client may retry).
    A document that is not there is a 404 with ``missing`` as its message."""
    for _ in range(RETRIES):
        doc = load()
        if doc is None:
            raise NotFound(missing)
        events, result = change(doc)
        try:
            return store(doc, events), result
        except Stale:
            continue
    raise Conflict("the document is busy; retry", allowed=[])
