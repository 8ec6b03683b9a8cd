"""Dispatch's documents: cases (each holding its tasks, history and pending events), actors, the responsibility
list, and the township settings routing needs (timezone, category catalogue).

Every query filters on ``township_id`` first and runs on an index; writes to a case are conditional on its
``rev`` so two commands on one case never overwrite each other (the loser retries or gets a 409)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from township_shared import outbox, store

from .learning import Model, seed_examples, seeded_model

SETTINGS_TTL_S = 30.0  # settings, responsibility rules and units' active flags: changes reach routing within this
MODEL_TTL_S = 5.0  # an example the office gave (or undid) in another process reaches classification within this
OPTIONAL = ("triage", "next_alarm_at", "attention")  # absent rather than null, so indexes hold few live entries
BOARD_FIRST_WINDOW = timedelta(days=1)  # the board's first window of received_at; each next one is 4 times wider
BOARD_MIN_WINDOW = timedelta(minutes=10)
BOARD_READ_BUDGET = 150  # documents a window of the board is expected to read at most
BOARD_FLOOR = timedelta(days=366 * 20)  # how far back the board and the triage queue look


@dataclass
class _LearnedEntry:
    """A township's model in this process: the examples applied to it (id -> text, category) and the highest
    example sequence number seen, so each refresh reads only what changed."""

    model: Model
    applied: dict[str, tuple[str, str]] = field(default_factory=dict)
    seq: int = 0
    next_check: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _density_span(now: datetime, first: datetime | None) -> timedelta:
    """The time the township's counted cases came in over, to size the board's first windows by (a year when
    unknown). Only the windows' size: the walk itself always reaches ``BOARD_FLOOR`` back, so cases older than the
    counters (written before them, or behind dispatch's back) are still listed."""
    return max(now - first, BOARD_FIRST_WINDOW) if first is not None else timedelta(days=365)


class DispatchRepository:
    def __init__(self, db: Database):
        self.db = db
        self.cases = db["cases"]
        self.actors = db["actors"]
        self.rules = db["responsibilities"]
        self.townships = db["townships"]
        self.examples = db["routing_examples"]
        self.counters = db["counters"]
        self._models: dict[str, _LearnedEntry] = {}
        self._seeds: list[tuple[str, str]] | None = None
        self.use_seeds = True
        self._settings: dict[str, tuple[float, dict[str, Any] | None]] = {}
        # routing reads these for every demand; they change rarely (the office's actor commands, the demo loader)
        self._rules: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}
        self._units: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}

    def ensure_indexes(self) -> None:
        c = self.cases
        c.create_index([("township_id", ASCENDING), ("status", ASCENDING), ("received_at", ASCENDING)],
                       name="township_status_received")
        c.create_index([("township_id", ASCENDING), ("open_assignees", ASCENDING)], name="township_open_assignee")
        c.create_index([("township_id", ASCENDING), ("tasks.assignee_key", ASCENDING)], name="township_assignee")
        c.create_index([("tasks.id", ASCENDING)], name="task_id")
        c.create_index([("township_id", ASCENDING), ("case_number", ASCENDING)], name="township_case_number")
        c.create_index([("township_id", ASCENDING), ("duplicate_of", ASCENDING)], name="township_duplicate_of")
        c.create_index([("next_alarm_at", ASCENDING)], sparse=True, name="next_alarm")
        # the office's board (decision 95): escalated and overdue cases of a stage; the rest of a stage is read
        # through township_status_received
        c.create_index([("township_id", ASCENDING), ("attention", ASCENDING), ("status", ASCENDING),
                        ("received_at", ASCENDING)], name="township_attention_status_received")
        for field in ("village", "category"):
            c.create_index([("township_id", ASCENDING), ("status", ASCENDING), (field, ASCENDING),
                            ("received_at", ASCENDING)], name=f"township_status_{field}_received")
        self.actors.create_index([("township_id", ASCENDING), ("kind", ASCENDING), ("home_village", ASCENDING)],
                                 name="township_kind_village")
        self.rules.create_index([("township_id", ASCENDING), ("category", ASCENDING)], name="township_category")
        self.examples.create_index([("township_id", ASCENDING), ("seq", ASCENDING)], name="township_seq")
        self.examples.create_index([("township_id", ASCENDING), ("at", ASCENDING)], name="township_at")

    # settings and reference data ----------------------------------------------------------------------------
    def save_township(self, township_id: str, settings: dict[str, Any]) -> None:
        """Timezone and catalogue (code -> handling_days, keywords, community_service) of a township."""
        self.townships.replace_one({"_id": township_id}, {"_id": township_id, **settings}, upsert=True)
        self._settings.pop(township_id, None)

    def settings(self, township_id: str) -> dict[str, Any] | None:
        cached = self._settings.get(township_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        doc = self.townships.find_one({"_id": township_id})
        self._settings[township_id] = (time.monotonic() + SETTINGS_TTL_S, doc)
        return doc

    def replace_rules(self, township_id: str, rules: Iterable[dict[str, Any]]) -> None:
        self.rules.delete_many({"township_id": township_id})
        docs = [{"township_id": township_id, **r} for r in rules]
        if docs:
            self.rules.insert_many(docs)
        self._rules.clear()

    def rules_for(self, township_id: str, category: str) -> list[dict[str, Any]]:
        """The responsibility rules of a category, cached for ``SETTINGS_TTL_S`` (every demand needs them)."""
        key = (township_id, category)
        cached = self._rules.get(key)
        if cached and cached[0] > time.monotonic():
            return [dict(r) for r in cached[1]]
        rules = list(self.rules.find({"township_id": township_id, "category": category}, {"_id": 0}))
        self._rules[key] = (time.monotonic() + SETTINGS_TTL_S, rules)
        return [dict(r) for r in rules]

    def routing_unit(self, township_id: str, ident: str) -> dict[str, Any] | None:
        """A unit as routing sees it (``active``), cached for ``SETTINGS_TTL_S``; this process's own actor writes
        drop the cache at once, another process's reach it within the TTL."""
        key = (township_id, ident)
        cached = self._units.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        unit = self.get_actor(township_id, "unit", ident)
        self._units[key] = (time.monotonic() + SETTINGS_TTL_S, unit)
        return unit

    # actors ----------------------------------------------------------------------------------------------------
    @staticmethod
    def actor_id(township_id: str, kind: str, ident: str) -> str:
        return f"{township_id}:{kind}:{ident}"

    def insert_actor(self, township_id: str, actor: dict[str, Any], events: list[dict[str, Any]],
                     now: datetime) -> dict[str, Any] | None:
        """Register an actor with ``events`` pending in its document; None if it exists."""
        self._units.clear()
        doc = outbox.attach({"_id": self.actor_id(township_id, actor["kind"], actor["id"]),
                             "township_id": township_id, "open_tasks": 0, **actor}, events, now)
        try:
            self.actors.insert_one(doc)
            return doc
        except DuplicateKeyError:
            return None

    def upsert_actor(self, township_id: str, actor: dict[str, Any]) -> None:
        """Demo loader: create or update, keeping the live ``open_tasks`` counter."""
        self._units.clear()
        self.actors.update_one({"_id": self.actor_id(township_id, actor["kind"], actor["id"])},
                               {"$set": {"township_id": township_id, **actor}, "$setOnInsert": {"open_tasks": 0}},
                               upsert=True)

    def get_actor(self, township_id: str, kind: str, ident: str) -> dict[str, Any] | None:
        return self.actors.find_one({"_id": self.actor_id(township_id, kind, ident)})

    def update_actor(self, township_id: str, kind: str, ident: str, changes: dict[str, Any],
                     events: list[dict[str, Any]], now: datetime) -> dict | None:
        """``$set`` the changes and append ``events`` to the actor's outbox in one write (the ``open_tasks``
        counter, kept by ``$inc`` elsewhere, is left alone)."""
        self._units.clear()
        return self.actors.find_one_and_update({"_id": self.actor_id(township_id, kind, ident)},
                                               outbox.push({"$set": changes}, events, now),
                                               return_document=ReturnDocument.AFTER)

    def list_actors(self, township_id: str, kind: str | None = None, village: str | None = None) -> list[dict]:
        query: dict[str, Any] = {"township_id": township_id}
        if kind:
            query["kind"] = kind
        if village:
            query["home_village"] = village
        return sorted(self.actors.find(query), key=lambda a: (a["kind"], a["id"]))

    def community_members(self, township_id: str, villages: str | Iterable[str]) -> list[dict[str, Any]]:
        """Party members and volunteers living in ``villages`` (one code or several)."""
        codes = [villages] if isinstance(villages, str) else list(villages)
        return [a for kind in ("party_member", "volunteer")
                for a in self.actors.find({"township_id": township_id, "kind": kind, "home_village": {"$in": codes}})]

    def open_cases_of(self, township_id: str, actor_key: str) -> int:
        """How many of the township's cases ``actor_key`` has open tasks on (the load of a unit)."""
        return self.cases.count_documents({"township_id": township_id, "open_assignees": actor_key})

    def reserve_member(self, township_id: str, kind: str, ident: str) -> bool:
        """Take one open-task slot of a member, only if under the limit (a hard limit under concurrency)."""
        doc = self.actors.find_one({"_id": self.actor_id(township_id, kind, ident)}, {"open_task_limit": 1})
        if doc is None:
            return False
        done = self.actors.update_one(
            {"_id": doc["_id"], "active": True, "open_tasks": {"$lt": doc.get("open_task_limit") or 0}},
            {"$inc": {"open_tasks": 1}})
        return done.modified_count == 1

    def release_member(self, township_id: str, kind: str, ident: str) -> None:
        self.actors.update_one({"_id": self.actor_id(township_id, kind, ident), "open_tasks": {"$gt": 0}},
                               {"$inc": {"open_tasks": -1}})

    # cases -----------------------------------------------------------------------------------------------------
    def insert_case(self, case: dict[str, Any], events: list[dict[str, Any]]) -> dict | None:
        """Store a new case with its events pending and return it as stored; None if a case with this id exists
        (a redelivery)."""
        return store.insert(self.cases, case, events, OPTIONAL)

    def get_case(self, township_id: str, case_id: str) -> dict[str, Any] | None:
        return self.cases.find_one({"_id": case_id, "township_id": township_id})

    def case_by_number(self, township_id: str, case_number: str) -> dict[str, Any] | None:
        return self.cases.find_one({"township_id": township_id, "case_number": case_number})

    def duplicates_of(self, township_id: str, case_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The cases intake linked to ``case_id`` as its duplicates, oldest first."""
        found = self.cases.find({"township_id": township_id, "duplicate_of": case_id},
                                {"case_number": 1, "status": 1, "received_at": 1, "title": 1}).limit(limit)
        return sorted(found, key=lambda d: (d["received_at"], d["_id"]))

    def case_of_task(self, township_id: str, task_id: str) -> dict[str, Any] | None:
        return self.cases.find_one({"tasks.id": task_id, "township_id": township_id})

    def save_case(self, case: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        """Write a changed case if nobody changed it since it was read; raises :class:`store.Stale`."""
        return store.save(self.cases, case, events, OPTIONAL)

    def triage_queue(self, township_id: str, limit: int, now: datetime | None = None) -> list[dict[str, Any]]:
        """The cases waiting for the office (``triage`` and ``duplicate``), oldest first: each status read on
        ``township_status_received`` in windows of ``received_at`` from ``BOARD_FLOOR`` ago onwards (a
        ``$in`` over statuses is a collection scan on SecantusDB, and a sorted query reads its whole range:
        decision 95)."""
        found = [doc for status in ("triage", "duplicate") for doc in self.oldest_of_stage(township_id, status, limit,
                                                                                             now)]
        return sorted(found, key=lambda d: (d["received_at"], d["_id"]))[:limit]

    def oldest_of_stage(self, township_id: str, status: str, limit: int,
                        now: datetime | None = None) -> list[dict[str, Any]]:
        """The ``limit`` oldest cases of a stage, walking forward from ``BOARD_FLOOR`` ago in windows sized like
        the board's (its stage count, what each window found, ``BOARD_READ_BUDGET``)."""
        from township_shared.clock import utcnow

        now = max(now or utcnow(), utcnow()) + BOARD_FIRST_WINDOW
        counts, first = self.board_counts(township_id)
        span = _density_span(now, first)
        window = typical = max(BOARD_MIN_WINDOW, min(span, span * (limit + 1) / max(1, counts.get(status, 0))))
        items: list[dict[str, Any]] = []
        lo = now - BOARD_FLOOR
        while len(items) < limit and lo <= now:
            hi = lo + window
            batch = list(self.cases.find({"township_id": township_id, "status": status,
                                          "received_at": {"$gte": lo, "$lt": hi}}))
            items.extend(sorted(batch, key=lambda d: (d["received_at"], d["_id"])))
            if batch:
                growth = min(16.0, max(2.0, 1.5 * (limit - len(items)) / len(batch)))
                growth = min(growth, max(1.0, BOARD_READ_BUDGET / len(batch)))
            else:
                growth = 2.0 if window >= typical else min(4.0, typical / window)
            lo, window = hi, window * growth
        return items[:limit]

    # the office's board (decision 95) ---------------------------------------------------------------------
    @staticmethod
    def board_counter_id(township_id: str) -> str:
        return f"board:{township_id}"

    def count_stage(self, township_id: str, before: str | None, after: str,
                    received_at: datetime | None = None) -> None:
        """A case of the township moved from stage ``before`` (None: it is new) to ``after``: one ``$inc`` of the
        township's stage counters (and the earliest ``received_at`` the board needs to look back to)."""
        if before == after:
            return
        update: dict[str, Any] = {"$inc": {f"stages.{after}": 1, **({f"stages.{before}": -1} if before else {})}}
        if received_at is not None:
            update["$min"] = {"first_received_at": received_at}
        self.counters.update_one({"_id": self.board_counter_id(township_id)}, update, upsert=True)

    def board_counts(self, township_id: str) -> tuple[dict[str, int], datetime | None]:
        """Cases per stage and the township's first ``received_at`` (None: not known)."""
        doc = self.counters.find_one({"_id": self.board_counter_id(township_id)}) or {}
        return {k: max(0, int(v)) for k, v in (doc.get("stages") or {}).items()}, doc.get("first_received_at")

    def recount_board(self, township_id: str) -> dict[str, int]:
        """Count the township's cases per stage anew (reads every case of the township: for data written behind
        dispatch's back, like a bench's bulk load, or after a crash between a case's write and its count)."""
        counts: dict[str, int] = {}
        first: datetime | None = None
        for doc in self.cases.find({"township_id": township_id}, {"status": 1, "received_at": 1}):
            counts[doc["status"]] = counts.get(doc["status"], 0) + 1
            first = doc["received_at"] if first is None else min(first, doc["received_at"])
        self.counters.replace_one({"_id": self.board_counter_id(township_id)},
                                  {"stages": counts, "first_received_at": first}, upsert=True)
        return counts

    def board_page(self, township_id: str, status: str, limit: int, after: tuple[int, datetime, str] | None,
                   filters: dict[str, str], now: datetime,
                   projection: dict[str, int] | None = None) -> tuple[list[dict[str, Any]], bool]:
        """One page of a stage, escalated cases first, then overdue, then the others, each newest first; starting
        after the position ``after`` (attention, received_at, id) of the previous page's last case; ``filters``
        (village, category) keep only the cases equal to them. Returns the page and whether more may follow.

        Each band is read in windows of ``received_at`` walking back from now (or the position) down to
        ``BOARD_FLOOR`` ago, so every query reads a bounded range of one index (decision 4: this server costs
        per document an index range matches, whatever the limit; a ``$in`` over stages is a collection scan
        there: one stage at a time). The first window of the last band is as wide as the stage's count says a
        page needs; each next one grows by what the last one found (2 to 16 times; twice when it found nothing,
        so a sparse stretch followed by a dense one is not read in one huge window), and never beyond what is
        expected to read ``BOARD_READ_BUDGET`` documents at the density the last window read.
        The village (else the category) goes to the server on its index; the other filter is applied to each
        window's documents (decision 95)."""
        counts, first = self.board_counts(township_id)
        floor, span = now - BOARD_FLOOR, _density_span(now, first)
        served = next((f for f in ("village", "category") if filters.get(f)), None)
        rest = {k: v for k, v in filters.items() if v and k != served}
        items: list[dict[str, Any]] = []
        for band in (2, 1, 0):
            if after is not None and band > after[0]:
                continue
            start = after if after is not None and band == after[0] else None
            hi = start[1] + timedelta(microseconds=1) if start else now + BOARD_FIRST_WINDOW
            window = typical = BOARD_FIRST_WINDOW
            if band == 0 and counts.get(status):
                window = typical = max(BOARD_MIN_WINDOW, min(span, span * (limit + 1) / counts[status]))
            while len(items) <= limit and hi > floor:
                lo = hi - window
                query: dict[str, Any] = {"township_id": township_id}
                if band:
                    query["attention"] = band
                query["status"] = status
                if served and not band:
                    query[served] = filters[served]
                query["received_at"] = {"$gte": lo, "$lt": hi}
                found, read = [], 0
                for doc in self.cases.find(query, projection):
                    read += 1
                    if not band and doc.get("attention"):
                        continue
                    if start and (doc["received_at"], doc["_id"]) >= (start[1], start[2]):
                        continue
                    if all(doc.get(k) == v for k, v in filters.items() if v) if band else \
                            all(doc.get(k) == v for k, v in rest.items()):
                        found.append(doc)
                found.sort(key=lambda d: (d["received_at"], d["_id"]), reverse=True)
                items.extend({**d, "attention": band or None} for d in found)
                needed = limit + 1 - len(items)
                if found:
                    growth = min(16.0, max(2.0, 1.5 * needed / len(found)))
                else:  # nothing here: wider, but by at most twice a typical page's width at a time
                    growth = 2.0 if window >= typical else min(4.0, typical / window)
                if read:  # never a window expected to read more than BOARD_READ_BUDGET documents
                    growth = min(growth, max(1.0, BOARD_READ_BUDGET / read))
                hi, window = lo, window * growth
            if len(items) > limit:
                break
        return items[:limit], len(items) > limit

    # what an actor's task list shows of each case (handlers.task_view): never the history or the classification,
    # the largest parts of a case, which an actor with hundreds of open tasks would otherwise fetch for nothing
    TASK_LIST_FIELDS = {"case_number": 1, "title": 1, "description": 1, "village": 1, "category": 1, "urgency": 1,
                        "status": 1, "location": 1, "reporter.name": 1, "tasks": 1}

    def cases_of(self, township_id: str, actor_key: str, open_only: bool) -> list[dict[str, Any]]:
        """The township's cases on which ``actor_key`` has an open task (``open_only``, from the index of open
        assignees) or ever had one, with only :data:`TASK_LIST_FIELDS`."""
        field = "open_assignees" if open_only else "tasks.assignee_key"
        return list(self.cases.find({"township_id": township_id, field: actor_key}, self.TASK_LIST_FIELDS))

    def due_alarms(self, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        return list(self.cases.find({"next_alarm_at": {"$lte": now}}).limit(limit))

    # what the office taught (decision 61) ---------------------------------------------------------------------
    @staticmethod
    def example_id(township_id: str, case_id: str) -> str:
        return f"{township_id}:{case_id}"

    def _next_seq(self, township_id: str) -> int:
        doc = self.counters.find_one_and_update({"_id": f"routing_examples:{township_id}"}, {"$inc": {"seq": 1}},
                                                upsert=True, return_document=ReturnDocument.AFTER)
        return doc["seq"]

    def record_example(self, township_id: str, example: dict[str, Any]) -> dict[str, Any] | None:
        """Store the office's latest routing of a case as its example, active. Nothing changes (None) for a
        redelivered event (same ``event_id``) or an event older than the stored one (``at``)."""
        _id = self.example_id(township_id, example["case_id"])
        stored = self.examples.find_one({"_id": _id}, {"event_id": 1, "at": 1})
        if stored and (stored["event_id"] == example["event_id"] or stored["at"] > example["at"]):
            return None
        doc = {**example, "_id": _id, "township_id": township_id, "active": True, "undone": None,
               "seq": self._next_seq(township_id)}
        try:
            self.examples.replace_one({"_id": _id, "at": {"$lte": example["at"]}} if stored else {"_id": _id}, doc,
                                      upsert=True)
        except DuplicateKeyError:
            return None  # a later routing of the case was stored meanwhile
        return doc

    def get_example(self, township_id: str, case_id: str) -> dict[str, Any] | None:
        return self.examples.find_one({"_id": self.example_id(township_id, case_id), "township_id": township_id})

    def set_example_active(self, township_id: str, case_id: str, active: bool,
                           undone: dict[str, Any] | None) -> dict[str, Any] | None:
        return self.examples.find_one_and_update(
            {"_id": self.example_id(township_id, case_id), "township_id": township_id},
            {"$set": {"active": active, "undone": undone, "seq": self._next_seq(township_id)}},
            return_document=ReturnDocument.AFTER)

    def list_examples(self, township_id: str, active: bool | None, category: str | None,
                      limit: int) -> list[dict[str, Any]]:
        """Newest first, at most ``limit``, filtered in the scan of the township's index."""
        found = []
        for doc in self.examples.find({"township_id": township_id}).sort("at", -1):
            if (active is None or doc["active"] == active) and (category is None or doc["category"] == category):
                found.append(doc)
                if len(found) >= limit:
                    break
        return found

    def _new_entry(self) -> _LearnedEntry:
        """A township's model starts from the seed examples shipped with dispatch (read once per process)."""
        if self._seeds is None:
            self._seeds = seed_examples() if self.use_seeds else []
        return _LearnedEntry(seeded_model(self._seeds))

    def learned_model(self, township_id: str) -> Model:
        """The township's model, brought up to date with the examples given or undone since the last look
        (at most every ``MODEL_TTL_S``). One refresh at a time per township; a caller that finds one under way
        classifies with the model as it is."""
        entry = self._models.get(township_id) or self._models.setdefault(township_id, self._new_entry())
        if entry.next_check > time.monotonic() or not entry.lock.acquire(blocking=False):
            return entry.model
        try:
            for doc in self.examples.find({"township_id": township_id, "seq": {"$gt": entry.seq}},
                                          {"text": 1, "category": 1, "active": 1, "seq": 1}).sort("seq", ASCENDING):
                previous = entry.applied.pop(doc["_id"], None)
                if previous:
                    entry.model.remove(*previous)
                if doc["active"]:
                    entry.model.add(doc["text"], doc["category"])
                    entry.applied[doc["_id"]] = (doc["text"], doc["category"])
                entry.seq = max(entry.seq, doc["seq"])
            entry.next_check = time.monotonic() + MODEL_TTL_S
        finally:
            entry.lock.release()
        return entry.model

    def refresh_model(self, township_id: str) -> Model:
        """Bring the township's model up to date now rather than at its next look."""
        (self._models.get(township_id) or self._models.setdefault(township_id, self._new_entry())).next_check = 0.0
        return self.learned_model(township_id)
