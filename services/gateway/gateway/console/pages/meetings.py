"""The joint meeting's pages (meetings service, decisions 67, 75-78), for the office and the meeting's secretary
(role ``meeting``, whose home this is): meetings and the candidate items, scheduling, composing the agenda from
candidates, publishing it, recording each item's notes, votes and decision, closing, the frozen minutes with their
addenda and exports (served here with the session's authority, as the API serves them).

Forms are flat HTML fields; :func:`decision_of` builds the service's nested decision from them, leaving out the
parts of other kinds, so the service's own rules (one part per kind, the subjects a kind is decided on, a
deadline in the future) answer with their messages beside the form."""
from __future__ import annotations

import base64
from datetime import datetime

from werkzeug.wrappers import Response

from township_shared.schemas.meetings import (CANDIDATE_SOURCES, CLOSE_OUTCOMES, DECISIONS, MEETING_KINDS,
                                              SUBJECTS_OF)

from ..i18n import N_
from ..web import CallFailed, Ctx, page
from .funds import call_all, fen_of

MANAGERS = ("office", "meeting")
# who the API lets read a meeting it attends, and so its minutes' exports
READERS = (*MANAGERS, "unit", "party_member", "volunteer", "social_org", "supervision")
EXPORTS = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}
KIND_NAMES = {"joint_meeting": N_("Joint Party-government meeting"), "village_consultation": N_("Village consultation"),
              "hearing": N_("Hearing")}
STATUS_NAMES = {"draft": N_("Draft"), "published": N_("Agenda published"), "closed": N_("Closed")}
DECISION_NAMES = {"approve": N_("Approve funding"), "reject": N_("Reject funding"), "defer": N_("Defer"),
                  "assign": N_("Assign a lead unit"), "close": N_("Close"), "open_topic": N_("Open a consultation topic")}
STATE_NAMES = {"announced": N_("Announced"), "in_progress": N_("In progress"), "done": N_("Done"),
               "refused": N_("Refused"), "deferred": N_("Deferred"), "superseded": N_("Superseded")}
SOURCE_NAMES = {"case_escalated": N_("Escalated case"), "hotspot_detected": N_("Hotspot"),
                "project_referred": N_("Referred project"), "topic": N_("Consultation topic"),
                "office": N_("Added by the office"), "decision_refused": N_("Refused decision")}
SUBJECT_NAMES = {"project": N_("Project"), "case": N_("Case"), "topic": N_("Topic"), "hotspot": N_("Hotspot"),
                 "other": N_("Other matter")}
OUTCOME_NAMES = {"resolved": N_("Resolved"), "unresolved": N_("Unresolved"), "withdrawn": N_("Withdrawn")}
NAMES = {"kinds": KIND_NAMES, "statuses": STATUS_NAMES, "decisions": DECISION_NAMES, "states": STATE_NAMES,
         "sources": SOURCE_NAMES, "subjects": SUBJECT_NAMES, "outcomes": OUTCOME_NAMES}
CANDIDATES_PAGE = "100"
MEETINGS_PAGE = "50"
assert set(DECISION_NAMES) == set(DECISIONS) and set(SOURCE_NAMES) == set(CANDIDATE_SOURCES)


class FormError(ValueError):
    """A field of the console's form that cannot become the service's body (a date, an amount, votes)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def refused(ctx: Ctx, exc: FormError) -> CallFailed:
    return CallFailed(422, {"message": ctx._("Some fields are not valid."), "fields": {exc.field: [str(exc)]}})


def moment(ctx: Ctx, field: str, required: bool = True) -> str | None:
    """A ``datetime-local`` (or a date) typed in the township's time zone, as an aware ISO 8601 time."""
    text = (ctx.form.get(field) or "").strip()
    if not text:
        if required:
            raise FormError(field, ctx._("Give a date and time."))
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise FormError(field, ctx._("Give a date and time.")) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ctx.formats.zone)
    return value.isoformat()


def lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def text_or_none(ctx: Ctx, field: str) -> str | None:
    return (ctx.form.get(field) or "").strip() or None


def number(ctx: Ctx, field: str) -> int | None:
    text = (ctx.form.get(field) or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise FormError(field, ctx._("Give a whole number."))
    return int(text)


# ---- the list: meetings, candidates, scheduling ---------------------------------------------------------------------
def _home(ctx: Ctx, status: int = 200, error: CallFailed | None = None, form: dict | None = None,
          candidate_error: CallFailed | None = None):
    shown = ctx.request.args.get("status")
    query = {"limit": MEETINGS_PAGE, **({"status": shown} if shown in STATUS_NAMES else {})}
    meetings, candidates = call_all(ctx, ("meetings", "list_meetings", query),
                                    ("meetings", "list_candidates", {"state": "open", "limit": CANDIDATES_PAGE}))
    return ctx.render("meetings/home.html", status=status, meetings=meetings, candidates=candidates, error=error,
                      candidate_error=candidate_error, form=form or {}, shown=shown, **NAMES)


@page("/meetings", roles=MANAGERS, methods=("GET", "POST"), nav=N_("Meetings"), nav_order=30)
def meetings_home(ctx: Ctx):
    """The township's meetings and the open candidate items; the form schedules a meeting (attendees one actor
    a line, optionally followed by a name), which then opens to compose its agenda."""
    if ctx.request.method != "POST":
        return _home(ctx)
    try:
        attendees = []
        for line in lines(ctx.form.get("attendees")):
            actor, _, name = line.partition(" ")
            attendees.append({"actor": actor.strip(), "name": name.strip() or None, "role": None})
        body = {"kind": ctx.form.get("kind") or None, "title": text_or_none(ctx, "title"),
                "starts_at": moment(ctx, "starts_at"), "place": text_or_none(ctx, "place"),
                "convener": text_or_none(ctx, "convener"), "attendees": attendees}
        meeting = ctx.call("meetings", "schedule_meeting", body)
    except FormError as exc:
        return _home(ctx, 422, refused(ctx, exc), dict(ctx.form))
    except CallFailed as exc:
        if exc.status >= 500:
            raise
        return _home(ctx, exc.status, exc, dict(ctx.form))
    return ctx.redirect(f"/console/meetings/{meeting['id']}", done="scheduled")


@page("/meetings/candidates", roles=("office",), methods=("POST",))
def meetings_propose(ctx: Ctx):
    """The office adds a candidate item: a case of the township (checked with dispatch) or any other matter."""
    body = {"subject": {"kind": ctx.form.get("subject_kind") or None, "id": text_or_none(ctx, "subject_id")},
            "title": text_or_none(ctx, "title"), "summary": text_or_none(ctx, "summary")}
    try:
        ctx.call("meetings", "propose_item", body)
    except CallFailed as exc:
        if exc.status >= 500:
            raise
        return _home(ctx, exc.status, candidate_error=exc, form=dict(ctx.form))
    return ctx.redirect("/console/meetings", done="saved")


# ---- one meeting -------------------------------------------------------------------------------------------------------
def _meeting(ctx: Ctx, meeting_id: str, status: int = 200, error: CallFailed | None = None,
             form: dict | None = None, where: str | None = None):
    meeting, candidates = call_all(ctx, ("meetings", "get_meeting", meeting_id),
                                   ("meetings", "list_candidates", {"state": "open", "limit": CANDIDATES_PAGE}))
    on_agenda = {i["candidate_id"] for i in meeting["items"]}
    candidates = [c for c in candidates if c["id"] not in on_agenda] if meeting["status"] != "closed" else []
    return ctx.render("meetings/meeting.html", status=status, meeting=meeting, candidates=candidates, error=error,
                      where=where, form=form or {}, subjects_of=SUBJECTS_OF, close_outcomes=CLOSE_OUTCOMES,
                      exports=EXPORTS, **NAMES)


def _act(ctx: Ctx, where: str, method: str, *args):
    """Call ``method`` on the meeting of the URL and go back to its page, or show the refusal beside the form."""
    meeting_id = ctx.values["meeting_id"]
    try:
        built = [arg(ctx) if callable(arg) else arg for arg in args]
        ctx.call("meetings", method, meeting_id, *built)
    except FormError as exc:
        return _meeting(ctx, meeting_id, 422, refused(ctx, exc), dict(ctx.form), where)
    except CallFailed as exc:
        if exc.status >= 500 or (exc.status == 404 and "item" not in exc.message):
            raise
        return _meeting(ctx, meeting_id, exc.status, exc, dict(ctx.form), where)
    done = {"agenda": "saved", "publish": "published", "close": "closed", "addenda": "saved"}.get(where, "recorded")
    anchor = f"#item-{ctx.values['item_id']}" if "item_id" in ctx.values else ""
    return ctx.redirect(f"/console/meetings/{meeting_id}", done=done) if not anchor else Response(
        status=303, headers={"Location": f"/console/meetings/{meeting_id}?done={done}{anchor}"})


@page("/meetings/<meeting_id>", roles=MANAGERS)
def meeting_page(ctx: Ctx):
    """The meeting: facts, the earlier decisions its agenda opens with, the items with what was recorded, and the
    forms of its present state (compose and publish before it closes, record each item, close; addenda after)."""
    return _meeting(ctx, ctx.values["meeting_id"])


@page("/meetings/<meeting_id>/agenda", roles=MANAGERS, methods=("POST",))
def meeting_agenda(ctx: Ctx):
    """The agenda in order: the items already on it that stay (``keep``) then the candidates added (``add``),
    each with its minutes (``minutes_<id>``) and presenter (``presenter_<id>``)."""
    def agenda(ctx):
        entries = []
        for cid in [*ctx.form.getlist("keep"), *ctx.form.getlist("add")]:
            if cid in (e["candidate_id"] for e in entries):
                continue
            minutes = number(ctx, f"minutes_{cid}") or 15
            entries.append({"candidate_id": cid, "minutes": minutes,
                            "presenter": text_or_none(ctx, f"presenter_{cid}")})
        return {"items": entries}

    return _act(ctx, "agenda", "compose_agenda", agenda)


@page("/meetings/<meeting_id>/publish", roles=MANAGERS, methods=("POST",))
def meeting_publish(ctx: Ctx):
    return _act(ctx, "publish", "publish_agenda")


def decision_of(ctx: Ctx) -> dict | None:
    """The decision of a record form: its kind, reason and the part that kind needs (only that one)."""
    kind = ctx.form.get("decision") or ""
    if not kind:
        return None
    decision = {"decision": kind, "reason": text_or_none(ctx, "reason")}
    if kind == "assign":
        co_units = [u.strip() for u in (ctx.form.get("co_units") or "").replace("，", ",").split(",") if u.strip()]
        decision["assignment"] = {"lead": {"kind": "unit", "id": text_or_none(ctx, "lead")},
                                  "co_units": [{"kind": "unit", "id": u} for u in co_units],
                                  "deadline": moment(ctx, "deadline")}
    elif kind == "approve":
        try:
            approved = fen_of(ctx.form.get("approved_yuan"))
        except ValueError:
            raise FormError("approved_yuan", ctx._("Write an amount in yuan, at most two decimals.")) from None
        pools = []
        for line in lines(ctx.form.get("pools")):
            code, _, amount = line.replace("：", ":").partition(":")
            try:
                fen = fen_of(amount)
            except ValueError:
                fen = None
            if not code.strip() or not fen:
                raise FormError("pools", ctx._("One pool a line: its code, a colon, the amount in yuan."))
            pools.append({"pool": code.strip(), "amount_fen": fen})
        decision["funding"] = {"approved_fen": approved, "pools": pools}
    elif kind == "close":
        decision["closing"] = {"outcome": ctx.form.get("outcome") or None}
    elif kind == "defer":
        decision["deferral"] = {"until": moment(ctx, "until", required=False)}
    elif kind == "open_topic":
        decision["topic"] = {"title": text_or_none(ctx, "topic_title"), "village": text_or_none(ctx, "topic_village"),
                             "description": text_or_none(ctx, "topic_description")}
    return decision


@page("/meetings/<meeting_id>/items/<item_id>/record", roles=MANAGERS, methods=("POST",))
def meeting_record(ctx: Ctx):
    """An item's notes, votes (yes and no both, abstentions optional), decision and follow-ups (one a line)."""
    def record(ctx):
        votes = None
        yes, no, abstain = number(ctx, "votes_yes"), number(ctx, "votes_no"), number(ctx, "votes_abstain")
        if (yes, no, abstain) != (None, None, None):
            if yes is None or no is None:
                raise FormError("votes_yes", ctx._("Give the votes for and against, or no votes at all."))
            votes = {"yes": yes, "no": no, "abstain": abstain or 0}
        return {"notes": text_or_none(ctx, "notes"), "votes": votes, "decision": decision_of(ctx),
                "follow_ups": lines(ctx.form.get("follow_ups"))}

    return _act(ctx, f"item-{ctx.values['item_id']}", "record_item", ctx.values["item_id"], record)


@page("/meetings/<meeting_id>/close", roles=MANAGERS, methods=("POST",))
def meeting_close(ctx: Ctx):
    """Close with the attendees present (checked); the minutes are frozen and every decision announced."""
    return _act(ctx, "close", "close_meeting", lambda ctx: {"present": ctx.form.getlist("present")})


@page("/meetings/<meeting_id>/addenda", roles=MANAGERS, methods=("POST",))
def meeting_addendum(ctx: Ctx):
    return _act(ctx, "addenda", "add_addendum", lambda ctx: {"text": text_or_none(ctx, "text")})


@page("/meetings/<meeting_id>/minutes.<fmt>", roles=READERS)
def meeting_minutes(ctx: Ctx):
    """The frozen minutes as Markdown, HTML or PDF, as ``GET /api/v1/meetings/<id>/minutes.<fmt>`` serves them to
    the same reader (an attendee of a meeting it attends; 409 before the meeting closes)."""
    meeting_id, fmt = ctx.values["meeting_id"], ctx.values["fmt"]
    if fmt not in EXPORTS:
        raise CallFailed(404, {"message": ctx._("No such export.")})
    exported = ctx.call("meetings", "export_minutes", meeting_id, fmt)
    body = base64.b64decode(exported["base64"]) if "base64" in exported else exported["text"]
    disposition = "inline" if fmt == "pdf" else "attachment"
    return Response(body, status=200, headers={"Content-Type": EXPORTS[fmt],
                                               "Content-Disposition": f"{disposition}; filename={meeting_id}.{fmt}"})
