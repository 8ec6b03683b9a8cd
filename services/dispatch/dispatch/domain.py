"""Dispatch rules as plain functions over a case document (a dict), the aggregate that holds its tasks.

A case and all its tasks live in one document so every command is one atomic, versioned write, and the events
it produces ride in the same write (outbox). Functions here mutate the case they are given and return the events
as ``(schema_cls, payload)`` pairs; they never do I/O.

Task lifecycle (12345 practice)::

    assigned --sign--> signed --start--> in_progress --complete--> completed
       |                 |  \\--complete--> completed      |
       |                 \\--request_extension--> extension_requested <--/
       |                                          --decide_extension--> in_progress (deadline moved if approved)
       \\--return (reason)--> returned      (office re-routing or closing cancels open tasks: cancelled)

First receiver leads (首接负责制): when the lead returns a multi-unit case, the co-handler that signed first becomes
the lead instead of the case going back to triage.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from township_shared.errors import Conflict, NotFound, Unprocessable
from township_shared.schemas import dispatch as ev
from township_shared.schemas.dispatch import CaseReopenedV1

from .classify import Classification, Tuning

OPEN_TASK_STATES = ("assigned", "signed", "in_progress", "extension_requested")
TRANSITIONS: dict[str, dict[str, str]] = {
    "assigned": {"sign": "signed", "return": "returned"},
    "signed": {"start": "in_progress", "request_extension": "extension_requested", "complete": "completed"},
    "in_progress": {"request_extension": "extension_requested", "complete": "completed"},
    "extension_requested": {"decide_extension": "in_progress"},
}
OFFICE = "office"
OFFICE_COMMANDS = frozenset(c.name for c in ev.TASK_COMMANDS if c.office)

Events = list[tuple[type, dict[str, Any]]]


@dataclass(frozen=True)
class Policy:
    """Deadlines and chasing, all configurable (config.yaml)."""

    sign_minutes: Mapping[str, int] = field(default_factory=lambda: {"emergency": 60, "utilities": 120,
                                                                     "general": 1440})
    reminder_fraction: float = 0.25
    escalation_grace: timedelta = timedelta(hours=24)
    whistle_report: timedelta = timedelta(minutes=30)
    classification: Tuning = field(default_factory=Tuning)


def actor_key(ref: Mapping[str, str]) -> str:
    return f"{ref['kind']}:{ref['id']}"


def parse_actor_key(key: str) -> dict[str, str]:
    kind, _, ident = key.partition(":")
    return {"kind": kind, "id": ident}


# ---- routing -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """Who gets the case and why; ``choice`` is the scored choice behind it where the responsibility list left one
    (:mod:`dispatch.choice`), kept on the case."""

    lead: dict[str, str]
    co_handlers: list[dict[str, str]]
    reason: str
    choice: dict[str, Any] | None = None


@dataclass(frozen=True)
class Triage:
    reason: str
    candidates: tuple[str, ...] = ()
    choice: dict[str, Any] | None = None


def match_rules(rules: Iterable[Mapping[str, Any]], category: str, village: str,
                lead: str | None = None) -> Route | Triage:
    """Apply the responsibility list: rules naming the village beat ``*`` rules; among the most specific, one
    lead routes, several different leads are ambiguous (triage, the leads as candidates), none is triage. With
    ``lead`` (one of the ambiguous leads, chosen by :mod:`dispatch.choice`), the route of that lead's rules."""
    specific, general = [], []
    for rule in rules:
        if rule["category"] != category:
            continue
        if village in rule["villages"]:
            specific.append(rule)
        elif "*" in rule["villages"]:
            general.append(rule)
    best = specific or general
    if lead is not None:
        best = [r for r in best if r["lead"] == lead]
    if not best:
        return Triage(f"no responsibility rule for {category} in {village}")
    leads = sorted({r["lead"] for r in best})
    if len(leads) > 1:
        return Triage(f"ambiguous: {len(leads)} rules lead {category} in {village}",
                      tuple(f"unit:{lead}" for lead in leads))
    co = sorted({c for r in best for c in r.get("co_handlers", []) if c != leads[0]})
    return Route({"kind": "unit", "id": leads[0]}, [{"kind": "unit", "id": c} for c in co],
                 f"responsibility list: {category} in {'village ' + village if specific else 'every village'}")


# ---- assignment ----------------------------------------------------------------------------------------------
def _history(case: dict[str, Any], now: datetime, who: str, what: str, why: str | None = None,
             task_id: str | None = None, step: str | None = None) -> None:
    """Record who did what and why. ``step`` marks the entries the public timeline shows (:data:`PUBLIC_STEPS`)."""
    entry = {"at": now, "who": who, "what": what, "why": why, "task_id": task_id}
    if step:
        entry["step"] = step
    case.setdefault("history", []).append(entry)


def _task_fact(case: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
    return {"case_id": case["_id"], "task_id": task["id"], "assignee": task["assignee"], "role": task["role"],
            "category": case.get("category"), "village": case["village"]}


def open_tasks(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [t for t in case.get("tasks", []) if t["status"] in OPEN_TASK_STATES]


def classified(case: dict[str, Any], result: Classification, now: datetime) -> None:
    """Keep an automatic classification on the case (decision, confidence, candidates with their scores, the
    words and learned examples behind it) and say it in the history, so the office sees why a case went where it
    did, or why it waits for a person."""
    case["classification"] = {
        "category": result.category, "confidence": result.confidence,
        "candidates": [{"category": c.category, "score": c.score, "confidence": c.confidence}
                       for c in result.candidates],
        "words": [{"category": e.category, "term": e.term, "weight": e.weight, "negated": e.negated}
                  for e in result.evidence],
        "learned": [dict(item.as_dict()) for item in result.learned],
        "explanation": result.explain(), "at": now}
    if result.category:
        case["category"], case["classified_by"] = result.category, "keywords"
    _history(case, now, "system", f"classified as {result.category}" if result.category else "not classified",
             result.explain())


def chosen(case: dict[str, Any], choice: Mapping[str, Any] | None, now: datetime) -> None:
    """Keep the scored choice of who gets the case (:mod:`dispatch.choice`: candidates, their points, the one
    taken and why) on the case, so the office sees it next to the classification."""
    if choice:
        case["choice"] = {**choice, "at": now}


def to_triage(case: dict[str, Any], now: datetime, reason: str, candidates: Sequence[str] = (),
              who: str = "system", status: str = "triage") -> Events:
    """Queue the case for the office: ``triage``, or ``duplicate`` for a demand linked to an open case."""
    case["status"] = status
    case["triage"] = {"reason": reason, "candidates": list(candidates), "since": now}
    _history(case, now, who, "queued for triage", reason, step=status)
    return [(ev.CaseTriagedV1, {"case_id": case["_id"], "case_number": case["case_number"], "reason": reason,
                                "candidates": list(candidates)})]


def assign(case: dict[str, Any], route: Route, now: datetime, policy: Policy, handling_deadline: datetime,
           by: str, classified_by: str) -> Events:
    """Give the case new tasks: one lead and its co-handlers. Open tasks from an earlier routing are cancelled."""
    if case["status"] == "closed":
        raise Conflict("cannot route a closed case", status="closed", allowed=[])
    events: Events = []
    for task in open_tasks(case):
        task["status"] = "cancelled"
        _history(case, now, by, "task cancelled by re-routing", route.reason, task["id"])
    case["status"] = "dispatched"
    case.pop("triage", None)
    sign_deadline = now + timedelta(minutes=policy.sign_minutes[case["urgency"]])
    tasks = case.setdefault("tasks", [])
    for role, ref in [("lead", route.lead)] + [("co_handler", c) for c in route.co_handlers]:
        task = {"id": f"{case['_id']}.{len(tasks) + 1}", "assignee": dict(ref), "assignee_key": actor_key(ref),
                "role": role, "status": "assigned", "assigned_at": now, "sign_deadline": sign_deadline,
                "handling_deadline": handling_deadline, "alarms": []}
        tasks.append(task)
        _history(case, now, by, f"assigned to {task['assignee_key']} as {role}", route.reason, task["id"],
                 step="assigned")
        events.append((ev.TaskAssignedV1, {**_task_fact(case, task), "urgency": case["urgency"],
                                           "assigned_at": now, "sign_deadline": sign_deadline,
                                           "handling_deadline": handling_deadline}))
    events.insert(0, (ev.CaseRoutedV1, {"case_id": case["_id"], "case_number": case["case_number"],
                                        "category": case["category"], "village": case["village"],
                                        "lead": route.lead, "co_handlers": route.co_handlers, "by": by,
                                        "reason": route.reason, "classified_by": classified_by}))
    refresh(case, policy)
    return events


# ---- task commands -------------------------------------------------------------------------------------------
def find_task(case: Mapping[str, Any], task_id: str) -> dict[str, Any]:
    for task in case.get("tasks", []):
        if task["id"] == task_id:
            return task
    raise NotFound(f"no task {task_id!r}", id=task_id)


def allowed_commands(task: Mapping[str, Any]) -> list[str]:
    return sorted(TRANSITIONS.get(task["status"], {}))


@dataclass(frozen=True)
class TaskAction:
    """What a task command's rule gets besides the case and the task: who acts, the loaded body, when, the task's
    state after the command (:data:`TRANSITIONS`) and the fields every task event carries, taken before the
    change."""

    actor: str
    args: Mapping[str, Any]
    now: datetime
    target: str
    fact: dict[str, Any]


def act(case: dict[str, Any], task_id: str, actor: str, command: str, args: Mapping[str, Any], now: datetime,
        policy: Policy) -> Events:
    """Run a task command for ``actor`` (``<kind>:<id>``, or ``office`` for office decisions): its rule from
    :data:`TASK_COMMAND_RULES`.

    A task belongs to its assignee: anybody else gets NotFound (no leak of other units' work); an office command
    (``TASK_COMMANDS``' ``office``) belongs to the office. A command the task's state does not allow is a Conflict
    listing the allowed ones."""
    task = find_task(case, task_id)
    if command in OFFICE_COMMANDS:
        if actor != OFFICE:
            raise NotFound(f"no task {task_id!r} for {actor}", id=task_id)
    elif task["assignee_key"] != actor:
        raise NotFound(f"no task {task_id!r} for {actor}", id=task_id)
    target = TRANSITIONS.get(task["status"], {}).get(command)
    if target is None:
        raise Conflict(f"cannot {command} a task that is {task['status']}", status=task["status"],
                       allowed=allowed_commands(task))
    events = TASK_COMMAND_RULES[command](case, task, TaskAction(actor, args, now, target, _task_fact(case, task)))
    refresh(case, policy)
    return events


def _sign(case: dict[str, Any], task: dict[str, Any], a: TaskAction) -> Events:
    within = a.now <= task["sign_deadline"]
    task.update(status=a.target, signed_at=a.now, signed_within_deadline=within)
    if task["role"] == "lead":
        case["status"] = "in_progress"
    _history(case, a.now, a.actor, "signed", a.args.get("note"), task["id"], step="signed")
    return [(ev.TaskSignedV1, {**a.fact, "signed_at": a.now, "within_deadline": within, "lead_now": False})]


def _return(case: dict[str, Any], task: dict[str, Any], a: TaskAction) -> Events:
    """Returned by the lead: a co-handler that signed leads (first receiver), else back to triage; the second
    return of a case escalates it."""
    reason = a.args["reason"]
    task.update(status=a.target, returned_at=a.now, return_reason=reason)
    case["returns"] = case.get("returns", 0) + 1
    _history(case, a.now, a.actor, "returned", reason, task["id"], step="returned")
    events: Events = [(ev.TaskReturnedV1, {**a.fact, "reason": reason, "returns": case["returns"]})]
    if task["role"] == "lead":
        events.extend(_after_lead_returned(case, task, a.now))
    if case["returns"] == 2:
        events.extend(escalate(case, a.now, "returned_twice", f"returned {case['returns']} times"))
    return events


def _start(case: dict[str, Any], task: dict[str, Any], a: TaskAction) -> Events:
    task["status"] = a.target
    _history(case, a.now, a.actor, "started", a.args.get("note"), task["id"])
    return []


def _request_extension(case: dict[str, Any], task: dict[str, Any], a: TaskAction) -> Events:
    """Only before the handling deadline, and only for a later one."""
    until, reason = a.args["until"], a.args["reason"]
    if a.now >= task["handling_deadline"]:
        raise Conflict("an extension must be requested before the handling deadline",
                       status=task["status"], allowed=["complete"])
    if until <= task["handling_deadline"]:
        raise Unprocessable({"until": ["must be after the current handling deadline "
                                          f"{task['handling_deadline'].isoformat()}"]})
    task.update(status=a.target, extension={"requested_at": a.now, "until": until, "reason": reason})
    _history(case, a.now, a.actor, f"extension requested until {until.isoformat()}", reason, task["id"],
             step="extension_requested")
    return [(ev.TaskExtensionRequestedV1, {**a.fact, "until": until, "reason": reason})]


def _decide_extension(case: dict[str, Any], task: dict[str, Any], a: TaskAction) -> Events:
    """An approval moves the handling deadline and re-arms its alarms."""
    approved, reason = a.args["approved"], a.args["reason"]
    ext = task["extension"]
    ext.update(decided_at=a.now, approved=approved, decision_reason=reason)
    if approved:
        task["handling_deadline"] = ext["until"]
        task["alarms"] = [alarm for alarm in task.get("alarms", []) if not alarm.startswith("handling")]
    task["status"] = a.target
    _history(case, a.now, a.actor, "extension " + ("approved" if approved else "refused"), reason, task["id"],
             step="extension_decided")
    return [(ev.TaskExtensionDecidedV1, {**a.fact, "approved": approved,
                                         "handling_deadline": task["handling_deadline"], "reason": reason})]


def _complete(case: dict[str, Any], task: dict[str, Any], a: TaskAction) -> Events:
    on_time = a.now <= task["handling_deadline"]
    task.update(status=a.target, completed_at=a.now, reply=a.args["reply"],
                reply_attachments=list(a.args.get("attachments") or []), completed_on_time=on_time)
    if task["role"] == "lead":
        case["status"] = "completed"
    _history(case, a.now, a.actor, "completed", a.args["reply"], task["id"], step="completed")
    return [(ev.TaskCompletedV1, {**a.fact, "reply": a.args["reply"], "attachments": task["reply_attachments"],
                                  "completed_at": a.now, "on_time": on_time,
                                  "handling_seconds": (a.now - task["assigned_at"]).total_seconds()})]


# One rule per command of ``township_shared.schemas.dispatch.TASK_COMMANDS`` (names, bodies, who may call);
# tests/test_domain.py checks that the two agree.
TASK_COMMAND_RULES = {"sign": _sign, "return": _return, "start": _start, "request_extension": _request_extension,
                      "decide_extension": _decide_extension, "complete": _complete}


def _after_lead_returned(case: dict[str, Any], task: dict[str, Any], now: datetime) -> Events:
    signed = sorted((t for t in open_tasks(case) if t.get("signed_at")), key=lambda t: t["signed_at"])
    if signed:
        heir = signed[0]
        heir["role"] = "lead"
        case["status"] = "in_progress"
        _history(case, now, "system", f"{heir['assignee_key']} leads: first receiver among the co-handlers",
                 "lead returned the task", heir["id"])
        return []
    for other in open_tasks(case):
        other["status"] = "cancelled"
        _history(case, now, "system", "task cancelled: case back to triage", "lead returned", other["id"])
    return to_triage(case, now, f"returned by {task['assignee_key']}: {task['return_reason']}")


# ---- after the callback --------------------------------------------------------------------------------------
def _lead_of_callback(case: Mapping[str, Any], callback_id: str) -> dict[str, Any] | None:
    """The completed lead task a callback is about (a callback's id is its task's id), if it is the case's
    latest completion: a callback of a superseded completion no longer moves the case."""
    completed = [t for t in case.get("tasks", []) if t["role"] == "lead" and t["status"] == "completed"]
    return completed[-1] if completed and completed[-1]["id"] == callback_id else None


def callback_under_way(case: dict[str, Any], now: datetime, callback_id: str) -> Events:
    """Feedback recorded an attempt or an answer to review: a completed case is now in its callback."""
    if case["status"] != "completed" or _lead_of_callback(case, callback_id) is None:
        return []
    case["status"] = "callback"
    _history(case, now, "callback", "callback under way", None, callback_id, step="callback")
    return []


def conclude_callback(case: dict[str, Any], now: datetime, policy: Policy, fact: Mapping[str, Any],
                      handling_deadline: datetime, unit_active: bool) -> Events:
    """Feedback's ``callback_concluded``: close the case with the callback's outcome, or reopen it for a redo
    (announcing ``case_reopened``). Only the conclusion of the latest completion of an open case counts."""
    if case["status"] not in ("completed", "callback") or _lead_of_callback(case, fact["callback_id"]) is None:
        return []
    if fact["outcome"] != "redo":
        return close(case, fact["outcome"], fact["reason"], "callback", now, policy)
    reopened = (CaseReopenedV1, {k: fact[k] for k in ("case_id", "callback_id", "unit", "village", "category",
                                                        "reason", "stage")})
    return [reopened] + reopen(case, now, policy, fact["reason"], fact["unit"], fact["stage"], handling_deadline,
                               unit_active)


def reopen(case: dict[str, Any], now: datetime, policy: Policy, reason: str, unit: Mapping[str, str], stage: str,
           handling_deadline: datetime, unit_active: bool) -> Events:
    """Redo (重办): back to handling by the same lead (``stage`` handling) or to the office to route anew."""
    case["redos"] = case.get("redos", 0) + 1
    _history(case, now, "callback", "reopened for redo", reason, step="reopened")
    if stage == "handling" and unit_active:
        route = Route(dict(unit), [], f"redo: {reason}")
        return assign(case, route, now, policy, handling_deadline, "callback", case.get("classified_by") or "office")
    for task in open_tasks(case):
        task["status"] = "cancelled"
        _history(case, now, "callback", "task cancelled: redo goes back to triage", reason, task["id"])
    return to_triage(case, now, f"redo: {reason}")


# ---- office commands -----------------------------------------------------------------------------------------
def close(case: dict[str, Any], outcome: str, reason: str, by: str, now: datetime, policy: Policy) -> Events:
    if case["status"] == "closed":
        raise Conflict("the case is already closed", status="closed", allowed=[])
    for task in open_tasks(case):
        task["status"] = "cancelled"
        _history(case, now, by, "task cancelled: case closed", reason, task["id"])
    case.update(status="closed", closed={"at": now, "outcome": outcome, "reason": reason, "by": by})
    case.pop("triage", None)
    _history(case, now, by, f"closed ({outcome})", reason, step="closed")
    refresh(case, policy)
    return [(ev.CaseClosedV1, {"case_id": case["_id"], "outcome": outcome, "reason": reason, "by": by})]


def escalate(case: dict[str, Any], now: datetime, reason: str, detail: str,
             units: Sequence[Mapping[str, str]] = ()) -> Events:
    case.setdefault("escalations", []).append({"at": now, "reason": reason, "detail": detail})
    _history(case, now, "system", f"escalated ({reason})", detail, step="escalated")
    return [(ev.CaseEscalatedV2, {"case_id": case["_id"], "case_number": case["case_number"], "reason": reason,
                                  "detail": detail, "units": [dict(u) for u in units],
                                  "title": case.get("title") or case["case_number"], "village": case["village"],
                                  "category": case.get("category"), "urgency": case.get("urgency") or "general",
                                  "status": case["status"]})]


# ---- decisions of the joint meeting ---------------------------------------------------------------------------
def meeting_decision(case: dict[str, Any], decision: Mapping[str, Any], now: datetime, policy: Policy,
                     lead_problem: str | None) -> Events:
    """Carry out a joint meeting's ``assign`` or ``close`` of this case, noting the meeting in the history, and
    announce what was done (``case_decision_applied``). What cannot be carried out (the case is closed, the lead
    unit is missing or inactive: ``lead_problem``) is announced as refused with the reason, never dropped: the
    next meeting sees it. ``assign`` gives the lead and co-units new tasks with the meeting's deadline (open
    tasks of an earlier routing are cancelled)."""
    by = f"meeting:{decision['meeting_id']}"
    fact = {"decision_id": decision.get("decision_id") or f"{decision['meeting_id']}.{decision['item_id']}",
            "meeting_id": decision["meeting_id"], "item_id": decision["item_id"], "case_id": case["_id"],
            "decision": decision["decision"]}
    problem = "the case is closed" if case["status"] == "closed" else lead_problem
    if problem is not None:
        _history(case, now, by, f"joint meeting decision ({decision['decision']}) not carried out", problem)
        return [(ev.CaseDecisionAppliedV1, {**fact, "applied": False, "task_ids": [], "reason": problem})]
    why = f"joint meeting {decision['meeting_id']}: {decision['reason']}"
    if decision["decision"] == "close":
        events = close(case, decision["closing"]["outcome"], why, by, now, policy)
        return events + [(ev.CaseDecisionAppliedV1, {**fact, "applied": True, "task_ids": [], "reason": None})]
    assignment = decision["assignment"]
    lead = dict(assignment["lead"])
    co = [dict(u) for u in assignment["co_units"] if u["id"] != lead["id"]]
    before = len(case.get("tasks", []))
    events = assign(case, Route(lead, co, why), now, policy, assignment["deadline"], by,
                    case.get("classified_by") or "office")
    task_ids = [t["id"] for t in case["tasks"][before:]]
    return events + [(ev.CaseDecisionAppliedV1, {**fact, "applied": True, "task_ids": task_ids, "reason": None})]


def whistle(case: dict[str, Any], units: Sequence[Mapping[str, str]], reason: str, now: datetime,
            policy: Policy) -> Events:
    """吹哨: the township summons units to the case; each must report (报到) within ``policy.whistle_report``."""
    if case["status"] == "closed":
        raise Conflict("cannot whistle a closed case", status="closed", allowed=[])
    deadline = now + policy.whistle_report
    case["whistle"] = {"at": now, "reason": reason, "report_deadline": deadline,
                       "units": [{"unit": dict(u), "key": actor_key(u), "reported_at": None, "on_time": None}
                                 for u in units]}
    _history(case, now, OFFICE, "whistle: " + ", ".join(actor_key(u) for u in units), reason)
    return escalate(case, now, "whistle", reason, units)


def report(case: dict[str, Any], actor: str, now: datetime) -> dict[str, Any]:
    """A summoned unit reports (报到). Returns its entry, with ``on_time``."""
    summons = case.get("whistle")
    entry = next((u for u in (summons or {}).get("units", []) if u["key"] == actor), None)
    if entry is None:
        raise NotFound(f"{actor} was not summoned to this case", id=case["_id"])
    if entry["reported_at"] is not None:
        raise Conflict("already reported", reported_at=entry["reported_at"].isoformat(), allowed=[])
    entry["reported_at"] = now
    entry["on_time"] = now <= summons["report_deadline"]
    _history(case, now, actor, "reported to the whistle" + ("" if entry["on_time"] else " (late)"))
    return entry


def report_events(case: Mapping[str, Any], entry: Mapping[str, Any]) -> Events:
    return [(ev.WhistleReportedV1, {"case_id": case["_id"], "unit": parse_actor_key(entry["key"]),
                                    "on_time": entry["on_time"]})]


# ---- the one status and the public timeline --------------------------------------------------------------------
PUBLIC_STEPS = ev.TIMELINE_STEPS


def announce_status(case: dict[str, Any], before: tuple[str, str | None], now: datetime) -> Events:
    """``case_status_changed`` when a change moved the case's status (or its outcome) from ``before``; counts
    the changes in ``status_seq`` so readers can drop an announcement that arrives after a later one."""
    after = (case["status"], (case.get("closed") or {}).get("outcome"))
    if after == before:
        return []
    case["status_seq"] = case.get("status_seq", 0) + 1
    case["status_since"] = now
    return [(ev.CaseStatusChangedV1, {"case_id": case["_id"], "case_number": case["case_number"],
                                      "status": after[0], "outcome": after[1], "since": now,
                                      "seq": case["status_seq"]})]


def status_of(case: Mapping[str, Any]) -> tuple[str, str | None]:
    return case["status"], (case.get("closed") or {}).get("outcome")


def public_holder(ref: Mapping[str, str], names: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """Who has the case, as a resident may see it: a unit or organisation by its public names (zh, en); a Party
    member or volunteer only by role, never by a person's name."""
    if ref["kind"] in ("unit", "social_org"):
        return {"kind": ref["kind"], "names": names.get(actor_key(ref))}
    return {"kind": ref["kind"], "names": None}


def timeline(case: Mapping[str, Any], names: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The public timeline of a case (like 12345's and FixMyStreet's): each step with when it happened and who
    had the case, the unit's reply, and when and why it closed. Never a staff member's name, a Party member's
    name, a phone number, a return reason or an internal note."""
    tasks = {t["id"]: t for t in case.get("tasks", [])}
    entries: list[dict[str, Any]] = [{"at": case["received_at"], "step": "received", "holder": None, "text": None}]
    for item in case.get("history", []):
        step = item.get("step")
        if step not in PUBLIC_STEPS:
            continue
        task = tasks.get(item.get("task_id") or "")
        holder = public_holder(task["assignee"], names) if task else None
        if step in ("assigned", "signed", "extension_requested", "extension_decided") and task \
                and task["role"] != "lead":
            continue
        text = None
        if step == "completed":
            if not task or task["role"] != "lead":
                continue
            text = item.get("why")
        elif step == "closed":
            text = item.get("why")
        entries.append({"at": item["at"], "step": step, "holder": holder, "text": text})
    lead = next((t for t in reversed(case.get("tasks", [])) if t["role"] == "lead"
                 and t["status"] in OPEN_TASK_STATES + ("completed",)), None)
    status, outcome = status_of(case)
    return {"case_id": case["_id"], "case_number": case["case_number"], "status": status, "outcome": outcome,
            "since": case.get("status_since") or case["received_at"],
            "holder": public_holder(lead["assignee"], names) if lead and status != "closed" else None,
            "closed_at": (case.get("closed") or {}).get("at"), "entries": entries}


# ---- deadlines -----------------------------------------------------------------------------------------------
def _alarms_of(task: Mapping[str, Any], policy: Policy) -> list[tuple[str, datetime, str]]:
    """The (alarm, when, deadline_kind) a task raises in its current state."""
    if task["status"] == "assigned":
        kind, deadline = "sign", task["sign_deadline"]
    elif task["status"] in ("signed", "in_progress", "extension_requested"):
        kind, deadline = "handling", task["handling_deadline"]
    else:
        return []
    window = max(deadline - task["assigned_at"], timedelta(0))
    return [(f"{kind}_reminder", deadline - window * policy.reminder_fraction, kind),
            (f"{kind}_overdue", deadline, kind),
            (f"{kind}_escalated", deadline + policy.escalation_grace, kind)]


def refresh(case: dict[str, Any], policy: Policy) -> None:
    """Recompute ``next_alarm_at`` (the earliest alarm not yet raised) and ``open_assignees`` (the index of
    who has open work on the case)."""
    pending = [when for task in open_tasks(case) for name, when, _ in _alarms_of(task, policy)
               if name not in task.get("alarms", [])]
    case["next_alarm_at"] = min(pending) if pending else None
    case["open_assignees"] = sorted({t["assignee_key"] for t in open_tasks(case)})


ATTENTION = {"escalated": 2, "overdue": 1}  # the office's board lists these first, escalated before overdue


def attention(case: Mapping[str, Any]) -> int | None:
    """How urgently an open case needs the office (decision 95): 2 escalated (to the joint meeting, and still
    open), 1 overdue (an open task passed its sign or handling deadline: its overdue alarm was raised), None
    otherwise and for every closed case (absent from the document, so the board's index holds few entries)."""
    if case["status"] == "closed":
        return None
    if case.get("escalations"):
        return ATTENTION["escalated"]
    if any(name.endswith("_overdue") for task in open_tasks(case) for name in task.get("alarms", ())):
        return ATTENTION["overdue"]
    return None


def fire_alarms(case: dict[str, Any], now: datetime, policy: Policy) -> Events:
    """Raise every alarm due at ``now``, each once: reminder, overdue, then escalation after the grace."""
    events: Events = []
    for task in open_tasks(case):
        fact = _task_fact(case, task)
        for name, when, kind in _alarms_of(task, policy):
            if when > now or name in task.get("alarms", []):
                continue
            task.setdefault("alarms", []).append(name)
            deadline = task["sign_deadline"] if kind == "sign" else task["handling_deadline"]
            if name.endswith("reminder"):
                _history(case, now, "system", f"reminder: {kind} deadline {deadline.isoformat()}", None, task["id"])
                events.append((ev.TaskReminderDueV1, {**fact, "deadline_kind": kind, "deadline": deadline}))
            elif name.endswith("overdue"):
                _history(case, now, "system", f"overdue: {kind} deadline passed", None, task["id"])
                events.append((ev.TaskOverdueV1, {**fact, "deadline_kind": kind, "deadline": deadline}))
            else:
                events.extend(escalate(case, now, "overdue",
                                       f"{task['assignee_key']} {kind} deadline {deadline.isoformat()} passed",
                                       [task["assignee"]]))
    refresh(case, policy)
    return events
