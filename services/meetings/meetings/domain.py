"""Rules of the joint Party-government meeting and of consultation topics, as plain functions over documents (no
nameko, no pymongo). Functions mutate the document they are given and return the facts to announce as
``(schema_cls, payload)`` pairs.

- **Candidates** are what a meeting may decide: escalated cases, hotspots, referred projects, accepted topics and
  items the office adds, each with its source and a summary so the meeting needs no other screen. One open
  candidate per subject: a second escalation of the same case adds its reason to the first. A candidate resolved
  meanwhile (its case closed) leaves the list by itself.
- **A meeting** is composed (draft), published to its attendees, recorded item by item and closed. Its agenda
  opens with every decision of earlier meetings that is not yet done, with its state. Closing freezes the minutes
  (attendees present and absent, items, notes, votes, decisions, follow-ups, the carried-over decisions as they
  stood) and announces each decision; afterwards only dated addenda by a named actor are added.
- **A decision** is followed until it is done: dispatch's and funds' answers come back as events and are recorded
  on it (task ids, allocations, refusals with their reasons). One that cannot be carried out stays open, shown at
  the next meeting, until a later meeting decides the same subject (superseded) or its case closes.
- **A topic** (协商议题) runs proposal, acceptance or decline, negotiation (positions recorded), agreed result,
  application (through meeting decisions), feedback and conclusion; each step is an event and a history entry.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from township_shared.errors import Conflict, NotFound, Unprocessable
from township_shared.schemas import meetings as ms

Facts = list[tuple[type, dict[str, Any]]]
MANAGERS = ("office", "meeting")
FINAL_STATES = ("done", "superseded")
ESCALATION_WORDS = {"overdue": "逾期未办结 overdue past the grace", "returned_twice": "两次退回 returned twice",
                    "whistle": "吹哨 whistle"}


def subject_key(subject: Mapping[str, str]) -> str:
    return f"{subject['kind']}:{subject['id']}"


# ---- candidates ------------------------------------------------------------------------------------------------
def candidate(candidate_id: str, township_id: str, source: str, subject: Mapping[str, str], title: str,
              summary: str, now: datetime, reason: Mapping[str, Any], village: str | None = None,
              cases: Iterable[str] = ()) -> dict[str, Any]:
    """A new open candidate item. ``open_key`` (township and subject) is unique among open candidates."""
    return {"_id": candidate_id, "township_id": township_id, "source": source, "subject": dict(subject),
            "title": title[:200], "summary": summary[:4000], "village": village, "state": "open",
            "open_key": f"{township_id}|{subject_key(subject)}", "reasons": [dict(reason)], "created_at": now,
            "cases": sorted(set(cases)), "closed_cases": [], "resolved": None, "events": [reason.get("event_id")]}


def from_escalation(candidate_id: str, township_id: str, payload: Mapping[str, Any], event_id: str,
                    now: datetime) -> dict[str, Any]:
    """A case dispatch escalated: overdue past the grace, returned twice or whistled. v2 carries the demand's
    title and place; v1 only the case number."""
    title = payload.get("title") or payload["case_number"]
    where = " · ".join(x for x in (payload.get("village"), payload.get("category"), payload.get("urgency")) if x)
    units = ", ".join(f"{u['kind']}:{u['id']}" for u in payload["units"])
    summary = (f"{payload['case_number']} {title}" + (f" ({where})" if where else "")
               + f": {ESCALATION_WORDS.get(payload['reason'], payload['reason'])}; {payload['detail']}"
               + (f"; units {units}" if units else "") + (f"; status {payload['status']}" if payload.get("status")
                                                         else ""))
    reason = {"source": "case_escalated", "reason": payload["reason"], "detail": payload["detail"], "at": now,
              "event_id": event_id}
    return candidate(candidate_id, township_id, "case_escalated", {"kind": "case", "id": payload["case_id"]},
                     f"{payload['case_number']} {title}", summary, now, reason, payload.get("village"),
                     [payload["case_id"]])


def from_hotspot(candidate_id: str, township_id: str, payload: Mapping[str, Any], event_id: str,
                 now: datetime) -> dict[str, Any]:
    """A cluster of demands of one category in one village; resolved when all its cases are closed."""
    title = f"热点 hotspot: {payload['category']} in {payload['village']}"
    summary = (f"{payload['count']} demands of {payload['category']} in {payload['village']} within "
               f"{payload['window_hours']:g} h ({payload['first_at'].isoformat()} to {payload['last_at'].isoformat()})")
    reason = {"source": "hotspot_detected", "reason": "hotspot", "detail": summary, "at": now, "event_id": event_id}
    return candidate(candidate_id, township_id, "hotspot_detected", {"kind": "hotspot", "id": event_id[:64]},
                     title, summary, now, reason, payload["village"], payload["case_ids"])


def from_project(candidate_id: str, township_id: str, payload: Mapping[str, Any], event_id: str,
                 now: datetime) -> dict[str, Any]:
    """A project funds referred to the meeting: above the threshold only the meeting approves it (三重一大)."""
    summary = (f"{payload['title']}: requests {fen_text(payload['requested_fen'])} (threshold "
               f"{fen_text(payload['threshold_fen'])}), village {payload['village']}, proposed by "
               f"{payload['proposer']['kind']}:{payload['proposer']['id']}; {payload['reason']}")
    reason = {"source": "project_referred", "reason": "referred", "detail": payload["reason"], "at": now,
              "event_id": event_id}
    return candidate(candidate_id, township_id, "project_referred", {"kind": "project", "id": payload["project_id"]},
                     payload["title"], summary, now, reason, payload["village"])


def merge_reason(existing: dict[str, Any], new: Mapping[str, Any]) -> bool:
    """Add a further reason (a second escalation of the same case) to an open candidate; False if this event's
    reason is there already (a redelivery)."""
    reason = new["reasons"][0]
    if reason.get("event_id") in existing.get("events", []):
        return False
    existing["reasons"].append(dict(reason))
    existing.setdefault("events", []).append(reason.get("event_id"))
    existing["summary"] = (new["summary"] + "\n" + existing["summary"])[:4000]
    existing["cases"] = sorted(set(existing.get("cases", [])) | set(new.get("cases", [])))
    return True


def resolve(cand: dict[str, Any], now: datetime, why: str) -> None:
    """The candidate leaves the list: resolved meanwhile, decided, or dismissed."""
    cand.update(state="resolved", resolved={"at": now, "why": why}, open_key=None)


def case_closed(cand: dict[str, Any], case_id: str, now: datetime, outcome: str) -> bool:
    """A case of the candidate closed: a candidate about that case, or a hotspot whose cases are all closed now,
    is resolved. True if the candidate changed."""
    if cand["state"] != "open" or case_id in cand.get("closed_cases", []):
        return False
    cand.setdefault("closed_cases", []).append(case_id)
    if cand["subject"]["kind"] == "case" or set(cand.get("cases", [])) <= set(cand["closed_cases"]):
        resolve(cand, now, f"case {case_id} closed ({outcome})")
    return True


def reopen_candidate(cand: dict[str, Any], now: datetime, source: str, detail: str, event_id: str) -> bool:
    """A deferred or refused decision puts its subject back among the candidates, with why."""
    if event_id in cand.get("events", []):
        return False
    cand.setdefault("events", []).append(event_id)
    cand["reasons"].append({"source": source, "reason": source, "detail": detail, "at": now, "event_id": event_id})
    if cand["state"] != "open":
        cand.update(state="open", resolved=None, open_key=f"{cand['township_id']}|{subject_key(cand['subject'])}")
    return True


# ---- meetings ------------------------------------------------------------------------------------------------
def new_meeting(meeting_id: str, township_id: str, command: Mapping[str, Any], now: datetime,
                by: str) -> tuple[dict[str, Any], Facts]:
    meeting = {"_id": meeting_id, "township_id": township_id, "kind": command["kind"], "title": command["title"],
               "starts_at": command["starts_at"], "place": command["place"], "convener": command["convener"],
               "attendees": [dict(a) for a in command["attendees"]],
               "attendee_actors": [a["actor"] for a in command["attendees"]], "status": "draft", "items": [],
               "decisions": [], "addenda": [], "created_at": now, "created_by": by, "published_at": None,
               "closed_at": None, "minutes": None, "followed": [],
               "history": [{"at": now, "who": by, "what": "scheduled"}]}
    return meeting, [(ms.MeetingScheduledV1, {"meeting_id": meeting_id, "kind": meeting["kind"],
                                              "title": meeting["title"], "starts_at": meeting["starts_at"],
                                              "attendees": meeting["attendee_actors"]})]


def may_read(meeting: Mapping[str, Any], role: str, actor: str) -> bool:
    """The office and the meeting's secretary read every meeting of their township; an attendee the meetings it
    attends (drafts are the secretary's own until published)."""
    if role in MANAGERS:
        return True
    return meeting["status"] != "draft" and actor in meeting.get("attendee_actors", [])


def _open(meeting: Mapping[str, Any]) -> None:
    if meeting["status"] == "closed":
        raise Conflict("the meeting is closed and its minutes are frozen; add a dated addendum instead",
                       status="closed", allowed=["addenda"])


def compose(meeting: dict[str, Any], entries: list[Mapping[str, Any]], candidates: Mapping[str, Mapping[str, Any]],
            now: datetime, by: str) -> Facts:
    """Set the agenda in the given order. An item already on the agenda keeps what was recorded for it; a new one
    must be an open candidate of the township."""
    _open(meeting)
    current = {item["candidate_id"]: item for item in meeting["items"]}
    errors: dict[str, list[str]] = {}
    items = []
    for i, entry in enumerate(entries):
        cid = entry["candidate_id"]
        item = current.get(cid)
        if item is None:
            cand = candidates.get(cid)
            if cand is None or cand["state"] != "open":
                errors[f"items.{i}.candidate_id"] = [f"no open candidate {cid!r}"]
                continue
            item = {"id": cid, "candidate_id": cid, "subject": dict(cand["subject"]), "source": cand["source"],
                    "title": cand["title"], "summary": cand["summary"], "notes": None, "votes": None,
                    "decision": None, "follow_ups": []}
        items.append({**item, "minutes": entry["minutes"], "presenter": entry.get("presenter")})
    if errors:
        raise Unprocessable(errors)
    meeting["items"] = items
    meeting["history"].append({"at": now, "who": by, "what": f"agenda composed ({len(items)} items)"})
    return [(ms.AgendaChangedV1, {"meeting_id": meeting["_id"], "change": "composed",
                                  "item_ids": [i["id"] for i in items]})]


def publish(meeting: dict[str, Any], open_decisions: list[Mapping[str, Any]], now: datetime, by: str) -> Facts:
    """Send the agenda to the attendees (again, after a change), opening with the earlier decisions not done."""
    _open(meeting)
    if not meeting["items"] and not open_decisions:
        raise Conflict("the agenda is empty: compose it first", status=meeting["status"], allowed=["agenda"])
    meeting.update(status="published", published_at=now)
    meeting["history"].append({"at": now, "who": by, "what": "agenda published"})
    return [(ms.AgendaPublishedV1, {"meeting_id": meeting["_id"], "title": meeting["title"],
                                    "starts_at": meeting["starts_at"], "attendees": meeting["attendee_actors"],
                                    "items": [i["subject"] for i in meeting["items"]],
                                    "open_decisions": [d["id"] for d in open_decisions]})]


def find_item(meeting: Mapping[str, Any], item_id: str) -> dict[str, Any]:
    for item in meeting["items"]:
        if item["id"] == item_id:
            return item
    raise NotFound(f"no item {item_id!r} on the agenda of {meeting['_id']}", id=item_id)


def record(meeting: dict[str, Any], item_id: str, rec: Mapping[str, Any], now: datetime, by: str) -> Facts:
    """Record an item's discussion notes, votes, decision and follow-ups (what is given replaces what was)."""
    _open(meeting)
    item = find_item(meeting, item_id)
    decision = rec.get("decision")
    if decision is not None:
        allowed = ms.SUBJECTS_OF[decision["decision"]]
        if item["subject"]["kind"] not in allowed:
            raise Unprocessable({"decision.decision": [
                f"{decision['decision']} is decided on a {' or '.join(allowed)}, this item is about a "
                f"{item['subject']['kind']}"]})
        if decision["decision"] == "assign" and decision["assignment"]["deadline"] <= now:
            raise Unprocessable({"decision.assignment.deadline": ["must be in the future"]})
        item["decision"] = dict(decision)
    for field in ("notes", "votes"):
        if rec.get(field) is not None:
            item[field] = rec[field]
    if rec.get("follow_ups"):
        item["follow_ups"] = list(rec["follow_ups"])
    meeting["history"].append({"at": now, "who": by, "what": f"item {item_id} recorded"})
    return [(ms.AgendaChangedV1, {"meeting_id": meeting["_id"], "change": "recorded", "item_ids": [item_id]})]


def initial_state(decision: str, subject_kind: str) -> str:
    """Who carries a decision out: dispatch (a case's assign and close), funds (a project's), nobody else (the
    meeting's own: done at once; a deferral waits for a later meeting)."""
    if decision == "defer":
        return "deferred"
    if (subject_kind == "case" and decision in ("assign", "close")) or subject_kind == "project":
        return "announced"
    return "done"


def decision_detail(decision: Mapping[str, Any]) -> dict[str, Any] | None:
    part = ms.PARTS.get(decision["decision"])
    return decision.get(part) if part else None


def close(meeting: dict[str, Any], present: list[str], open_decisions: list[Mapping[str, Any]], now: datetime,
          by: str) -> Facts:
    """Close the meeting: every item needs its decision; the minutes are frozen as a document and every decision
    announced, in one write."""
    _open(meeting)
    if meeting["status"] != "published":
        raise Conflict("publish the agenda before the meeting closes", status=meeting["status"],
                       allowed=["publish"])
    undecided = [i["id"] for i in meeting["items"] if i.get("decision") is None]
    if undecided:
        raise Conflict(f"items without a decision: {', '.join(undecided)} (defer them if need be)",
                       status=meeting["status"], allowed=["record"])
    unknown = sorted(set(present) - set(meeting["attendee_actors"]))
    if unknown:
        raise Unprocessable({"present": [f"not attendees of this meeting: {', '.join(unknown)}"]})
    absent = [a for a in meeting["attendee_actors"] if a not in present]
    facts: Facts = []
    decisions = []
    for item in meeting["items"]:
        d = item["decision"]
        decision_id = f"{meeting['_id']}.{item['id']}"
        state = initial_state(d["decision"], item["subject"]["kind"])
        decisions.append({"id": decision_id, "item_id": item["id"], "subject": item["subject"],
                          "title": item["title"], "decision": d["decision"], "reason": d["reason"],
                          "detail": decision_detail(d), "for_topic": d.get("for_topic"), "decided_at": now,
                          "state": state, "outcomes": [], "outcome_events": []})
        facts.append((ms.MeetingDecisionMadeV1, {
            "meeting_id": meeting["_id"], "item_id": item["id"], "decision_id": decision_id, "decided_at": now,
            "subject": item["subject"], "decision": d["decision"], "reason": d["reason"],
            "for_topic": d.get("for_topic"),
            **{part: d.get(part) for part in ("assignment", "funding", "closing", "deferral", "topic")}}))
    meeting["decisions"] = decisions
    meeting["minutes"] = {
        "title": meeting["title"], "kind": meeting["kind"], "starts_at": meeting["starts_at"],
        "place": meeting["place"], "convener": meeting["convener"],
        "present": [a for a in meeting["attendees"] if a["actor"] in present],
        "absent": [a for a in meeting["attendees"] if a["actor"] in absent],
        "carried_over": [{"id": d["id"], "meeting_title": d.get("meeting_title"), "title": d["title"],
                          "decision": d["decision"], "state": d["state"], "overdue": d.get("overdue", False),
                          "outcomes": [o.get("text") for o in d.get("outcomes", [])]} for d in open_decisions],
        "items": [{"id": i["id"], "title": i["title"], "source": i["source"], "subject": i["subject"],
                   "summary": i["summary"], "presenter": i.get("presenter"), "minutes": i["minutes"],
                   "notes": i.get("notes"), "votes": i.get("votes"), "decision": i["decision"],
                   "follow_ups": i.get("follow_ups", [])} for i in meeting["items"]],
        "closed_at": now, "closed_by": by}
    meeting.update(status="closed", closed_at=now)
    refresh_followed(meeting)
    meeting["history"].append({"at": now, "who": by, "what": "closed; minutes frozen"})
    return [(ms.MeetingClosedV1, {"meeting_id": meeting["_id"], "closed_at": now, "present": list(present),
                                  "absent": absent, "decisions": [d["id"] for d in decisions]})] + facts


def refresh_followed(meeting: dict[str, Any]) -> None:
    """The subjects of the meeting's decisions that are not final yet (indexed: outcomes find their meeting)."""
    meeting["followed"] = sorted({subject_key(d["subject"]) for d in meeting["decisions"]
                                  if d["state"] not in FINAL_STATES})


def amend(meeting: dict[str, Any], text: str, by: str, now: datetime) -> Facts:
    """A dated correction by a named actor; the frozen minutes stay as they were."""
    if meeting["status"] != "closed":
        raise Conflict("the meeting is not closed: record the item instead", status=meeting["status"],
                       allowed=["record"])
    addendum_id = f"a{len(meeting['addenda']) + 1}"
    meeting["addenda"].append({"id": addendum_id, "at": now, "by": by, "text": text})
    return [(ms.MinutesAmendedV1, {"meeting_id": meeting["_id"], "addendum_id": addendum_id, "by": by, "at": now})]


def find_decision(meeting: Mapping[str, Any], decision_id: str) -> dict[str, Any] | None:
    return next((d for d in meeting.get("decisions", []) if d["id"] == decision_id), None)


def record_outcome(meeting: dict[str, Any], decision: dict[str, Any], event_id: str, state: str | None, text: str,
                   now: datetime, **facts: Any) -> bool:
    """Record what a service did with a decision (once per event). A final decision keeps its state; False if
    nothing changed."""
    if event_id in decision["outcome_events"]:
        return False
    decision["outcome_events"].append(event_id)
    decision["outcomes"].append({"at": now, "text": text, **facts})
    if state is not None and decision["state"] not in FINAL_STATES:
        decision["state"] = state
    refresh_followed(meeting)
    return True


def is_overdue(decision: Mapping[str, Any], now: datetime) -> bool:
    deadline = (decision.get("detail") or {}).get("deadline") if decision["decision"] == "assign" else None
    return bool(deadline and decision["state"] not in FINAL_STATES and deadline < now)


def decision_view(meeting: Mapping[str, Any], decision: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {**decision, "meeting_id": meeting["_id"], "meeting_title": meeting["title"],
            "overdue": is_overdue(decision, now)}


def open_decisions(meetings: Iterable[Mapping[str, Any]], now: datetime, before: datetime | None = None,
                   exclude: str | None = None) -> list[dict[str, Any]]:
    """Decisions of closed meetings (before ``before``) that are not done, oldest meeting first."""
    found = []
    for meeting in sorted(meetings, key=lambda m: m["closed_at"] or m["starts_at"]):
        if meeting["_id"] == exclude or meeting["status"] != "closed":
            continue
        if before is not None and meeting["closed_at"] and meeting["closed_at"] > before:
            continue
        found += [decision_view(meeting, d, now) for d in meeting["decisions"] if d["state"] not in FINAL_STATES]
    return found


# ---- topics --------------------------------------------------------------------------------------------------
NEXT_STEPS = {"accept": ("proposed",), "decline": ("proposed",), "negotiation": ("accepted", "negotiated"),
              "result": ("negotiated",), "feedback": ("agreed", "applied", "feedback"),
              "conclude": ("agreed", "applied", "feedback")}


def proposer_of(role: str, actor: str, name: str | None) -> dict[str, Any]:
    kind = {"public": "villager", "unit": "village_committee", "party_member": "party_member", "office": "office",
            "meeting": "meeting"}.get(role, role)
    return {"kind": kind, "actor": None if role == "public" else actor, "name": name}


def _step(topic: dict[str, Any], step: str, now: datetime, who: str, note: str | None) -> Facts:
    topic["step"] = step
    topic["history"].append({"at": now, "step": step, "who": who, "note": note})
    return [(ms.TOPIC_EVENTS[step], {"topic_id": topic["_id"], "village": topic["village"], "title": topic["title"],
                                     "step": step, "note": note})]


def new_topic(topic_id: str, township_id: str, command: Mapping[str, Any], proposer: Mapping[str, Any],
              now: datetime, who: str) -> tuple[dict[str, Any], Facts]:
    topic = {"_id": topic_id, "township_id": township_id, "village": command["village"], "title": command["title"],
             "description": command["description"], "proposer": dict(proposer), "cases": list(command["cases"]),
             "step": "proposed", "decline_reason": None, "positions": [], "negotiations": [], "result": None,
             "applications": [], "feedback": [], "conclusion": None, "history": [], "proposed_at": now,
             "applied_events": []}
    return topic, _step(topic, "proposed", now, who, None)


def topic_command(topic: dict[str, Any], command: str, args: Mapping[str, Any], now: datetime,
                  who: str) -> Facts:
    """Move a topic one step on its course; a step its state does not allow is a 409 naming the allowed ones."""
    allowed_from = NEXT_STEPS[command]
    if topic["step"] not in allowed_from:
        raise Conflict(f"cannot {command} a topic that is {topic['step']}", status=topic["step"],
                       allowed=sorted(c for c, steps in NEXT_STEPS.items() if topic["step"] in steps))
    if command == "accept":
        return _step(topic, "accepted", now, who, args["reason"])
    if command == "decline":
        topic["decline_reason"] = args["reason"]
        return _step(topic, "declined", now, who, args["reason"])
    if command == "negotiation":
        entry = {"at": now, "meeting_id": args.get("meeting_id"), "positions": [dict(p) for p in args["positions"]]}
        topic["negotiations"].append(entry)
        topic["positions"] = topic["positions"] + entry["positions"]
        return _step(topic, "negotiated", now, who, f"{len(entry['positions'])} positions recorded"
                     + (f" at meeting {args['meeting_id']}" if args.get("meeting_id") else ""))
    if command == "result":
        topic["result"] = args["result"]
        return _step(topic, "agreed", now, who, args["result"])
    if command == "feedback":
        topic["feedback"].append({"at": now, "by": who, "stakeholder": args.get("stakeholder"),
                                  "satisfied": args.get("satisfied"), "text": args["text"]})
        return _step(topic, "feedback", now, who, args["text"])
    topic["conclusion"] = args["summary"]
    return _step(topic, "concluded", now, who, args["summary"])


def topic_applied(topic: dict[str, Any], event_id: str, decision_id: str, text: str, now: datetime,
                  **facts: Any) -> Facts:
    """A decision applying the topic's agreed result was carried out (or refused): recorded once per event."""
    if event_id in topic.get("applied_events", []):
        return []
    topic.setdefault("applied_events", []).append(event_id)
    topic["applications"].append({"at": now, "decision_id": decision_id, "text": text, **facts})
    if topic["step"] in ("agreed", "applied", "feedback"):
        return _step(topic, "applied", now, "meeting", text)
    topic["history"].append({"at": now, "step": topic["step"], "who": "meeting", "note": text})
    return []


def public_topic(topic: Mapping[str, Any]) -> dict[str, Any]:
    """The public's view: the course and results, never proposers' or stakeholders' names or positions."""
    return {**topic, "steps": [{"at": h["at"], "step": h["step"]} for h in topic["history"]],
            "result": topic.get("result"),
            "applications": [{"at": a["at"], "text": a["text"]} for a in topic.get("applications", [])]}


def fen_text(fen: int) -> str:
    """Integer fen as yuan for people: 12345678 -> ¥123,456.78."""
    return f"¥{fen // 100:,}.{fen % 100:02d}"
