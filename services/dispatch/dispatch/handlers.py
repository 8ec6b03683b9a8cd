"""Dispatch use cases as plain functions over the repository port; the nameko service only wires them."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from township_shared import store
from township_shared.errors import Conflict, NotFound, Refused, Unprocessable
from township_shared.events import Event, envelopes as make_envelopes, make_event
from township_shared.schemas import dispatch as ev
from township_shared.privacy import mask_phone

from . import choice, domain
from .calendar import WorkCalendar
from .choice import ChoiceRules
from .classify import classify
from .repository import DispatchRepository

SOURCE = "dispatch"
MEMBER_KINDS = ("party_member", "volunteer")


def envelopes(case: Mapping[str, Any], events: domain.Events, now: datetime) -> list[dict[str, Any]]:
    return make_envelopes(events, source=SOURCE, township_id=case["township_id"], correlation_id=case["_id"],
                          time=now)


def case_text(case: Mapping[str, Any]) -> str:
    """What classification reads: the demand's title and description."""
    return f"{case['title']} {case['description']}"


def settings_or_404(repo: DispatchRepository, township_id: str) -> dict[str, Any]:
    settings = repo.settings(township_id)
    if settings is None:
        raise NotFound(f"unknown township {township_id!r}", township_id=township_id)
    return settings


def _handling_deadline(settings: Mapping[str, Any], calendar: WorkCalendar, category: str, now: datetime):
    days = settings["categories"].get(category, {}).get("handling_days", 13)
    return calendar.for_township(settings["_id"]).add_working_days(now, days)


def _route_by_rules(repo: DispatchRepository, settings: Mapping[str, Any], case: Mapping[str, Any],
                    now: datetime) -> domain.Route | domain.Triage:
    """The responsibility list, and where it leaves a choice, the choice by skills, distance and load
    (:mod:`dispatch.choice`, decision 86): a community task to the best-scoring member of the village or a
    village near it who can still take one, else the list's unit; among several leads of equal rank, the best
    if it clearly leads, else the office. Where the list names one lead, that lead, as before."""
    township, category, village = case["township_id"], case["category"], case["village"]
    places = settings.get("villages") or {}
    rules = ChoiceRules.default().overridden(settings.get("unit_choice"))
    member_choice = None
    if settings["categories"].get(category, {}).get("community_service"):
        weekday = now.astimezone(ZoneInfo(settings.get("timezone", "Asia/Shanghai"))).weekday()
        near = choice.villages_within(village, places, rules.member_radius_km)
        eligible = choice.eligible_members(repo.community_members(township, near), category, village, weekday,
                                           places, rules)
        if eligible:
            picked = choice.first_taken(choice.rank(eligible, category, village, places, rules),
                                        lambda c: repo.reserve_member(township, c.kind, c.id))
            if picked.chosen:
                member = picked.chosen.candidate
                return domain.Route({"kind": member.kind, "id": member.id}, [],
                                    f"community service in {village}: {picked.explain()}", picked.as_dict())
            member_choice = picked
    route = domain.match_rules(repo.rules_for(township, category), category, village)
    if isinstance(route, domain.Triage) and len(route.candidates) > 1:
        route = _choose_among_leads(repo, township, category, village, places, rules, route)
    if isinstance(route, domain.Route):
        lead = repo.routing_unit(township, route.lead["id"])
        if lead is None or not lead.get("active", True):
            return domain.Triage(f"lead unit {route.lead['id']} is missing or inactive", (f"unit:{route.lead['id']}",))
        if member_choice is not None and route.choice is None:
            route = domain.Route(route.lead, route.co_handlers,
                                 f"{route.reason} (no community member free: {member_choice.explain()})",
                                 member_choice.as_dict())
    return route


def _choose_among_leads(repo: DispatchRepository, township: str, category: str, village: str,
                        places: Mapping[str, Any], rules: ChoiceRules,
                        ambiguous: domain.Triage) -> domain.Route | domain.Triage:
    """Several rules of equal rank lead: score the active ones (skill, the village served, open cases) and take
    the best if it leads by ``min_lead``; else triage, with the scores in the reason."""
    units = []
    for key in ambiguous.candidates:
        unit = repo.routing_unit(township, domain.parse_actor_key(key)["id"])
        if unit is not None and unit.get("active", True):
            units.append(choice.Candidate.of_actor(unit, repo.open_cases_of(township, key)))
    picked = choice.choose_lead(choice.rank(units, category, village, places, rules), rules)
    if picked.chosen is None:
        return domain.Triage(f"{ambiguous.reason}; {picked.explain()}", ambiguous.candidates, picked.as_dict())
    route = domain.match_rules(repo.rules_for(township, category), category, village, picked.chosen.candidate.id)
    if isinstance(route, domain.Triage):
        return route
    return domain.Route(route.lead, route.co_handlers, f"{route.reason}, {len(units)} leads: {picked.explain()}",
                        picked.as_dict())


def receive_demand(repo: DispatchRepository, now: datetime, policy: domain.Policy, calendar: WorkCalendar,
                   event: Event) -> dict[str, Any] | None:
    """Turn ``demand_received`` into a routed case or a triage entry. Idempotent: the case id is the document
    id, so a redelivered event stores nothing and returns None (the insert is refused; a member reserved for it
    meanwhile is released). No read before or after: redeliveries are rare, and the insert returns the case."""
    p = event.payload
    case: dict[str, Any] = {
        "_id": p["case_id"], "township_id": event.township_id, "case_number": p["case_number"],
        "channel": p["channel"], "village": p["village"], "category": p["category"], "urgency": p["urgency"],
        "title": p["title"], "description": p["description"], "reporter": p["reporter"],
        "location": p["location"], "attachments": p["attachments"], "received_at": p["received_at"],
        "duplicate_of": p["duplicate_of"], "source_event": event.id, "status": "received", "tasks": [],
        "history": [], "returns": 0, "classified_by": "reporter" if p["category"] else None,
    }
    settings = repo.settings(event.township_id)
    reserved: dict[str, str] | None = None
    if settings is None:
        events = domain.to_triage(case, now, f"township {event.township_id} has no dispatch settings")
    elif p["duplicate_of"]:
        events = domain.to_triage(case, now, f"duplicate of case {p['duplicate_of']}", (p["duplicate_of"],),
                                  status="duplicate")
    else:
        if case["category"] is None:
            found = classify(case_text(case), settings["categories"], policy.classification,
                             repo.learned_model(event.township_id))
            domain.classified(case, found, now)
            if found.category is None:
                events = domain.to_triage(case, now, found.reason, [c.category for c in found.candidates])
        if case["category"] is not None:
            route = _route_by_rules(repo, settings, case, now)
            domain.chosen(case, route.choice, now)
            if isinstance(route, domain.Route):
                if route.lead["kind"] in MEMBER_KINDS:
                    reserved = route.lead
                events = domain.assign(case, route, now, policy,
                                       _handling_deadline(settings, calendar, case["category"], now),
                                       "system", case["classified_by"])
            else:
                events = domain.to_triage(case, now, route.reason, route.candidates)
    domain.refresh(case, policy)
    case["attention"] = domain.attention(case)
    events = events + domain.announce_status(case, ("received", None), now)
    stored = repo.insert_case(case, envelopes(case, events, now))
    if stored is None:
        if reserved:
            repo.release_member(event.township_id, reserved["kind"], reserved["id"])
        return None
    repo.count_stage(event.township_id, None, stored["status"], stored["received_at"])
    return stored


def mutate(repo: DispatchRepository, load: Callable[[], dict[str, Any] | None], change: Callable, now: datetime,
           missing: str) -> tuple[dict[str, Any], Any]:
    """:func:`township_shared.store.mutate` over cases: apply ``change(case) -> (events, result)`` to the latest
    version of a case; then give back the open-task slots of members whose tasks the change finished."""
    before: dict[str, str] = {}
    stages: dict[str, str] = {}

    def apply(case):
        before.clear()
        before.update({t["id"]: t["status"] for t in case.get("tasks", [])})
        status = domain.status_of(case)
        events, result = change(case)
        case["attention"] = domain.attention(case)
        events = list(events) + domain.announce_status(case, status, now)
        stages.update(before=status[0], after=case["status"])
        return envelopes(case, events, now), (case, result)

    saved, (case, result) = store.mutate(load, apply, repo.save_case, missing)
    repo.count_stage(case["township_id"], stages["before"], stages["after"])
    _release_finished_members(repo, case, before)
    return saved, result


def _release_finished_members(repo: DispatchRepository, case: Mapping[str, Any], before: Mapping[str, str]):
    for task in case.get("tasks", []):
        was = before.get(task["id"])
        if (task["assignee"]["kind"] in MEMBER_KINDS and was in domain.OPEN_TASK_STATES
                and task["status"] not in domain.OPEN_TASK_STATES):
            repo.release_member(case["township_id"], task["assignee"]["kind"], task["assignee"]["id"])


def act_on_task(repo: DispatchRepository, now: datetime, policy: domain.Policy, township_id: str, actor: str,
                task_id: str, command: str, args: Mapping[str, Any]) -> dict[str, Any]:
    settings_or_404(repo, township_id)

    def change(case):
        return domain.act(case, task_id, actor, command, args, now, policy), None

    saved, _ = mutate(repo, lambda: repo.case_of_task(township_id, task_id), change, now, f"no task {task_id!r}")
    return saved


def route_case(repo: DispatchRepository, now: datetime, policy: domain.Policy, calendar: WorkCalendar,
               township_id: str, case_id: str, command: Mapping[str, Any], by: str) -> dict[str, Any]:
    """The office routes or re-routes a case by hand; the reason is kept in the history and the event."""
    settings = settings_or_404(repo, township_id)
    lead = domain.parse_actor_key(command["lead"])
    co = [domain.parse_actor_key(k) for k in command["co_handlers"] if k != command["lead"]]
    errors: dict[str, list[str]] = {}
    for field, ref in [("lead", lead)] + [(f"co_handlers.{i}", c) for i, c in enumerate(co)]:
        actor = repo.get_actor(township_id, ref["kind"], ref["id"])
        if actor is None or not actor.get("active", True):
            errors[field] = [f"no active actor {domain.actor_key(ref)} in township {township_id}"]
    if command.get("category") and command["category"] not in settings["categories"]:
        errors["category"] = [f"unknown category {command['category']!r}"]
    if errors:
        raise Unprocessable(errors)
    if lead["kind"] in MEMBER_KINDS and not repo.reserve_member(township_id, lead["kind"], lead["id"]):
        raise Conflict(f"{command['lead']} is at its open-task limit", allowed=[])

    def change(case):
        category = command.get("category") or case.get("category")
        if not category:
            raise Unprocessable({"category": ["the case has no category yet; give one"]})
        if command.get("category"):
            case["category"], case["classified_by"] = command["category"], "office"
        route = domain.Route(lead, co, command["reason"])
        deadline = _handling_deadline(settings, calendar, category, now)
        return domain.assign(case, route, now, policy, deadline, by, case.get("classified_by") or "office"), None

    try:
        saved, _ = mutate(repo, lambda: repo.get_case(township_id, case_id), change, now, f"no case {case_id!r}")
    except Exception:
        if lead["kind"] in MEMBER_KINDS:
            repo.release_member(township_id, lead["kind"], lead["id"])
        raise
    return saved


def close_case(repo, now, policy, township_id, case_id, command, by) -> dict[str, Any]:
    settings_or_404(repo, township_id)
    saved, _ = mutate(repo, lambda: repo.get_case(township_id, case_id),
                      lambda case: (domain.close(case, command["outcome"], command["reason"], by, now, policy), None),
                      now, f"no case {case_id!r}")
    return saved


def whistle_case(repo, now, policy, township_id, case_id, command) -> dict[str, Any]:
    settings_or_404(repo, township_id)
    units = [domain.parse_actor_key(k) for k in dict.fromkeys(command["units"])]
    errors = {f"units.{i}": [f"no active unit {domain.actor_key(u)}"] for i, u in enumerate(units)
              if u["kind"] != "unit" or not (repo.get_actor(township_id, "unit", u["id"]) or {}).get("active")}
    if errors:
        raise Unprocessable(errors)
    saved, _ = mutate(repo, lambda: repo.get_case(township_id, case_id),
                      lambda case: (domain.whistle(case, units, command["reason"], now, policy), None),
                      now, f"no case {case_id!r}")
    return saved


def report_to_whistle(repo, now, township_id, case_id, actor) -> dict[str, Any]:
    settings_or_404(repo, township_id)
    def change(case):
        entry = domain.report(case, actor, now)
        return domain.report_events(case, entry), entry

    return mutate(repo, lambda: repo.get_case(township_id, case_id), change, now, f"no case {case_id!r}")


def _once(case: dict[str, Any], event_id: str) -> bool:
    """Record ``event_id`` on the case; False if it was applied before (a redelivery)."""
    seen = case.setdefault("processed_events", [])
    if event_id in seen:
        return False
    seen.append(event_id)
    return True


def task_facts(repo: DispatchRepository, township_id: str, case_id: str, task_id: str) -> dict[str, Any]:
    """What another service checks a task event against (feedback, decision 52): the task's case, assignee, role
    and status as dispatch has them; NotFound when the township has no such case or the case no such task."""
    case = repo.get_case(township_id, case_id)
    if case is None:
        raise NotFound(f"no case {case_id!r}", id=case_id)
    task = domain.find_task(case, task_id)
    return {"case_id": case["_id"], "task_id": task["id"], "assignee": task["assignee"], "role": task["role"],
            "status": task["status"]}


def _case_of_callback(repo: DispatchRepository, event: Event) -> dict[str, Any]:
    """The case a callback event of feedback's is about. Refused (decision 51) unless the township has the case
    and the callback's id is a task of it assigned to the callback's unit (a callback's id is its task's id):
    feedback opens a callback only for a task dispatch announced, so anything else is forged or broken."""
    p = event.payload
    case = repo.get_case(event.township_id, p["case_id"])
    if case is None:
        raise Refused(f"no case {p['case_id']!r} in township {event.township_id!r}", field="payload.case_id")
    task = next((t for t in case.get("tasks", []) if t["id"] == p["callback_id"]), None)
    if task is None:
        raise Refused(f"case {p['case_id']!r} has no task {p['callback_id']!r}", field="payload.callback_id")
    if (task["assignee"]["kind"], task["assignee"]["id"]) != (p["unit"]["kind"], p["unit"]["id"]):
        raise Refused(f"task {task['id']!r} is assigned to {domain.actor_key(task['assignee'])}, not "
                      f"{domain.actor_key(p['unit'])}", field="payload.unit")
    return case


def callback_under_way(repo: DispatchRepository, now: datetime, event: Event) -> dict[str, Any] | None:
    """Feedback's ``callback_recorded``: the case of a completion whose callback started is in ``callback``.
    Idempotent: the change applies once (a redelivery finds the case past ``completed``)."""
    p = event.payload
    _case_of_callback(repo, event)
    if p["final"] and p["outcome"] != "needs_review":
        return None  # a conclusion follows as callback_concluded
    saved, _ = mutate(repo, lambda: repo.get_case(event.township_id, p["case_id"]),
                      lambda case: (domain.callback_under_way(case, now, p["callback_id"]), None), now, "gone")
    return saved


def conclude_callback(repo: DispatchRepository, now: datetime, policy: domain.Policy, calendar: WorkCalendar,
                      event: Event) -> dict[str, Any] | None:
    """Feedback's ``callback_concluded``: dispatch closes the case (announcing ``case_closed``) or reopens it for
    a redo (``case_reopened``, then a new task for the same lead, or triage). Idempotent by event id."""
    p = event.payload
    settings = repo.settings(event.township_id)
    if settings is None:
        raise Refused(f"unknown township {event.township_id!r}", field="township_id")
    _case_of_callback(repo, event)
    member_redo = p["outcome"] == "redo" and p["stage"] == "handling" and p["unit"]["kind"] in MEMBER_KINDS
    active = False
    if p["outcome"] == "redo":
        unit = repo.get_actor(event.township_id, p["unit"]["kind"], p["unit"]["id"])
        active = bool(unit and unit.get("active", True))
        if active and member_redo:
            active = repo.reserve_member(event.township_id, p["unit"]["kind"], p["unit"]["id"])

    def change(case):
        if not _once(case, event.id):
            return [], False
        deadline = _handling_deadline(settings, calendar, case.get("category") or "", now)
        events = domain.conclude_callback(case, now, policy, p, deadline, active)
        return events, bool(events)

    saved, applied = mutate(repo, lambda: repo.get_case(event.township_id, p["case_id"]), change, now, "gone")
    if not applied and active and member_redo:
        repo.release_member(event.township_id, p["unit"]["kind"], p["unit"]["id"])
    return saved


def apply_meeting_decision(repo: DispatchRepository, now: datetime, policy: domain.Policy,
                           event: Event) -> dict[str, Any] | None:
    """The joint meeting's ``meeting_decision_made``: an ``assign`` or ``close`` of a case is carried out on the
    case (or refused with the reason) and announced as ``case_decision_applied``; other decisions are funds' or
    the meeting's own. Idempotent by event id. A case the township does not have is refused (decision 51): the
    meeting only decides on cases dispatch announced or the office checked."""
    p = event.payload
    if p["subject"]["kind"] != "case" or p["decision"] not in ("assign", "close"):
        return None
    if repo.settings(event.township_id) is None:
        raise Refused(f"unknown township {event.township_id!r}", field="township_id")
    if repo.get_case(event.township_id, p["subject"]["id"]) is None:
        raise Refused(f"no case {p['subject']['id']!r} in township {event.township_id!r}", field="payload.subject")
    lead_problem = None
    if p["decision"] == "assign":
        for ref in [p["assignment"]["lead"], *p["assignment"]["co_units"]]:
            unit = repo.get_actor(event.township_id, ref["kind"], ref["id"])
            if unit is None or not unit.get("active", True):
                lead_problem = f"{domain.actor_key(ref)} is missing or inactive"
                break

    def change(case):
        if not _once(case, event.id):
            return [], False
        return domain.meeting_decision(case, p, now, policy, lead_problem), True

    saved, _ = mutate(repo, lambda: repo.get_case(event.township_id, p["subject"]["id"]), change, now, "gone")
    return saved


def fire_due_alarms(repo: DispatchRepository, now: datetime, policy: domain.Policy,
                    limit: int = 200) -> list[dict[str, Any]]:
    """Raise every reminder, overdue notice and escalation due by ``now``; returns the cases that raised any
    (saved, their events pending in the outbox)."""
    changed = []
    for due in repo.due_alarms(now, limit):
        try:
            saved, count = mutate(repo, lambda d=due: repo.get_case(d["township_id"], d["_id"]),
                                  lambda case: _fired(domain.fire_alarms(case, now, policy)), now, "gone")
        except (Conflict, NotFound):
            continue
        if count:
            changed.append(saved)
    return changed


def _fired(events: domain.Events) -> tuple[domain.Events, int]:
    return events, len(events)


def tasks_of(repo: DispatchRepository, township_id: str, actor: str, status: str | None, limit: int) -> list[dict]:
    """The actor's own tasks (each with its case's summary), newest assignment first."""
    settings_or_404(repo, township_id)
    open_only = status in (None, "open")
    tasks = []
    for case in repo.cases_of(township_id, actor, open_only):
        for task in case["tasks"]:
            if task["assignee_key"] != actor:
                continue
            if open_only and task["status"] not in domain.OPEN_TASK_STATES:
                continue
            if status not in (None, "open") and task["status"] != status:
                continue
            tasks.append(task_view(case, task))
    tasks.sort(key=lambda t: t["assigned_at"], reverse=True)
    return tasks[:limit]


def task_view(case: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in task.items() if k not in ("alarms",)},
            "allowed": domain.allowed_commands(task),
            "case": {"id": case["_id"], "case_number": case["case_number"], "title": case["title"],
                     "description": case["description"], "village": case["village"],
                     "category": case.get("category"), "urgency": case["urgency"], "status": case["status"],
                     "location": case.get("location"), "reporter_name": case["reporter"]["name"]}}


def case_for(repo: DispatchRepository, township_id: str, case_id: str, actor: str) -> dict[str, Any]:
    """The office sees every case; an actor only the cases it has (or had) a task on or was summoned to."""
    settings_or_404(repo, township_id)
    case = repo.get_case(township_id, case_id)
    visible = case is not None and (actor == domain.OFFICE
                                    or any(t["assignee_key"] == actor for t in case.get("tasks", []))
                                    or any(u["key"] == actor for u in (case.get("whistle") or {}).get("units", [])))
    if not visible:
        raise NotFound(f"no case {case_id!r}", id=case_id)
    return case


def timeline_of(repo: DispatchRepository, township_id: str, case_ref: str) -> dict[str, Any]:
    """The public timeline of a case, by its id or case number (no names of staff or members, no phones)."""
    settings_or_404(repo, township_id)
    case = repo.get_case(township_id, case_ref) or repo.case_by_number(township_id, case_ref)
    if case is None:
        raise NotFound(f"no case {case_ref!r}", id=case_ref)
    names = {}
    for task in case.get("tasks", []):
        ref = task["assignee"]
        if ref["kind"] in ("unit", "social_org") and domain.actor_key(ref) not in names:
            actor = (repo.routing_unit(township_id, ref["id"]) if ref["kind"] == "unit"
                     else repo.get_actor(township_id, ref["kind"], ref["id"]))
            if actor and actor.get("names"):
                names[domain.actor_key(ref)] = {"zh": actor["names"]["zh"], "en": actor["names"]["en"]}
    return domain.timeline(case, names)


def case_view(case: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """A case for the API: tasks with their allowed commands; the reporter's phone in full for the office, masked
    for everyone else (decision 7)."""
    view = dict(case)
    if actor != domain.OFFICE:
        view["reporter"] = {**case["reporter"], "phone": mask_phone(case["reporter"]["phone"])}
    view["tasks"] = [{**t, "allowed": domain.allowed_commands(t)} for t in case.get("tasks", [])]
    return view


# ---- actors ------------------------------------------------------------------------------------------------
def actor_or_404(repo: DispatchRepository, township_id: str, kind: str, actor_id: str) -> dict[str, Any]:
    settings_or_404(repo, township_id)
    actor = repo.get_actor(township_id, kind, actor_id)
    if actor is None:
        raise NotFound(f"no {kind} {actor_id!r} in township {township_id!r}", id=actor_id)
    return actor


def create_actor(repo: DispatchRepository, now: datetime, township_id: str, actor: dict[str, Any]) -> dict[str, Any]:
    """Register an actor with its ``actor_registered`` event pending in the same document."""
    settings_or_404(repo, township_id)
    event = make_event(ev.ActorRegisteredV1, {"kind": actor["kind"], "id": actor["id"], "active": actor["active"]},
                       source=SOURCE, township_id=township_id, correlation_id=None, time=now)
    stored = repo.insert_actor(township_id, actor, [event], now)
    if stored is None:
        raise Conflict(f"{actor['kind']} {actor['id']!r} exists already", allowed=[])
    return stored


def update_actor(repo: DispatchRepository, now: datetime, township_id: str, kind: str, actor_id: str,
                 changes: dict[str, Any]) -> dict[str, Any]:
    """Partial update. Deactivating (``active: false``) is how an actor leaves: actors are never deleted, so
    the history of every task they had stays whole; an inactive actor gets no new tasks."""
    before = actor_or_404(repo, township_id, kind, actor_id)
    if not changes:
        raise Unprocessable({"_schema": ["nothing to change"]})
    active = changes.get("active", before.get("active", True))
    event = make_event(ev.ActorUpdatedV1, {"kind": kind, "id": actor_id, "fields_changed": sorted(changes),
                                           "active": active},
                       source=SOURCE, township_id=township_id, correlation_id=None, time=now)
    return repo.update_actor(township_id, kind, actor_id, changes, [event], now)


def list_actors(repo: DispatchRepository, township_id: str, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    settings_or_404(repo, township_id)
    actors = repo.list_actors(township_id, query.get("kind"), query.get("village"))
    if "active" in query:
        actors = [a for a in actors if a.get("active", True) == query["active"]]
    return actors


# ---- learning from the office (decision 61) ------------------------------------------------------------------
AUTOMATIC = ("system", "callback")


def learn_from_routing(repo: DispatchRepository, event: Event) -> dict[str, Any] | None:
    """``case_routed`` by the office (from triage, or a re-route): the case's text with the category the office
    settled on is the township's example for that case, replacing an earlier one. Routings by the rules or a
    redo teach nothing; a redelivered or out-of-order event changes nothing (:meth:`record_example`)."""
    p = event.payload
    if p["by"] in AUTOMATIC:
        return None
    case = repo.get_case(event.township_id, p["case_id"])
    if case is None:
        return None
    machine = (case.get("classification") or {}).get("category")
    return repo.record_example(event.township_id, {
        "case_id": case["_id"], "case_number": case["case_number"], "text": case_text(case),
        "category": p["category"], "machine": machine,
        "candidates": [c["category"] for c in (case.get("classification") or {}).get("candidates", [])],
        "classified_by": p["classified_by"], "by": p["by"], "at": event.time, "event_id": event.id})


def routing_examples(repo: DispatchRepository, township_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
    """The township's examples, newest first, and a summary of what its model learned from the active ones."""
    settings_or_404(repo, township_id)
    items = repo.list_examples(township_id, query.get("active"), query.get("category"), query["limit"])
    model = repo.learned_model(township_id)
    return {"items": items, "examples": model.total, "learned": model.summary()}


def set_example_active(repo: DispatchRepository, now: datetime, township_id: str, case_id: str, active: bool,
                       by: str, reason: str | None) -> dict[str, Any]:
    """Undo (``active`` false) or restore what the office's routing of a case taught. The model forgets or
    relearns it at its next refresh (``MODEL_TTL_S``; at once in this process)."""
    settings_or_404(repo, township_id)
    if repo.get_example(township_id, case_id) is None:
        raise NotFound(f"no routing example for case {case_id!r}", id=case_id)
    doc = repo.set_example_active(township_id, case_id, active,
                                  None if active else {"by": by, "at": now, "reason": reason})
    repo.refresh_model(township_id)
    return doc


# ---- the office's board (decision 95) -------------------------------------------------------------------------
BOARD_FIELDS = {"case_number": 1, "status": 1, "attention": 1, "village": 1, "category": 1, "urgency": 1,
                "title": 1, "received_at": 1, "duplicate_of": 1, "tasks.assignee_key": 1, "tasks.role": 1,
                "tasks.status": 1, "tasks.sign_deadline": 1, "tasks.handling_deadline": 1}
ATTENTION_NAMES = {v: k for k, v in domain.ATTENTION.items()}


def board_cursor(item: Mapping[str, Any]) -> str:
    """Where the next page starts: the last case's band, ``received_at`` (epoch milliseconds) and id."""
    moment = int(item["received_at"].timestamp() * 1000)
    return f"{domain.ATTENTION.get(item['attention'] or '', 0)}.{moment}.{item['id']}"


def parse_board_cursor(cursor: str) -> tuple[int, datetime, str]:
    from datetime import timezone

    band, moment, case_id = cursor.split(".", 2)
    return int(band), datetime.fromtimestamp(int(moment) / 1000, timezone.utc), case_id


def board_item(case: Mapping[str, Any]) -> dict[str, Any]:
    """A case as one line of the board: who leads it now and the nearest deadline of its open tasks."""
    open_tasks = [t for t in case.get("tasks", []) if t["status"] in domain.OPEN_TASK_STATES]
    lead = next((t for t in reversed(open_tasks) if t["role"] == "lead"), None)
    deadlines = [(t["sign_deadline"], "sign") if t["status"] == "assigned" else (t["handling_deadline"], "handling")
                 for t in open_tasks]
    deadline = min(deadlines) if deadlines else None
    return {"id": case["_id"], "case_number": case["case_number"], "status": case["status"],
            "attention": ATTENTION_NAMES.get(case.get("attention") or 0), "village": case["village"],
            "category": case.get("category"), "urgency": case["urgency"], "title": case["title"],
            "received_at": case["received_at"], "duplicate_of": case.get("duplicate_of"),
            "lead": lead["assignee_key"] if lead else None, "open_tasks": len(open_tasks),
            "deadline": deadline[0] if deadline else None, "deadline_kind": deadline[1] if deadline else None}


def board(repo: DispatchRepository, township_id: str, query: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """One page of a stage of the township's cases for the office: escalated first, then overdue, then the
    rest, newest first within each; the village and category filters; and the count of cases per stage."""
    settings_or_404(repo, township_id)
    filters = {k: query[k] for k in ("village", "category") if query.get(k)}
    after = parse_board_cursor(query["cursor"]) if query.get("cursor") else None
    from township_shared.clock import utcnow

    found, more = repo.board_page(township_id, query["status"], query["limit"], after, filters,
                                  max(now, utcnow()), BOARD_FIELDS)
    items = [board_item(doc) for doc in found]
    counts, _ = repo.board_counts(township_id)
    return {"status": query["status"], "items": items, "next_cursor": board_cursor(items[-1]) if more else None,
            "counts": {status: counts.get(status, 0) for status in ev.DISPATCH_CASE_STATUSES}}
