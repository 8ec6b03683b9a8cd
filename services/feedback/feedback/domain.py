"""Callback (回访) and completion-report rules, and hotspot detection, as plain functions over documents.

Callback of a completed case: the office phones the resident (attempts are counted; after ``max_attempts``
failures the case closes as unreached) or the resident answers through a one-time link. A satisfied resolution
(resolved, and very satisfied / satisfied / basically satisfied) closes the case resolved. Anything else needs
the reason class, decided by the office: on the unit's side -> redo; outside the unit (policy, an unlawful demand,
other) -> ``resolved`` if the resident said it was resolved, else ``unresolved``, with that reason. A link answer
that is not a satisfied resolution waits for the office (``needs_review``).

Feedback announces only its own facts: ``callback_recorded`` for every attempt and answer, and
``callback_concluded`` with the outcome. The case is dispatch's: dispatch closes or reopens it and says so.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from township_shared.auth import Principal
from township_shared.errors import Conflict, Unprocessable
from township_shared.schemas import feedback as fev

Events = list[tuple[type, dict[str, Any]]]


def new_callback(case_id: str, task_id: str, township_id: str, unit: Mapping[str, str], village: str,
                 category: str | None, reply: str, now: datetime) -> dict[str, Any]:
    """The callback due when a case's lead completes its task; one per completion (a redo gets a new one)."""
    return {"_id": task_id, "case_id": case_id, "township_id": township_id, "unit": dict(unit), "village": village,
            "category": category, "reply": reply, "status": "due", "created_at": now, "attempts": [],
            "token": secrets.token_urlsafe(18)}


def link_expires_at(cb: Mapping[str, Any], lifetime: timedelta) -> datetime:
    """When the resident's link stops working: ``lifetime`` (``CALLBACK_LINK_DAYS``) after the callback became
    due, so a changed setting applies to the links already sent too (decision 56)."""
    return cb["created_at"] + lifetime


def _unit_fact(cb: Mapping[str, Any]) -> dict[str, Any]:
    return {"case_id": cb["case_id"], "callback_id": cb["_id"], "unit": cb["unit"], "village": cb["village"],
            "category": cb["category"]}


def _require(cb: Mapping[str, Any], *statuses: str) -> None:
    if cb["status"] not in statuses:
        raise Conflict(f"the callback is {cb['status']}", status=cb["status"],
                       allowed=["attempt", "answer"] if cb["status"] == "due"
                       else ["classify"] if cb["status"] == "needs_review" else [])


def record_attempt(cb: dict[str, Any], now: datetime, by: str, note: str | None, max_attempts: int) -> Events:
    """The resident could not be reached. The last allowed failure closes the case as unreached."""
    _require(cb, "due")
    cb["attempts"].append({"at": now, "by": by, "reached": False, "note": note})
    final = len(cb["attempts"]) >= max_attempts
    events: Events = [(fev.CallbackRecordedV1, {**_unit_fact(cb), "reached": False, "final": final,
                                                "resolved": None, "satisfaction": None, "channel": "phone",
                                                "outcome": "unreached" if final else None})]
    if final:
        cb.update(status="closed", outcome="unreached", closed_at=now)
        cb.pop("token", None)
        events.append(_concluded(cb, "unreached", f"resident not reached after {len(cb['attempts'])} attempts"))
    return events


def _concluded(cb: Mapping[str, Any], outcome: str, reason: str, stage: str | None = None):
    return (fev.CallbackConcludedV1, {**_unit_fact(cb), "outcome": outcome, "reason": reason, "stage": stage})


def satisfied_resolution(answer: Mapping[str, Any]) -> bool:
    return bool(answer["resolved"]) and answer["satisfaction"] in fev.SATISFIED_LEVELS


def _decide(cb: dict[str, Any], now: datetime, reason_class: str, note: str, stage: str, by: str) -> Events:
    answer = cb["answer"]
    cb.update(reason_class=reason_class, decided_by=by, decided_at=now, status="closed", closed_at=now)
    if reason_class == "unit":
        cb["outcome"] = "redo"
        return [_concluded(cb, "redo", note, stage)]
    cb["outcome"] = "resolved" if answer["resolved"] else "unresolved"
    return [_concluded(cb, cb["outcome"], f"{reason_class}: {note}")]


def record_answer(cb: dict[str, Any], now: datetime, answer: Mapping[str, Any], channel: str, by: str) -> Events:
    """The resident's answer, by phone (office, may carry the reason class) or by the one-time link."""
    _require(cb, "due")
    cb["answer"] = {"resolved": answer["resolved"], "satisfaction": answer["satisfaction"],
                    "comment": answer.get("comment"), "channel": channel, "at": now}
    cb.pop("token", None)
    good = satisfied_resolution(answer)
    if not good and channel == "phone" and not answer.get("reason_class"):
        raise Unprocessable({"reason_class": ["required when the case is not a satisfied resolution: "
                                                 + ", ".join(fev.REASON_CLASSES)]})
    if good:
        cb.update(status="closed", outcome="resolved", closed_at=now)
        follow: Events = [_concluded(cb, "resolved", "resident confirmed the resolution")]
    elif channel == "phone":
        follow = _decide(cb, now, answer["reason_class"], answer.get("note") or answer.get("comment") or
                         answer["reason_class"], answer.get("redo_stage", "handling"), by)
    else:
        cb["status"] = "needs_review"
        follow = []
    recorded = (fev.CallbackRecordedV1, {**_unit_fact(cb), "reached": True, "final": True,
                                         "resolved": answer["resolved"], "satisfaction": answer["satisfaction"],
                                         "channel": channel,
                                         "outcome": cb.get("outcome") if cb["status"] == "closed" else "needs_review"})
    return [recorded] + follow


def classify(cb: dict[str, Any], now: datetime, reason_class: str, note: str, stage: str, by: str) -> Events:
    """The office decides an answer the resident gave through the link."""
    _require(cb, "needs_review")
    return _decide(cb, now, reason_class, note, stage, by)


# ---- completion reports of social organisations ---------------------------------------------------------------
def may_see_report(principal: Principal, report: Mapping[str, Any]) -> bool:
    """The office sees its township's reports, an organisation its own, a supervision group its villages'."""
    if principal.township_id != report["township_id"]:
        return False
    if principal.role == "office":
        return True
    if principal.role == "social_org":
        return report["organisation_key"] == principal.actor
    if principal.role == "supervision":
        return report.get("village") in principal.villages
    return False


def may_review(principal: Principal, report: Mapping[str, Any]) -> str | None:
    """Why ``principal`` may not review ``report``, or None. A supervision group reviews reports of its villages,
    never those of the organisation it belongs to (nor one sharing its id): nobody verifies their own work."""
    if principal.role == "office":
        return None
    if principal.role != "supervision" or not may_see_report(principal, report):
        return "only the office or a supervision group of the report's village may review it"
    if (report["organisation_key"] == principal.organisation
            or report["organisation"]["id"] == principal.actor.partition(":")[2]):
        return "a supervision group never reviews its own organisation's report"
    return None


def review_report(report: dict[str, Any], now: datetime, verified: bool, reason: str, by: str) -> Events:
    """Verify (funds may pay against it) or reject (with the reason) a submitted report; decided once."""
    if report["status"] != "submitted":
        raise Conflict(f"the report is already {report['status']}", status=report["status"], allowed=[])
    report.update(status="verified" if verified else "rejected", review={"at": now, "by": by, "reason": reason})
    base = {"report_id": report["_id"], "project": report["project"], "organisation": report["organisation"]}
    if not verified:
        return [(fev.ReportRejectedV1, {**base, "kind": report["kind"], "reason": reason, "rejected_by": by})]
    figures = {"people_served": report["people_served"], "hours": report["hours"]}
    if report["kind"] == "milestone":
        return [(fev.MilestoneVerifiedV1, {**base, **figures, "milestone": report["milestone"], "verified_by": by})]
    return [(fev.ProjectCompletedV1, {**base, **figures, "verified_by": by})]


# ---- hotspots ---------------------------------------------------------------------------------------------------
def hotspot_after(recent: Sequence[Mapping[str, Any]], active_until: datetime | None, now: datetime, minimum: int,
                  window: timedelta) -> list[Mapping[str, Any]] | None:
    """Given the recent demands of one village and category (oldest first, the new one last), the cluster to
    raise, or None. A cluster is raised once: while it is active (until ``window`` after its last demand) more
    demands extend it silently."""
    inside = [d for d in recent if d["at"] > now - window]
    if len(inside) < minimum:
        return None
    if active_until is not None and now <= active_until:
        return None
    return inside
