"""Funds use cases as plain functions over the repository; the nameko service only wires them.

An allocation spans documents (the project and each pool) without a transaction (decision 65):

1. the project marks the allocation under way (``inflight``, one at a time per project, with a fresh attempt id);
2. each pool holds its part with an atomic conditional update (``available_fen >= amount`` in the filter); a pool
   that cannot gives the holds back and the caller is told what is available;
3. the project records the allocation, its ledger entries, its events and the advance now due, conditional on the
   attempt still being the one under way;
4. the pools' holds are settled.

A crash anywhere leaves a state :func:`recover` finishes: an attempt under way for longer than the grace is
abandoned and its holds given back; a hold is settled if its project recorded its attempt and given back if the
project never will. Idempotency keys make a retried request the same allocation (the same ``op``), never a second.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, NamedTuple

from township_shared import faults, store
from township_shared.auth import Principal
from township_shared.clock import utcnow
from township_shared.errors import Conflict, NotFound, Refused, Unprocessable
from township_shared.events import Event, envelopes as make_envelopes

from . import domain, ledger
from .domain import Act
from .repository import FundsRepository

log = logging.getLogger(__name__)
SOURCE = "funds"
FULL_VIEW_ROLES = ("office", "meeting")


def op_id(prefix: str, *parts: str) -> str:
    """A movement's id from what makes it unique (township, project or pool, idempotency key): the same request
    retried is the same movement. Letters and digits only (it keys a map in a pool document)."""
    return prefix + hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def envelopes(township_id: str, correlation_id: str | None, facts: domain.Facts, now: datetime) -> list[dict]:
    return make_envelopes(facts, source=SOURCE, township_id=township_id, correlation_id=correlation_id, time=now)


class Writes(NamedTuple):
    events: list[dict[str, Any]]
    entries: list[dict[str, Any]]


Change = Callable[[dict[str, Any]], tuple[domain.Facts, domain.Entries, Any]]


def mutate_project(repo: FundsRepository, township_id: str, project_id: str, change: Change,
                   act: Act) -> tuple[dict[str, Any], Any]:
    """:func:`township_shared.store.mutate` of a project: ``change(doc) -> (facts, entries, result)``; the events
    and entries are written by the same conditional update as the change."""
    def apply(doc):
        facts, entries, result = change(doc)
        return Writes(envelopes(township_id, doc["_id"], facts, act.at), entries), result

    return store.mutate(lambda: repo.get_project(township_id, project_id), apply,
                        lambda doc, writes: repo.save_project(doc, writes.events, writes.entries),
                        f"no project {project_id!r}")


# ---- pools ------------------------------------------------------------------------------------------------------
def _villages(repo: FundsRepository, township_id: str) -> frozenset[str]:
    villages = repo.villages(township_id)
    if villages is None:
        raise NotFound(f"unknown township {township_id!r}")
    return villages


def create_pool(repo: FundsRepository, act: Act, township_id: str, command: Mapping[str, Any]) -> dict[str, Any]:
    owner = command.get("owner_village")
    if owner is not None and owner not in _villages(repo, township_id):
        raise Unprocessable({"owner_village": [f"unknown village {owner!r}"]})
    doc = {"_id": f"{township_id}:{command['code']}", "township_id": township_id, "code": command["code"],
           "name": command["name"], "year": command["year"], "source": command["source"], "owner_village": owner,
           "budget_fen": 0, "available_fen": 0, "pending": {}, "pending_n": 0, "credited": [], "changes": [],
           "created_at": act.at, "created_by": act.actor}
    op = op_id("b", township_id, command["code"], "initial")
    record, entries, facts = domain.budget_change(doc, op, "initial", command["budget_fen"], command["reason"], act)
    doc.update(budget_fen=command["budget_fen"], available_fen=command["budget_fen"], changes=[record])
    events = envelopes(township_id, command["code"], facts, act.at)
    return repo.insert_pool(doc, entries, events)


def get_pool(repo: FundsRepository, township_id: str, code: str) -> dict[str, Any]:
    pool = repo.get_pool(township_id, code)
    if pool is None:
        raise NotFound(f"no pool {code!r}", pool=code)
    return pool


def change_budget(repo: FundsRepository, act: Act, township_id: str, code: str, command: Mapping[str, Any],
                  key: str) -> dict[str, Any]:
    """Raise or cut a budget once per idempotency key; a cut below what is committed is refused (409, with what
    is available)."""
    pool = get_pool(repo, township_id, code)
    op = op_id("b", township_id, code, key)
    if any(c["id"] == op for c in pool["changes"]):
        return pool
    record, entries, facts = domain.budget_change(pool, op, command["change"], command["amount_fen"],
                                                  command["reason"], act)
    events = envelopes(township_id, code, facts, act.at)
    if not repo.change_pool(township_id, code, record, record["amount_fen"], entries, events):
        pool = get_pool(repo, township_id, code)
        if not any(c["id"] == op for c in pool["changes"]):
            raise Conflict(f"a cut of {command['amount_fen']} fen would cut into what is committed: "
                           f"{pool['available_fen']} fen available", available_fen=pool["available_fen"],
                           allowed=[])
    return get_pool(repo, township_id, code)


# ---- projects ---------------------------------------------------------------------------------------------------
def propose(repo: FundsRepository, act: Act, principal: Principal, proposal: Mapping[str, Any], key: str,
            default_advance: int) -> dict[str, Any]:
    township_id = principal.township_id
    if proposal["village"] not in _villages(repo, township_id):
        raise Unprocessable({"village": [f"unknown village {proposal['village']!r}"]})
    proposer = domain.proposer_of(principal.role, principal.actor, proposal["village"])
    project_id = op_id("p", township_id, principal.actor, key)
    existing = repo.get_project(township_id, project_id)
    if existing is not None:
        return existing
    project, facts = domain.new_project(project_id, township_id, proposal, proposer, default_advance, act)
    return repo.insert_project(project, envelopes(township_id, project_id, facts, act.at)) or \
        repo.get_project(township_id, project_id)


def project_view(project: Mapping[str, Any]) -> dict[str, Any]:
    """A project with its money: allocated, paid and released in all, per pool, and per milestone."""
    paid_by_key: dict[str, int] = {}
    for payment in project["payments"]:
        if not payment["reversed"]:
            paid_by_key[payment["key"]] = paid_by_key.get(payment["key"], 0) + payment["amount_fen"]
    milestones = [{**m, "paid_fen": paid_by_key.get(f"milestone:{m['name']}", 0)} for m in project["milestones"]]
    return {**project, "milestones": milestones, "allocated_fen": domain.allocated_total(project),
            "paid_fen": domain.paid_total(project), "completed": project["completed"] is not None}


def access(project: Mapping[str, Any], principal: Principal) -> str | None:
    """How much of a project the principal sees: ``full`` (the office, the meeting, the proposer), ``public``
    (the public; a supervision group in its villages), or None (another organisation's or committee's project:
    a social organisation or a village committee sees only its own)."""
    if principal.role in FULL_VIEW_ROLES or principal.actor == project["proposer_key"]:
        return "full"
    if principal.role == "public":
        return "public"
    if principal.role == "supervision" and (not principal.villages or project["village"] in principal.villages):
        return "public"
    return None


def project_for(repo: FundsRepository, principal: Principal, project_id: str) -> tuple[dict[str, Any], str]:
    project = repo.get_project(principal.township_id, project_id)
    seen_as = access(project, principal) if project is not None else None
    if seen_as is None:
        raise NotFound(f"no project {project_id!r}", id=project_id)
    return project, seen_as


def list_projects(repo: FundsRepository, principal: Principal, query: Mapping[str, Any]) -> tuple[list, str]:
    """The projects the principal may see (newest first) and how (``full`` or ``public``)."""
    villages, proposer = None, None
    if principal.role in FULL_VIEW_ROLES:
        seen_as = "full"
    elif principal.role in ("social_org", "unit"):
        proposer, seen_as = principal.actor, "full"
    else:
        seen_as = "public"
        if principal.role == "supervision" and principal.villages:
            villages = list(principal.villages)
    if query.get("village"):
        villages = [v for v in (villages or [query["village"]]) if v == query["village"]]
    items = repo.list_projects(principal.township_id, status=query.get("status"), villages=villages,
                               proposer_key=proposer, limit=query["limit"])
    return items, seen_as


def review(repo: FundsRepository, act: Act, township_id: str, project_id: str, command: Mapping[str, Any],
           threshold_fen: int) -> dict[str, Any]:
    def change(doc):
        return domain.review(doc, command["decision"], command.get("reason"), threshold_fen, act), [], None

    return mutate_project(repo, township_id, project_id, change, act)[0]


class PoolRefused(Exception):
    def __init__(self, pool: str, asked: int, available: int):
        super().__init__(pool)
        self.pool, self.asked, self.available = pool, asked, available


def _same_parts(a, b) -> bool:
    return sorted((p["pool"], p["amount_fen"]) for p in a) == sorted((p["pool"], p["amount_fen"]) for p in b)


def allocate(repo: FundsRepository, act: Act, township_id: str, project_id: str, command: Mapping[str, Any],
             key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reserve the parts for an approved project from their pools, all or none (module docstring); returns the
    project and ``{allocation_id, parts, amount_fen, replayed}``. Refused (409) when a pool cannot hold its part,
    naming the pool and what it has available; nothing stays written then."""
    parts = [dict(p) for p in command["parts"]]
    pools = repo.pools_of(township_id, [p["pool"] for p in parts])
    unknown = [p["pool"] for p in parts if p["pool"] not in pools]
    if unknown:
        raise Unprocessable({"parts": [f"unknown pool {code!r}" for code in unknown]})
    metas = {code: domain.pool_meta(pool) for code, pool in pools.items()}
    op = op_id("a", township_id, project_id, key)
    attempt = f"{op}-{uuid.uuid4().hex[:12]}"

    def result(project, allocation, replayed):
        if not _same_parts(allocation["parts"], parts):
            raise Conflict("the Idempotency-Key was used for another allocation", allowed=[])
        return project, {"allocation_id": op, "parts": allocation["parts"],
                         "amount_fen": sum(p["amount_fen"] for p in allocation["parts"]), "replayed": replayed}

    def begin(doc):
        done = domain.find_allocation(doc, op)
        if done is None:
            domain.check_pools(doc, pools)
            domain.begin_allocation(doc, op, attempt, key, parts, act)
        return [], [], done

    project, done = mutate_project(repo, township_id, project_id, begin, act)
    if done is not None:
        return result(project, done, True)
    held: list[str] = []
    try:
        for part in parts:
            if not repo.hold(township_id, part["pool"], attempt, part["amount_fen"], project_id, act.at):
                available = (repo.get_pool(township_id, part["pool"]) or {}).get("available_fen", 0)
                raise PoolRefused(part["pool"], part["amount_fen"], available)
            held.append(part["pool"])
    except PoolRefused as refused:
        _give_up(repo, act, township_id, project_id, attempt, held)
        raise Conflict(f"pool {refused.pool!r} has {refused.available} fen available; {refused.asked} fen were "
                       "asked", pool=refused.pool, asked_fen=refused.asked, available_fen=refused.available,
                       allowed=[]) from None
    faults.point("funds.allocation_held")

    def commit(doc):
        done = domain.find_allocation(doc, op)
        if done is not None:
            return [], [], done
        facts, entries = domain.commit_allocation(doc, op, attempt, metas, act)
        return facts, entries, None

    try:
        project, done = mutate_project(repo, township_id, project_id, commit, act)
    except Conflict:
        for code in held:
            repo.undo(township_id, code, attempt)
        raise
    if done is not None:  # another attempt of the same request recorded it: this one's holds are not needed
        for code in held:
            repo.undo(township_id, code, attempt)
        return result(project, done, True)
    faults.point("funds.allocation_recorded")
    for code in held:
        repo.settle(township_id, code, attempt)
    return result(project, domain.find_allocation(project, op), False)


def _give_up(repo: FundsRepository, act: Act, township_id: str, project_id: str, attempt: str,
             held: list[str]) -> None:
    for code in held:
        repo.undo(township_id, code, attempt)

    def change(doc):
        domain.end_inflight(doc, attempt)
        return [], [], None

    mutate_project(repo, township_id, project_id, change, act)


def apply_credits(repo: FundsRepository, act: Act, project: dict[str, Any]) -> dict[str, Any]:
    """Give the pools what the project released (each once ever), then forget it is due."""
    for credit in list(project["credits_due"]):
        faults.point("funds.release_recorded")
        repo.credit(project["township_id"], credit["pool"], credit["op"], credit["amount_fen"])

        def change(doc, op=credit["op"]):
            domain.credit_applied(doc, op)
            return [], [], None

        project = mutate_project(repo, project["township_id"], project["_id"], change, act)[0]
    return project


def close(repo: FundsRepository, act: Act, township_id: str, project_id: str, reason: str) -> dict[str, Any]:
    def change(doc):
        facts, entries = domain.close(doc, reason, act)
        return facts, entries, None

    project = mutate_project(repo, township_id, project_id, change, act)[0]
    repo.flush(project, "projects")
    return apply_credits(repo, act, project)


# ---- ledger: reversals ------------------------------------------------------------------------------------------
def reverse(repo: FundsRepository, act: Act, township_id: str, entry_id: str, reason: str) -> dict[str, Any]:
    """Undo the movement the entry belongs to by reversing entries (budget changes, allocations, payments);
    returns ``{movement, reversal, entries}``. Reversing twice answers the first reversal."""
    originals = repo.movement(township_id, entry_id)
    if not originals:
        raise NotFound(f"no ledger entry {entry_id!r}", id=entry_id)
    first = originals[0]
    movement = first["op"]
    if first["kind"] not in ledger.REVERSIBLE:
        raise Conflict(f"a {first['kind']} movement is not reversed", kind=first["kind"], allowed=[])
    if first["kind"] in ("budget_raised", "budget_cut"):
        pool = get_pool(repo, township_id, first["pool"])
        record, entries, facts, delta = domain.budget_reversal(pool, movement, originals, reason, act)
        events = envelopes(township_id, first["pool"], facts, act.at)
        if not repo.change_pool(township_id, first["pool"], record, delta, entries, events):
            pool = get_pool(repo, township_id, first["pool"])
            if not any(c["id"] == record["id"] for c in pool["changes"]):
                raise Conflict(f"reversing this raise would cut into what is committed: {pool['available_fen']} "
                               "fen available", available_fen=pool["available_fen"], allowed=[])
        pool = get_pool(repo, township_id, first["pool"])
        repo.flush(pool, "pools")
        return {"movement": movement, "reversal": record["id"], "pool": pool}

    def change(doc):
        facts, entries = domain.reverse_in_project(doc, movement, originals, reason, act)
        return facts, entries, None

    project = mutate_project(repo, township_id, first["project"], change, act)[0]
    repo.flush(project, "projects")
    project = apply_credits(repo, act, project)
    return {"movement": movement, "reversal": f"r{movement}", "project": project}


def ledger_page(repo: FundsRepository, township_id: str, query: Mapping[str, Any]) -> tuple[list, str | None]:
    repo.flush_township(township_id)
    before = None
    if query.get("cursor"):
        at_text, _, entry_id = query["cursor"].partition("|")
        try:
            before = (datetime.fromisoformat(at_text), entry_id)
        except ValueError:
            raise Unprocessable({"cursor": ["not a cursor this API gave"]}) from None
        if before[0].tzinfo is None or not entry_id:
            raise Unprocessable({"cursor": ["not a cursor this API gave"]})
    items = repo.entries(township_id, pool=query.get("pool"), project=query.get("project"), before=before,
                         limit=query["limit"])
    cursor = f"{items[-1]['at'].isoformat()}|{items[-1]['_id']}" if len(items) == query["limit"] else None
    return items, cursor


# ---- consumed events (a project funds does not know: Refused, a dead letter; decision 51) -----------------------
def _known(repo: FundsRepository, event: Event, project_id: str, field: str) -> str:
    if repo.get_project(event.township_id, project_id) is None:
        raise Refused(f"no project {project_id!r} in {event.township_id}", field=field)
    return project_id


def milestone_verified(repo: FundsRepository, event: Event, act: Act) -> dict[str, Any]:
    """feedback verified a milestone report: pay its share (once per event, whatever the redeliveries)."""
    p = event.payload

    def change(doc):
        if domain.seen(doc, event.id):
            return [], [], None
        facts, entries = domain.verify_milestone(doc, p["milestone"], p["report_id"], act)
        return facts, entries, None

    return mutate_project(repo, event.township_id, _known(repo, event, p["project"], "payload.project"),
                          change, act)[0]


def project_completed(repo: FundsRepository, event: Event, act: Act) -> dict[str, Any]:
    """feedback verified the completion report: pay what is left."""
    p = event.payload

    def change(doc):
        if domain.seen(doc, event.id):
            return [], [], None
        facts, entries = domain.complete(doc, p["report_id"], act)
        return facts, entries, None

    return mutate_project(repo, event.township_id, _known(repo, event, p["project"], "payload.project"),
                          change, act)[0]


def meeting_decision(repo: FundsRepository, event: Event, act: Act) -> dict[str, Any] | None:
    """The joint meeting decided an item; only a decision about a project concerns funds."""
    p = event.payload
    if p["subject"]["kind"] != "project":
        return None
    project_id = _known(repo, event, p["subject"]["id"], "payload.subject.id")

    def change(doc):
        if domain.seen(doc, event.id):
            return [], [], None
        return domain.meeting_decision(doc, p, act), [], None

    project = mutate_project(repo, event.township_id, project_id, change, act)[0]
    pools = (p.get("funding") or {}).get("pools") or []
    if p["decision"] != "approve" or not pools or project["status"] != "approved":
        return project
    decision_id = p.get("decision_id") or f"{p['meeting_id']}.{p['item_id']}"
    try:  # the same key on a redelivery: the allocation is replayed, never made twice
        return allocate(repo, act, event.township_id, project_id, {"parts": pools}, f"meeting:{decision_id}")[0]
    except (Conflict, Unprocessable) as exc:
        if isinstance(exc, Conflict) and "pool" not in exc.body:
            raise
        reason = exc.body["message"] if isinstance(exc, Conflict) else "; ".join(exc.body["fields"]["parts"])

    def refuse(doc):
        return domain.allocation_refused(doc, p, pools, reason, event.id), [], None

    return mutate_project(repo, event.township_id, project_id, refuse, act)[0]


# ---- dividends --------------------------------------------------------------------------------------------------
def distribute(repo: FundsRepository, act: Act, township_id: str, command: Mapping[str, Any],
               key: str) -> dict[str, Any]:
    """Share a village collective's income among its shareholders, from its own pool (refused beyond what the
    pool has available); once per idempotency key."""
    pool = get_pool(repo, township_id, command["pool"])
    op = op_id("d", township_id, command["pool"], key)
    existing = repo.get_distribution(township_id, op)
    if existing is not None:
        return existing
    record, entries, facts = domain.dividends(pool, op, command["income_fen"], command["holders"],
                                              command["reason"], act)
    change = {"id": op, "change": "dividend", "amount_fen": -command["income_fen"], "reason": command["reason"],
              "by": act.actor, "at": act.at}
    events = envelopes(township_id, command["pool"], facts, act.at)
    if not repo.change_pool(township_id, command["pool"], change, -command["income_fen"], entries, events):
        pool = get_pool(repo, township_id, command["pool"])
        if not any(c["id"] == op for c in pool["changes"]):
            raise Conflict(f"pool {command['pool']!r} has {pool['available_fen']} fen available",
                           available_fen=pool["available_fen"], allowed=[])
    repo.save_distribution(record)
    repo.flush(get_pool(repo, township_id, command["pool"]), "pools")
    return record


# ---- reports ----------------------------------------------------------------------------------------------------
def report(repo: FundsRepository, township_id: str, by: str, year: int | None) -> list[dict[str, Any]]:
    """Budget execution by pool, source or village, recomputed from the ledger (after moving what is pending)."""
    repo.flush_township(township_id)
    pools = {p["code"]: domain.pool_meta(p) for p in repo.list_pools(township_id, year=year)}
    return ledger.report(repo.totals(township_id, year), pools, by, year)


# ---- recovery ---------------------------------------------------------------------------------------------------
def recover(repo: FundsRepository, now: datetime, grace: timedelta,
            journal_grace: timedelta = timedelta(seconds=5)) -> dict[str, int]:
    """Finish what a crash left (module docstring): abandon allocations under way for longer than ``grace`` and
    give their holds back, settle or give back stale holds by what their project says, apply releases not yet
    credited, and move ledger entries pending for longer than ``journal_grace``."""
    act = Act("service:funds", now)
    older = now - grace
    counts = {"abandoned": 0, "settled": 0, "undone": 0, "credited": 0, "moved": 0}
    for project in repo.projects_needing_attention(older):
        inflight = project.get("inflight")
        if inflight and inflight["at"] <= older:
            def change(doc, attempt=inflight["hold"]):
                domain.end_inflight(doc, attempt)
                return [], [], None

            project = mutate_project(repo, project["township_id"], project["_id"], change, act)[0]
            for part in inflight["parts"]:
                repo.undo(project["township_id"], part["pool"], inflight["hold"])
            counts["abandoned"] += 1
        if project["credits_due"]:
            counts["credited"] += len(project["credits_due"])
            apply_credits(repo, act, project)
    for pool in repo.pools_with_pending():
        for attempt, mark in (pool.get("pending") or {}).items():
            if mark["at"] > older:
                continue
            state = domain.hold_state(repo.get_project(pool["township_id"], mark["project"]), attempt)
            if state == "recorded":
                repo.settle(pool["township_id"], pool["code"], attempt)
                counts["settled"] += 1
            elif state == "abandoned":
                repo.undo(pool["township_id"], pool["code"], attempt)
                counts["undone"] += 1
    counts["moved"] = repo.sweep_journals(utcnow() - journal_grace)  # journals are stamped with the wall clock
    return counts
