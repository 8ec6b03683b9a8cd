"""Meetings use cases over the repository; the nameko service only wires them. Each write stores a document with
its events (outbox) in one update; a consumer's further writes are each idempotent by the event's id, so a
redelivery after a crash finishes what the first delivery began."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, Mapping

from pymongo.errors import DuplicateKeyError

from township_shared import store
from township_shared.auth import Principal
from township_shared.errors import Conflict, NotFound, Refused, Unprocessable
from township_shared.events import Event, envelopes
from township_shared.schemas import meetings as ms

from . import domain
from .repository import MeetingsRepository

SOURCE = "meetings"


def _env(doc: Mapping[str, Any], facts: domain.Facts, now: datetime, correlation: str | None = None):
    return envelopes(facts, source=SOURCE, township_id=doc["township_id"], correlation_id=correlation, time=now)


def _mutate(load: Callable, change: Callable, save: Callable, missing: str, now: datetime,
            correlation: Callable[[dict], str | None] = lambda doc: None):
    """``store.mutate`` where ``change(doc) -> (facts, result)`` returns facts to wrap in envelopes."""
    def apply(doc):
        facts, result = change(doc)
        return _env(doc, facts, now, correlation(doc)), result

    return store.mutate(load, apply, save, missing)


# ---- candidates ------------------------------------------------------------------------------------------------
def add_candidate(repo: MeetingsRepository, cand: dict[str, Any], events: list[dict[str, Any]] = ()) -> dict | None:
    """Store a candidate, or merge its reason into the subject's open candidate. Idempotent (the id derives from
    the event, and a merged reason remembers its event)."""
    for _ in range(store.RETRIES):
        try:
            stored = repo.insert_candidate(cand, list(events))
            return stored
        except DuplicateKeyError:
            existing = repo.open_candidate_of(cand["township_id"], cand["subject"])
            if existing is None:
                continue  # resolved in between: try the insert again
            if not domain.merge_reason(existing, cand):
                return existing
            try:
                return repo.save_candidate(existing, [])
            except store.Stale:
                continue
    return None


def candidate_from_event(repo: MeetingsRepository, event: Event, now: datetime) -> dict | None:
    cid = f"c-{event.id[:24]}"
    build = {"case_escalated": domain.from_escalation, "hotspot_detected": domain.from_hotspot,
             "project_referred": domain.from_project}[event.type]
    return add_candidate(repo, build(cid, event.township_id, event.payload, event.id, now))


def propose_item(repo: MeetingsRepository, dispatch_case: Callable[[str], dict | None], principal: Principal,
                 command: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The office adds an item. A case must be one of the township's (dispatch answers); its summary gets the
    case's number and status."""
    subject = command["subject"]
    summary, village, cases = command["summary"], None, []
    if subject["kind"] == "case":
        case = dispatch_case(subject["id"])
        if case is None:
            raise Unprocessable({"subject.id": [f"no case {subject['id']!r} in the township"]})
        summary = f"{case['case_number']} {case['title']} ({case['village']}, {case['status']}): {summary}"
        village, cases = case["village"], [case["id"]]
    elif subject["kind"] in ("project", "topic", "hotspot"):
        raise Unprocessable({"subject.kind": [f"a {subject['kind']} comes onto the list by itself; the office "
                                                 "adds cases and other items"]})
    cid = f"c-{uuid.uuid4().hex[:24]}"
    reason = {"source": "office", "reason": "added by the office", "detail": command["summary"], "at": now,
              "by": principal.actor, "event_id": cid}
    cand = domain.candidate(cid, principal.township_id, "office", subject, command["title"], summary, now, reason,
                            village, cases)
    facts = [(ms.AgendaItemProposedV1, {"candidate_id": cid, "subject": subject, "title": command["title"]})]
    stored = add_candidate(repo, cand, _env(cand, facts, now))
    if stored is None:
        raise Conflict("the candidate could not be stored; retry", allowed=[])
    return stored


def case_closed(repo: MeetingsRepository, event: Event, now: datetime) -> list[dict[str, Any]]:
    """Dispatch closed a case: candidates about it (or hotspots whose cases are all closed) leave the list;
    decisions on it that were waiting are done (or, if they could not be carried out, superseded)."""
    p = event.payload
    changed = []
    for cand in repo.candidates_of_case(event.township_id, p["case_id"]):
        def change(doc, case_id=p["case_id"]):
            return [], domain.case_closed(doc, case_id, now, p["outcome"])

        try:
            saved, did = _mutate(lambda c=cand: repo.get_candidate(event.township_id, c["_id"]), change,
                                 repo.save_candidate, "gone", now)
        except NotFound:
            continue
        if did:
            changed.append(saved)
    text = f"case closed ({p['outcome']}) by {p['by']}: {p['reason']}"
    for meeting in repo.meetings_following(event.township_id, f"case:{p['case_id']}"):
        def change(doc):
            did = False
            for d in doc["decisions"]:
                if d["subject"] == {"kind": "case", "id": p["case_id"]} and d["state"] not in domain.FINAL_STATES:
                    state = "done" if d["state"] in ("announced", "in_progress") else "superseded"
                    did |= domain.record_outcome(doc, d, event.id, state, text, now)
            return [], did

        saved, _ = _mutate(lambda m=meeting: repo.get_meeting(event.township_id, m["_id"]), change,
                           repo.save_meeting, "gone", now)
        changed.append(saved)
    return changed


# ---- meetings ------------------------------------------------------------------------------------------------
def _meeting_or_404(repo: MeetingsRepository, principal: Principal, meeting_id: str) -> dict[str, Any]:
    meeting = repo.get_meeting(principal.township_id, meeting_id)
    if meeting is None or not domain.may_read(meeting, principal.role, principal.actor):
        raise NotFound(f"no meeting {meeting_id!r}", id=meeting_id)
    return meeting


def schedule(repo: MeetingsRepository, principal: Principal, command: Mapping[str, Any],
             now: datetime) -> dict[str, Any]:
    meeting_id = f"m-{now.strftime('%Y%m%d')}-{uuid.uuid4().hex[:8]}"
    meeting, facts = domain.new_meeting(meeting_id, principal.township_id, command, now, principal.actor)
    return repo.insert_meeting(meeting, _env(meeting, facts, now))


def open_decisions(repo: MeetingsRepository, township_id: str, now: datetime, meeting: Mapping[str, Any] | None = None):
    """Earlier meetings' decisions not done (for a closed meeting: as they were before it closed)."""
    exclude = meeting["_id"] if meeting else None
    return domain.open_decisions(repo.meetings_with_open_decisions(township_id), now, exclude=exclude)


def meeting_view(repo: MeetingsRepository, meeting: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A meeting with its agenda: the earlier decisions not yet done first (live until it closes; the minutes keep
    them as they stood), each item flagged when its subject was resolved meanwhile, its own decisions' state."""
    view = dict(meeting)
    if meeting["status"] != "closed":
        view["open_decisions"] = open_decisions(repo, meeting["township_id"], now, meeting)
        ids = [i["candidate_id"] for i in meeting["items"]]
        cands = repo.candidates_by_ids(meeting["township_id"], ids) if ids else {}
        view["items"] = [{**i, "resolved_meanwhile": (cands.get(i["candidate_id"]) or {}).get("state") == "resolved"}
                         for i in meeting["items"]]
    else:
        view["open_decisions"] = []
    view["decisions"] = [domain.decision_view(meeting, d, now) for d in meeting["decisions"]]
    return view


def get_meeting(repo, principal, meeting_id, now):
    return meeting_view(repo, _meeting_or_404(repo, principal, meeting_id), now)


def list_meetings(repo: MeetingsRepository, principal: Principal, query: Mapping[str, Any]) -> list[dict]:
    attendee = None if principal.role in domain.MANAGERS else principal.actor
    found = repo.list_meetings(principal.township_id, attendee, query.get("status"), query["limit"])
    return [m for m in found if domain.may_read(m, principal.role, principal.actor)]


def _change_meeting(repo, principal, meeting_id, now, change):
    _meeting_or_404(repo, principal, meeting_id)
    saved, _ = _mutate(lambda: repo.get_meeting(principal.township_id, meeting_id), change, repo.save_meeting,
                       f"no meeting {meeting_id!r}", now)
    return saved


def compose(repo, principal, meeting_id, agenda, now):
    ids = [e["candidate_id"] for e in agenda["items"]]
    cands = repo.candidates_by_ids(principal.township_id, ids) if ids else {}
    return _change_meeting(repo, principal, meeting_id, now,
                           lambda m: (domain.compose(m, agenda["items"], cands, now, principal.actor), None))


def publish(repo, principal, meeting_id, now):
    earlier = open_decisions(repo, principal.township_id, now, {"_id": meeting_id})
    return _change_meeting(repo, principal, meeting_id, now,
                           lambda m: (domain.publish(m, earlier, now, principal.actor), None))


def record(repo, principal, meeting_id, item_id, rec, now):
    return _change_meeting(repo, principal, meeting_id, now,
                           lambda m: (domain.record(m, item_id, rec, now, principal.actor), None))


def close(repo, principal, meeting_id, command, now):
    earlier = open_decisions(repo, principal.township_id, now, {"_id": meeting_id})
    return _change_meeting(repo, principal, meeting_id, now,
                           lambda m: (domain.close(m, command["present"], earlier, now, principal.actor), None))


def amend(repo, principal, meeting_id, command, now):
    return _change_meeting(repo, principal, meeting_id, now,
                           lambda m: (domain.amend(m, command["text"], principal.actor, now), None))


def minutes_of(repo, principal, meeting_id) -> dict[str, Any]:
    meeting = _meeting_or_404(repo, principal, meeting_id)
    if meeting["status"] != "closed":
        raise Conflict("the minutes exist once the meeting is closed", status=meeting["status"], allowed=[])
    return meeting


# ---- what became of the decisions ------------------------------------------------------------------------------
def _meeting_of_decision(repo: MeetingsRepository, event: Event, meeting_id: str, decision_id: str):
    meeting = repo.get_meeting(event.township_id, meeting_id)
    if meeting is None or domain.find_decision(meeting, decision_id) is None:
        raise Refused(f"no decision {decision_id!r} of a meeting of township {event.township_id!r}",
                      field="payload.decision_id")
    return meeting


def _on_decision(repo, event, meeting_id, decision_id, now, outcome: Callable[[dict, dict], bool]):
    def change(doc):
        return [], outcome(doc, domain.find_decision(doc, decision_id))

    saved, _ = _mutate(lambda: repo.get_meeting(event.township_id, meeting_id), change, repo.save_meeting, "gone",
                       now)
    return saved


def case_decision_applied(repo: MeetingsRepository, event: Event, now: datetime) -> list[dict[str, Any]]:
    """Dispatch carried out a decision on a case (the tasks it created) or could not (why): recorded on the
    decision; a refused one puts the case back among the candidates and shows at the next meeting."""
    p = event.payload
    meeting = _meeting_of_decision(repo, event, p["meeting_id"], p["decision_id"])
    decision = domain.find_decision(meeting, p["decision_id"])
    if p["applied"]:
        state = "in_progress" if p["decision"] == "assign" else "done"
        text = (f"dispatch assigned tasks {', '.join(p['task_ids'])}" if p["decision"] == "assign"
                else "dispatch closed the case")
    else:
        state, text = "refused", f"dispatch could not carry it out: {p['reason']}"
    saved = [_on_decision(repo, event, p["meeting_id"], p["decision_id"], now,
                          lambda doc, d: domain.record_outcome(doc, d, event.id, state, text, now,
                                                               task_ids=p["task_ids"], refused=p["reason"]))]
    if not p["applied"]:
        saved += reopen_subject(repo, event, decision["subject"], decision["title"], text, now)
    if decision.get("for_topic"):
        saved += apply_to_topic(repo, event, decision["for_topic"], p["decision_id"], text, now,
                                task_ids=p["task_ids"])
    return [s for s in saved if s]


def case_status_changed(repo: MeetingsRepository, event: Event, now: datetime) -> list[dict[str, Any]]:
    """The lead of a case a meeting assigned replied (the case is ``completed``): the decision is done, late if
    past the meeting's deadline. (Closing is :func:`case_closed`'s.)"""
    p = event.payload
    if p["status"] != "completed":
        return []
    saved = []
    for meeting in repo.meetings_following(event.township_id, f"case:{p['case_id']}"):
        def change(doc):
            did = False
            for d in doc["decisions"]:
                if d["subject"] == {"kind": "case", "id": p["case_id"]} and d["state"] == "in_progress":
                    late = " (late)" if domain.is_overdue(d, p["since"]) else ""
                    did |= domain.record_outcome(doc, d, event.id, "done",
                                                 f"the lead replied {p['since'].isoformat()}{late}", now)
            return [], did

        s, did = _mutate(lambda m=meeting: repo.get_meeting(event.township_id, m["_id"]), change,
                         repo.save_meeting, "gone", now)
        if did:
            saved.append(s)
    return saved


def project_event(repo: MeetingsRepository, event: Event, now: datetime) -> list[dict[str, Any]]:
    """What funds did with a project a meeting decided: approved (by the meeting), allocated (done), refused (no
    money left in a pool: shown at the next meeting, the project back among the candidates) or rejected. A
    project the office decided or withdrew meanwhile leaves the candidates."""
    p = event.payload
    subject = {"kind": "project", "id": p["project_id"]}
    by = p.get("decided_by") or ""
    if event.type in ("project_approved", "project_rejected") and not by.startswith("meeting:"):
        saved = []
        for cand in repo.candidates_of_subject(event.township_id, subject):
            if cand["state"] != "open":
                continue

            def change(doc):
                if doc["state"] != "open":
                    return [], False
                domain.resolve(doc, now, f"{event.type.split('_')[1]} by {by}")
                return [], True

            saved.append(_mutate(lambda c=cand: repo.get_candidate(event.township_id, c["_id"]), change,
                                 repo.save_candidate, "gone", now)[0])
        return saved
    if event.type == "project_approved":
        state, text = None, f"funds approved {domain.fen_text(p['approved_fen'])}"
    elif event.type == "project_rejected":
        state, text = "done", f"funds rejected the project: {p['reason']}"
    elif event.type == "funds_allocated":
        parts = ", ".join(f"{x['pool']} {domain.fen_text(x['amount_fen'])}" for x in p["parts"])
        state, text = "done", f"funds allocated {domain.fen_text(p['amount_fen'])} ({parts}), allocation {p['allocation_id']}"
    else:
        state, text = "refused", f"funds could not allocate: {p['reason']}"
    facts = {"allocation_id": p.get("allocation_id"), "refused": p.get("reason") if state == "refused" else None}
    saved = []
    for meeting in repo.meetings_following(event.township_id, domain.subject_key(subject)):
        def change(doc):
            did = False
            for d in doc["decisions"]:
                if d["subject"] == subject and d["state"] in ("announced", "in_progress") and (
                        event.type != "allocation_refused" or d["id"] == p.get("decision_id")):
                    did |= domain.record_outcome(doc, d, event.id, state or "in_progress", text, now, **facts)
            return [], did

        s, did = _mutate(lambda m=meeting: repo.get_meeting(event.township_id, m["_id"]), change,
                         repo.save_meeting, "gone", now)
        if did:
            saved.append(s)
            decision = next((d for d in s["decisions"] if d["subject"] == subject), None)
            if state == "refused" and decision is not None:
                saved += reopen_subject(repo, event, subject, decision["title"], text, now)
            if decision is not None and decision.get("for_topic") and state in ("done", "refused"):
                saved += apply_to_topic(repo, event, decision["for_topic"], decision["id"], text, now,
                                        allocation_id=p.get("allocation_id"))
    return saved


def reopen_subject(repo, event, subject, title, text, now) -> list[dict]:
    """Put a subject back among the open candidates (a refused or deferred decision), once per event."""
    existing = repo.open_candidate_of(event.township_id, subject)
    if existing is None:
        old = repo.candidates_of_subject(event.township_id, subject)
        if old:
            existing = sorted(old, key=lambda c: c["created_at"])[-1]
    if existing is None:
        cand = domain.candidate(f"c-{event.id[:24]}", event.township_id, "decision_refused", subject, title, text,
                                now, {"source": "decision_refused", "reason": "decision_refused", "detail": text,
                                      "at": now, "event_id": event.id})
        return [add_candidate(repo, cand)]

    def change(doc):
        return [], domain.reopen_candidate(doc, now, "decision_refused" if "could not" in text else "deferred",
                                           text, event.id)

    try:
        saved, _ = _mutate(lambda: repo.get_candidate(event.township_id, existing["_id"]), change,
                           repo.save_candidate, "gone", now)
    except DuplicateKeyError:  # another open candidate of the subject appeared meanwhile: it is on the list
        return []
    return [saved]


def settle_decision(repo: MeetingsRepository, event: Event, now: datetime) -> list[dict[str, Any]]:
    """The meeting's own ``meeting_decision_made``: the item's candidate is decided (or, deferred, back on the
    list); earlier open decisions on the same subject are superseded; ``open_topic`` opens the topic."""
    p = event.payload
    subject = p["subject"]
    decision_id = p.get("decision_id") or f"{p['meeting_id']}.{p['item_id']}"
    _meeting_of_decision(repo, event, p["meeting_id"], decision_id)
    saved: list[dict] = []
    if p["decision"] == "defer":
        saved += reopen_subject(repo, event, subject, subject["id"], f"deferred by meeting {p['meeting_id']}: "
                                f"{p['reason']}", now)
    else:
        cand = repo.get_candidate(event.township_id, p["item_id"])
        if cand is not None and cand["state"] == "open":
            def change(doc):
                if doc["state"] != "open":
                    return [], False
                doc.update(state="decided", open_key=None,
                           resolved={"at": now, "why": f"decided by meeting {p['meeting_id']}: {p['decision']}"})
                return [], True

            saved.append(_mutate(lambda: repo.get_candidate(event.township_id, cand["_id"]), change,
                                 repo.save_candidate, "gone", now)[0])
    for meeting in repo.meetings_following(event.township_id, domain.subject_key(subject)):
        if meeting["_id"] == p["meeting_id"]:
            continue

        def supersede(doc):
            did = False
            for d in doc["decisions"]:
                if d["subject"] == subject and d["state"] not in domain.FINAL_STATES and d["decided_at"] < p["decided_at"]:
                    did |= domain.record_outcome(doc, d, event.id, "superseded",
                                                 f"decided again by meeting {p['meeting_id']}", now)
            return [], did

        saved.append(_mutate(lambda m=meeting: repo.get_meeting(event.township_id, m["_id"]), supersede,
                             repo.save_meeting, "gone", now)[0])
    if p["decision"] == "open_topic":
        opening = p["topic"]
        topic, facts = domain.new_topic(f"t-{decision_id}"[:64], event.township_id,
                                        {"village": opening["village"], "title": opening["title"],
                                         "description": opening.get("description") or p["reason"],
                                         "cases": [subject["id"]] if subject["kind"] == "case" else []},
                                        {"kind": "meeting", "actor": f"meeting:{p['meeting_id']}", "name": None},
                                        now, f"meeting:{p['meeting_id']}")
        facts += domain.topic_command(topic, "accept", {"reason": p["reason"]}, now, f"meeting:{p['meeting_id']}")
        saved.append(repo.insert_topic(topic, _env(topic, facts, now)))
        saved += [add_candidate(repo, topic_candidate(topic, now))]
    if p.get("for_topic") and p["decision"] in ("defer", "open_topic") or (
            p.get("for_topic") and subject["kind"] not in ("case", "project")):
        saved += apply_to_topic(repo, event, p["for_topic"], decision_id,
                                f"meeting {p['meeting_id']} decided {p['decision']}: {p['reason']}", now)
    return [s for s in saved if s]


# ---- topics ----------------------------------------------------------------------------------------------------
def topic_candidate(topic: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """An accepted topic on the list of candidates, for a meeting or hearing to negotiate it."""
    reason = {"source": "topic", "reason": "accepted for negotiation", "detail": topic["title"], "at": now,
              "event_id": f"topic:{topic['_id']}"}
    return domain.candidate(f"c-{topic['_id']}"[:64], topic["township_id"], "topic",
                            {"kind": "topic", "id": topic["_id"]}, f"协商议题 {topic['title']}",
                            f"{topic['title']} ({topic['village']}): {topic['description']}", now, reason,
                            topic["village"], topic.get("cases", []))


def propose_topic(repo, principal: Principal, command, now) -> dict[str, Any]:
    if principal.role == "unit" and not principal.actor.startswith("unit:vc_"):
        raise Unprocessable({"_schema": ["a unit proposes topics only as a village committee"]})
    topic_id = f"t-{uuid.uuid4().hex[:16]}"
    proposer = domain.proposer_of(principal.role, principal.actor, command.get("proposer_name"))
    topic, facts = domain.new_topic(topic_id, principal.township_id, command, proposer, now, principal.actor)
    return repo.insert_topic(topic, _env(topic, facts, now))


def topic_or_404(repo, principal: Principal, topic_id: str) -> dict[str, Any]:
    topic = repo.get_topic(principal.township_id, topic_id)
    if topic is None:
        raise NotFound(f"no topic {topic_id!r}", id=topic_id)
    return topic


def act_on_topic(repo, principal: Principal, topic_id: str, command: str, args, now) -> dict[str, Any]:
    topic_or_404(repo, principal, topic_id)
    who = "public" if principal.is_public else principal.actor
    saved, _ = _mutate(lambda: repo.get_topic(principal.township_id, topic_id),
                       lambda t: (domain.topic_command(t, command, args, now, who), None), repo.save_topic,
                       f"no topic {topic_id!r}", now)
    if command == "accept":
        add_candidate(repo, topic_candidate(saved, now))
    return saved


def apply_to_topic(repo, event: Event, topic_id: str, decision_id: str, text: str, now: datetime,
                   **facts: Any) -> list[dict]:
    if repo.get_topic(event.township_id, topic_id) is None:
        return []
    saved, _ = _mutate(lambda: repo.get_topic(event.township_id, topic_id),
                       lambda t: (domain.topic_applied(t, event.id, decision_id, text, now, **facts), None),
                       repo.save_topic, "gone", now)
    return [saved]


def list_topics(repo, principal: Principal, query) -> list[dict[str, Any]]:
    return repo.list_topics(principal.township_id, query.get("village"), query["limit"])
