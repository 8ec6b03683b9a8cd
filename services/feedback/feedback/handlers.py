"""Feedback use cases as plain functions over the repository port; the nameko service only wires them."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Protocol

from township_shared import store
from township_shared.auth import Principal
from township_shared.errors import Forbidden, Gone, NotFound, Refused, Unprocessable
from township_shared.events import Event, envelopes as make_envelopes
from township_shared.schemas.feedback import HotspotDetectedV1, ReportSubmittedV1

from . import assessment, domain
from .figures import FiguresRepository
from .repository import FeedbackRepository

SOURCE = "feedback"


def envelopes(township_id: str, correlation_id: str | None, events: domain.Events,
              now: datetime) -> list[dict[str, Any]]:
    return make_envelopes(events, source=SOURCE, township_id=township_id, correlation_id=correlation_id, time=now)


class TaskAuthority(Protocol):
    """Dispatch, as far as feedback asks it (``dependencies.DispatchTasks``; a fake in tests)."""

    def task_facts(self, township_id: str, case_id: str, task_id: str) -> dict[str, Any] | None: ...


class ProjectAuthority(Protocol):
    """Funds, as far as feedback asks it (``dependencies.FundsProjects``; a fake in tests)."""

    def project_facts(self, township_id: str, project_id: str) -> dict[str, Any] | None: ...


# ---- what an event names must exist (decisions 51, 52) -----------------------------------------------------------
def _same_actor(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    return (a["kind"], a["id"]) == (b["kind"], b["id"])


def check_task(repo: FeedbackRepository, dispatch: TaskAuthority, event: Event) -> None:
    """Refuse a ``task_*`` event unless dispatch has the task, in the event's township and case, assigned to the
    event's assignee. Feedback keeps what dispatch confirmed (``tasks``) and asks dispatch only about a task it has
    not heard of: once per task in practice, at its ``task_assigned``, or when another event of the task is handled
    first (each handler has its own queue, and nothing orders one queue against another). Raises ``Unavailable``
    when dispatch cannot answer now: the event comes back later."""
    p = event.payload
    known = repo.known_task(p["task_id"])
    if known is None:
        facts = dispatch.task_facts(event.township_id, p["case_id"], p["task_id"])
        if facts is None:
            raise Refused(f"dispatch has no task {p['task_id']!r} of case {p['case_id']!r} in township "
                          f"{event.township_id!r}", field="payload.task_id")
        known = repo.remember_task(event.township_id, facts)
    if known["township_id"] != event.township_id or known["case_id"] != p["case_id"]:
        raise Refused(f"task {p['task_id']!r} is not a task of case {p['case_id']!r} in township "
                      f"{event.township_id!r}", field="payload.case_id")
    if not _same_actor(known["assignee"], p["assignee"]):
        raise Refused(f"task {p['task_id']!r} is assigned to {known['assignee']['kind']}:{known['assignee']['id']}"
                      f", not {p['assignee']['kind']}:{p['assignee']['id']}", field="payload.assignee")


def check_callback(repo: FeedbackRepository, event: Event) -> None:
    """Refuse ``callback_recorded`` or ``case_reopened`` unless feedback has the callback (its own document:
    both follow a write of it), of that case, about that unit's work."""
    p = event.payload
    cb = repo.get_callback(event.township_id, p["callback_id"])
    if cb is None:
        raise Refused(f"no callback {p['callback_id']!r} in township {event.township_id!r}",
                      field="payload.callback_id")
    if cb["case_id"] != p["case_id"]:
        raise Refused(f"callback {p['callback_id']!r} is about case {cb['case_id']!r}, not {p['case_id']!r}",
                      field="payload.case_id")
    if not _same_actor(cb["unit"], p["unit"]):
        raise Refused(f"callback {p['callback_id']!r} rates {cb['unit']['kind']}:{cb['unit']['id']}, not "
                      f"{p['unit']['kind']}:{p['unit']['id']}", field="payload.unit")


def check_references(repo: FeedbackRepository, dispatch: TaskAuthority, event: Event) -> None:
    """The check of what an event the figures count names (task or callback), before it is journalled."""
    if event.type.startswith("task_"):
        check_task(repo, dispatch, event)
    elif event.type in ("callback_recorded", "case_reopened"):
        check_callback(repo, event)


# ---- figures -----------------------------------------------------------------------------------------------------
def record_event(figures_repo: FiguresRepository, event: Event, timezone: str = "Asia/Shanghai") -> bool:
    """Journal one event's contributions for the day, month and year it happened in (local calendar); False when
    it was received before or does not count. ``figures_repo.fold_pending`` adds it to the figures."""
    deltas = assessment.contributions(event.type, event.payload)
    if not deltas:
        return False
    return figures_repo.record(event.township_id, assessment.period_keys(event.time, timezone), deltas, event.id,
                               event.time)


def figures(repo: FiguresRepository, township_id: str, query: Mapping[str, Any], now: datetime) -> list[dict]:
    """Rows ``{key, counters..., rates...}`` of one dimension for one period, sorted by key."""
    at = query.get("at") or assessment.period_keys(now)[query["period"]]
    table = repo.read_figures(township_id, query["period"], at, query["dimension"]).get(query["dimension"], {})
    rows = []
    for key in sorted(table):
        if query.get("kind") and not key.startswith(query["kind"] + ":"):
            continue
        rows.append({"key": key, "period": query["period"], "at": at, **assessment.rates(table[key])})
    return rows


def ranking(rows: list[dict[str, Any]], by: str, limit: int) -> dict[str, list[dict[str, Any]]]:
    table = {r["key"]: r for r in rows}
    pick = lambda lowest: [table[k] for k, _ in assessment.rank(table, by, limit, lowest=lowest)]  # noqa: E731
    return {"by": by, "top": pick(False), "bottom": pick(True)}


# ---- callbacks ---------------------------------------------------------------------------------------------------
def open_callback(repo: FeedbackRepository, dispatch: TaskAuthority, event: Event,
                  now: datetime) -> dict[str, Any] | None:
    """A lead's completion of a task dispatch confirms (:func:`check_task`) makes a callback due (idempotent: the
    task id is the callback id)."""
    check_task(repo, dispatch, event)
    p = event.payload
    if p["role"] != "lead":
        return None
    cb = domain.new_callback(p["case_id"], p["task_id"], event.township_id, p["assignee"], p["village"],
                             p["category"], p["reply"], now)
    return cb if repo.insert_callback(cb) else None


def _mutate(repo: FeedbackRepository, load: Callable[[], dict | None], change: Callable, save: Callable,
            now: datetime, missing: str) -> dict[str, Any]:
    """:func:`township_shared.store.mutate` for documents of one case: ``change(doc) -> domain events``."""
    def apply(doc):
        return envelopes(doc["township_id"], doc.get("case_id"), change(doc), now), None

    return store.mutate(load, apply, save, missing)[0]


def callback_attempt(repo, now, township_id, callback_id, note, max_attempts, by) -> dict[str, Any]:
    return _mutate(repo, lambda: repo.get_callback(township_id, callback_id),
                   lambda cb: domain.record_attempt(cb, now, by, note, max_attempts), repo.save_callback, now,
                   f"no callback {callback_id!r}")


def callback_answer(repo, now, township_id, callback_id, answer, by) -> dict[str, Any]:
    return _mutate(repo, lambda: repo.get_callback(township_id, callback_id),
                   lambda cb: domain.record_answer(cb, now, answer, "phone", by), repo.save_callback, now,
                   f"no callback {callback_id!r}")


def callback_classify(repo, now, township_id, callback_id, command, by) -> dict[str, Any]:
    return _mutate(repo, lambda: repo.get_callback(township_id, callback_id),
                   lambda cb: domain.classify(cb, now, command["reason_class"], command["note"],
                                              command["redo_stage"], by),
                   repo.save_callback, now, f"no callback {callback_id!r}")


def callback_for_token(repo: FeedbackRepository, token: str, now: datetime, lifetime: timedelta) -> dict[str, Any]:
    """The callback behind a resident's link: :class:`NotFound` if unknown or used, :class:`Gone` once expired
    (decision 56). Neither message repeats the token."""
    cb = repo.callback_by_token(token)
    if cb is None or cb["status"] != "due":
        raise NotFound("this link is unknown or was already used")
    expired = domain.link_expires_at(cb, lifetime)
    if now >= expired:
        raise Gone("this link has expired; the township's office will call you, or call its hotline",
                   expired_at=expired.isoformat())
    return cb


def resident_answer(repo, now, token, answer, lifetime: timedelta) -> dict[str, Any]:
    """One use per link: answering removes the token, so a second use (or a racing one) finds nothing."""
    return _mutate(repo, lambda: callback_for_token(repo, token, now, lifetime),
                   lambda doc: domain.record_answer(doc, now, answer, "link", "resident"), repo.save_callback, now,
                   "this link is unknown or was already used")


# ---- completion reports ------------------------------------------------------------------------------------------
REPORTABLE = ("approved", "completed", "closed")  # funds statuses of a project that was approved


def note_project(repo: FeedbackRepository, event: Event) -> None:
    """Funds approved a project: reports may name it (decision 66)."""
    p = event.payload
    repo.remember_project(event.township_id, {"project_id": p["project_id"], "proposer": p["proposer"],
                                              "village": p["village"],
                                              "milestones": [m["name"] for m in p["milestones"]]})


def check_project(repo: FeedbackRepository, funds: ProjectAuthority, township_id: str, organisation_key: str,
                  report: Mapping[str, Any]) -> dict[str, Any]:
    """The approved funds project a report names, which must be the reporting organisation's, with the milestone
    it names and in the village it names (decision 66). Feedback keeps the projects funds announced approved and
    asks funds about one it has not heard of; ``Unavailable`` when funds cannot answer now."""
    project = repo.known_project(township_id, report["project"])
    if project is None:
        facts = funds.project_facts(township_id, report["project"])
        if facts is not None and facts["status"] in REPORTABLE:
            project = repo.remember_project(township_id, facts)
    if project is None or project["proposer_key"] != organisation_key:
        raise Unprocessable({"project": [f"no approved project {report['project']!r} of yours in this "
                                            "township"]})
    if report["kind"] == "milestone" and report["milestone"] not in project["milestones"]:
        raise Unprocessable({"milestone": ["not a milestone of the project: "
                                              + ", ".join(project["milestones"]) if project["milestones"]
                                              else "the project has no milestones: report its completion"]})
    if report.get("village") not in (None, project["village"]):
        raise Unprocessable({"village": [f"the project is in {project['village']!r}"]})
    return project


def submit_report(repo, now, township_id, organisation_key, report, project=None) -> dict[str, Any]:
    """Store a report (on ``project``, checked by :func:`check_project`: its village is the report's)."""
    if project is not None:
        report = {**report, "village": project["village"]}
    kind, _, ident = organisation_key.partition(":")
    doc = {"_id": uuid.uuid4().hex, "township_id": township_id, "organisation": {"kind": kind, "id": ident},
           "organisation_key": organisation_key, "status": "submitted", "submitted_at": now,
           "milestone": report.get("milestone") or ("completion" if report["kind"] == "completion" else None),
           **{k: v for k, v in report.items() if k != "milestone"}}
    events = envelopes(township_id, None, [(ReportSubmittedV1, {
        "report_id": doc["_id"], "project": doc["project"], "organisation": doc["organisation"],
        "kind": doc["kind"], "village": doc.get("village")})], now)
    repo.insert_report(doc, events)
    return repo.get_report(township_id, doc["_id"])


def review_report(repo, now, principal: Principal, report_id, command) -> dict[str, Any]:
    """The office, or a supervision group of the report's village that is not the reporting organisation's own,
    verifies or rejects a report (``domain.may_review``)."""
    def change(report):
        refusal = domain.may_review(principal, report)
        if refusal:
            raise Forbidden(refusal, role=principal.role)
        return domain.review_report(report, now, command["verified"], command["reason"], principal.actor)

    report_for(repo, principal, report_id)
    return _mutate(repo, lambda: repo.get_report(principal.township_id, report_id), change, repo.save_report, now,
                   f"no report {report_id!r}")


def report_for(repo, principal: Principal, report_id) -> dict[str, Any]:
    report = repo.get_report(principal.township_id, report_id)
    if report is None or not domain.may_see_report(principal, report):
        raise NotFound(f"no report {report_id!r}", id=report_id)
    return report


def reports_for(repo, principal: Principal, status: str | None) -> list[dict[str, Any]]:
    """The reports ``principal`` may see: the township's for the office, its own for an organisation, its
    villages' for a supervision group."""
    if principal.role == "social_org":
        return repo.list_reports(principal.township_id, principal.actor, status)
    if principal.role == "supervision":
        return repo.list_reports(principal.township_id, None, status, list(principal.villages))
    return repo.list_reports(principal.township_id, None, status)


# ---- hotspots ----------------------------------------------------------------------------------------------------
def note_demand(repo: FeedbackRepository, event: Event, minimum: int, window: timedelta) -> dict[str, Any] | None:
    """Track demands per village and category; raise ``hotspot_detected`` once per cluster."""
    p = event.payload
    if not p["category"]:
        return None
    at = p["received_at"]
    doc = repo.note_demand(event.township_id, p["village"], p["category"], p["case_id"], at, event.id)
    if doc is None:
        return None
    active_until = doc.get("active_until")
    cluster = domain.hotspot_after(doc["recent"], active_until, at, minimum, window)
    if cluster is None:
        if active_until is not None and at <= active_until:
            repo.extend_hotspot(doc["_id"], at + window)
        return None
    record = {"first_at": cluster[0]["at"], "last_at": at, "count": len(cluster),
              "case_ids": [c["case_id"] for c in cluster]}
    events = envelopes(event.township_id, None, [(HotspotDetectedV1, {
        "village": p["village"], "category": p["category"], "window_hours": window.total_seconds() / 3600,
        **record})], at)
    if repo.raise_hotspot(doc, record, at + window, events, at):
        return repo.get_hotspot(doc["_id"])
    return None
