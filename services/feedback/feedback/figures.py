"""Storage of the assessment figures: one document per township and local day, month and year, folded from events
exactly once, in batches (decision 32, amending decisions 13 and 19).

Collections of feedback's database:

- ``figures`` (days), ``figures_month``, ``figures_year``: ``_id = <township>:<period key>``, the counters under
  ``c.<dimension>.<key>.<counter>``, ``township_id`` and the period keys (a day document also has ``month`` and
  ``year``), a revision ``v`` and ``batches``, the ids of the last :data:`RECENT_BATCHES` batches folded into it.
  Reading any period is one read by ``_id``, whatever the number of cases.
- ``folded_events``, the journal: one entry per counting event ever received, ``_id`` = event id, with the event's
  contributions, ``pending`` until a fold claims it into a ``batch``. Entries are never deleted: an event that
  comes back at any later time meets its ``_id`` and is not journalled again (the markers of decision 19,
  ``{_id, township_id, day}``, are folded entries too).
- ``figures_batches``: one document per batch, ``open`` until every period document it touches took it, then
  ``folded_at`` (the fold's clock when its sums were visible) and ``events``.

A fold: open a batch; claim every pending entry into it (one conditional write per entry, so each entry is in one
batch); add the batch's sums to each period document it touches with one conditional write per document (its
``batches`` must not hold the batch id); close the batch. A fold that dies in between leaves its batch open, and
:meth:`FiguresRepository.recover` applies it again after :data:`CLAIM_GRACE`: documents that hold it skip it, the
others take it. A redelivered event changes nothing; so does a crash between any two steps.

Historical import (:meth:`FiguresRepository.load_day_figures`) adds each imported day document to its month and
year once, guarded by the day's id in their ``imported`` list (at most 31 and 366 ids)."""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from .assessment import PERIODS

log = logging.getLogger(__name__)

COLLECTIONS = {"day": "figures", "month": "figures_month", "year": "figures_year"}
RECENT_BATCHES = 500
INC_PATHS = 64
CLAIM_GRACE = timedelta(seconds=10)

Clock = Callable[[], datetime]
Delta = tuple[str, str, str, float]


def _inc(deltas: Iterable[Delta], into: dict[str, float] | None = None) -> dict[str, float]:
    into = {} if into is None else into
    for dimension, key, counter, delta in deltas:
        path = f"c.{dimension}.{key}.{counter}"
        into[path] = into.get(path, 0) + delta
    return into


def _keys(period: str, periods: Mapping[str, str]) -> dict[str, str]:
    """The period keys a document of ``period`` carries: a day its day, month and year; a month its month and
    year; a year its year."""
    return {p: periods[p] for p in PERIODS[PERIODS.index(period):]}


class FiguresRepository:
    """The figures' documents and journal. One instance per process: :meth:`fold_pending` runs one fold loop at a
    time in it (a call while one runs makes that one go round again), so batches grow with the load instead of
    each event paying for its own writes."""

    def __init__(self, db: Database):
        self.db = db
        self.periods = {period: db[name] for period, name in COLLECTIONS.items()}
        self.figures = self.periods["day"]
        self.journal = db["folded_events"]
        self.batches = db["figures_batches"]
        self._folding = threading.Lock()
        self._wanted = False

    def ensure_indexes(self) -> None:
        for name in ("month", "year"):
            self.figures.create_index([("township_id", ASCENDING), (name, ASCENDING)], name=f"township_{name}")
        # only unclaimed entries and open batches carry these fields, so the indexes stay as small as the backlog
        self.journal.create_index([("pending", ASCENDING)], sparse=True, name="pending")
        self.journal.create_index([("batch", ASCENDING)], sparse=True, name="batch")
        self.batches.create_index([("open", ASCENDING), ("claimed_at", ASCENDING)], sparse=True, name="open")

    # journal -------------------------------------------------------------------------------------------------
    def record(self, township_id: str, periods: Mapping[str, str], deltas: Iterable[Delta], event_id: str,
               at: datetime) -> bool:
        """Journal one event's contributions (``at``: the event's time); False if the event was received before."""
        entry = {"_id": event_id, "township_id": township_id, "periods": dict(periods),
                 "deltas": [list(d) for d in deltas], "at": at, "pending": True}
        try:
            self.journal.insert_one(entry)
        except DuplicateKeyError:
            return False
        return True

    def pending(self) -> int:
        """Entries not folded yet: unclaimed, or in a batch still open."""
        open_batches = [b["_id"] for b in self.batches.find({"open": True}, {"_id": 1})]
        return (self.journal.count_documents({"pending": True})
                + (self.journal.count_documents({"batch": {"$in": open_batches}}) if open_batches else 0))

    # folding -------------------------------------------------------------------------------------------------
    def fold_pending(self, clock: Clock) -> int:
        """Fold every pending entry, a batch at a time, until none is left; the number this call folded. Returns at
        once (0) when another fold loop of this process runs: that loop goes round once more and takes them."""
        self._wanted = True
        folded = 0
        while self._wanted:
            if not self._folding.acquire(blocking=False):
                return folded
            try:
                self._wanted = False
                while self.journal.find_one({"pending": True}, {"_id": 1}) is not None:
                    batch = uuid.uuid4().hex[:16]
                    self.batches.insert_one({"_id": batch, "open": True, "claimed_at": clock()})
                    # one conditional write per entry claims all that are pending (an $in over ids costs SecantusDB
                    # about twice as much per entry)
                    self.journal.update_many({"pending": True}, {"$unset": {"pending": ""}, "$set": {"batch": batch}})
                    folded += self.apply_batch(batch, clock)
            finally:
                self._folding.release()
        return folded

    def recover(self, clock: Clock, grace: timedelta = CLAIM_GRACE) -> int:
        """Finish the batches whose fold stopped before the end (open for more than ``grace``); the number of
        entries folded."""
        stale = [b["_id"] for b in self.batches.find({"open": True, "claimed_at": {"$lt": clock() - grace}},
                                                      {"_id": 1})]
        done = 0
        for batch in stale:
            log.warning("folding batch %s again: its fold stopped before the end", batch)
            done += self.apply_batch(batch, clock)
        return done

    def apply_batch(self, batch: str, clock: Clock) -> int:
        """Add the entries of ``batch`` to every period document they touch (each document at most once per
        batch), then close the batch; the number of entries."""
        entries = list(self.journal.find({"batch": batch}, {"township_id": 1, "periods": 1, "deltas": 1}))
        targets: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in entries:
            for period in PERIODS:
                doc_id = f"{entry['township_id']}:{entry['periods'][period]}"
                target = targets.setdefault((period, doc_id), {
                    "keys": {"township_id": entry["township_id"], **_keys(period, entry["periods"])}, "inc": {}})
                _inc(map(tuple, entry["deltas"]), target["inc"])
        for (period, doc_id), target in targets.items():
            self._add(self.periods[period], doc_id, target["keys"], target["inc"], batch)
        self.batches.update_one({"_id": batch}, {"$unset": {"open": ""},
                                                 "$set": {"folded_at": clock(), "events": len(entries)}})
        return len(entries)

    def _add(self, coll, doc_id: str, keys: Mapping[str, str], inc: Mapping[str, float], mark: str,
             field: str = "batches", keep: int | None = RECENT_BATCHES) -> bool:
        """Add ``inc`` to one document unless its ``field`` list holds ``mark`` (a batch id, or an imported day),
        pushing ``mark`` onto it (keeping the last ``keep``); False if it held ``mark`` already. Every write bumps
        the document's revision ``v``.

        Up to :data:`INC_PATHS` counters, one conditional ``$inc``. Beyond that, a read and a ``$set`` of the
        changed dimensions, conditional on ``v``: SecantusDB checks the paths of an update against each other, which
        costs the square of their number (600 paths: about ten times a read and a set)."""
        push = {"$each": [mark], "$slice": -keep} if keep else mark
        if len(inc) <= INC_PATHS:
            try:
                done = coll.update_one({"_id": doc_id, field: {"$ne": mark}},
                                       {"$push": {field: push}, "$setOnInsert": dict(keys), "$inc": {**inc, "v": 1}},
                                       upsert=True)
            except DuplicateKeyError:  # the document exists and holds the mark: the upsert's insert collided
                return False
            return done.modified_count == 1 or done.upserted_id is not None
        changes: dict[str, dict[str, float]] = {}
        for path, delta in inc.items():
            _, dimension, rest = path.split(".", 2)
            changes.setdefault(dimension, {})[rest] = delta
        while True:
            doc = coll.find_one({"_id": doc_id}, {"c": 1, "v": 1, field: 1})
            if doc is not None and mark in doc.get(field, ()):
                return False
            tables = {}
            for dimension, deltas in changes.items():
                table = {key: dict(row) for key, row in (doc or {}).get("c", {}).get(dimension, {}).items()}
                for rest, delta in deltas.items():
                    key, counter = rest.rsplit(".", 1)
                    row = table.setdefault(key, {})
                    row[counter] = row.get(counter, 0) + delta
                tables[dimension] = table
            if doc is None:
                try:
                    coll.insert_one({"_id": doc_id, **keys, "c": tables, "v": 1, field: [mark]})
                    return True
                except DuplicateKeyError:
                    continue
            done = coll.update_one({"_id": doc_id, "v": doc.get("v"), field: {"$ne": mark}},
                                   {"$set": {f"c.{dimension}": table for dimension, table in tables.items()},
                                    "$inc": {"v": 1}, "$push": {field: push}})
            if done.modified_count == 1:
                return True

    # reading -------------------------------------------------------------------------------------------------
    def read_figures(self, township_id: str, period: str, at: str, dimension: str | None = None) -> dict[str, Any]:
        """The counters of one period: ``{dimension: {key: {counter: n}}}`` (empty when nothing counted); with
        ``dimension``, only that dimension's table is read."""
        doc = self.periods[period].find_one({"_id": f"{township_id}:{at}"},
                                            {f"c.{dimension}" if dimension else "c": 1})
        return doc.get("c", {}) if doc else {}

    # historical import ---------------------------------------------------------------------------------------
    def load_day_figures(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Import precomputed day documents (``_id``, ``township_id``, ``day``, ``month``, ``year``, ``c``) and
        add each to its month and year. Safe to run again after a failure, with the same days in any grouping:
        a day already stored is kept, and a month or year takes each day once (its ``imported`` list)."""
        batch = [dict(doc) for doc in docs]
        if not batch:
            return
        try:
            self.figures.insert_many([{"batches": [], **doc} for doc in batch], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
        self.roll_up(batch)

    def roll_up(self, days: Iterable[Mapping[str, Any]]) -> None:
        """Add day documents to their month and year documents, each day once (its id in their ``imported``)."""
        for day in days:
            inc = {f"c.{path}": value for path, value in _flatten(day.get("c", {}))}
            for period in ("month", "year"):
                self._add(self.periods[period], f"{day['township_id']}:{day[period]}",
                          {"township_id": day["township_id"], **_keys(period, day)}, inc, day["_id"],
                          field="imported", keep=None)

    def backfill(self) -> int:
        """Add the day documents of decision 13 and 19 (before month and year documents existed) to their months
        and years; the number of days added. Run it once, with every feedback process stopped, when upgrading a
        database that has day documents but no ``figures_year``: a day folded by the new code would count twice."""
        days = [d for d in self.figures.find({"batches": {"$exists": False}})]
        self.roll_up(days)
        return len(days)


def _flatten(c: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, float]]:
    for name, value in c.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            yield from _flatten(value, path + ".")
        else:
            yield path, value

