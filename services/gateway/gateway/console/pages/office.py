"""The office's case pages (issue 16): the board of cases by stage, the triage queue with one-click routing, a
case's page (history, tasks, duplicates, callbacks, public timeline; re-route, close, whistle) and the callbacks
due. Every figure and every change goes through the same RPCs as the API's routes, with the clerk's principal, so
the services' rules and scopes are the only ones (decision 91); the board reads dispatch's ``list_cases``
(decision 95)."""
from __future__ import annotations

from typing import Any

from ..i18n import N_
from ..web import CallFailed, Ctx, page

OFFICE = ("office",)
# the stages of dispatch's case statuses, in the order a case goes through them (``received`` is a moment)
STAGES = ("triage", "duplicate", "dispatched", "in_progress", "completed", "callback", "closed")
STAGE_NAMES = {"received": N_("Received, not yet dispatched"), "triage": N_("Triage"), "duplicate": N_("Duplicate"),
               "dispatched": N_("Dispatched"), "in_progress": N_("In progress"), "completed": N_("Completed"),
               "callback": N_("Callback"), "closed": N_("Closed")}
ATTENTION_NAMES = {"escalated": N_("Escalated"), "overdue": N_("Overdue")}
URGENCY_NAMES = {"emergency": N_("Emergency"), "utilities": N_("Utilities"), "general": N_("General")}
TASK_ROLE_NAMES = {"lead": N_("Lead"), "co_handler": N_("Co-handler")}
TASK_STATUS_NAMES = {"assigned": N_("Assigned"), "signed": N_("Signed"), "in_progress": N_("In progress"),
                     "extension_requested": N_("Extension requested"), "completed": N_("Completed"),
                     "returned": N_("Returned"), "cancelled": N_("Cancelled")}
OUTCOME_NAMES = {"resolved": N_("Resolved"), "unresolved": N_("Closed without a fix"),
                 "duplicate": N_("Duplicate of another case"), "withdrawn": N_("Withdrawn by the resident"),
                 "unreached": N_("Resident not reached")}
CALLBACK_STATUS_NAMES = {"due": N_("Due for callback"), "needs_review": N_("Needs review"), "closed": N_("Closed")}
CALLBACK_OUTCOME_NAMES = {"resolved": N_("Resolved"), "redo": N_("Redo"), "unresolved": N_("Unresolved"),
                          "unreached": N_("Not reached"), "needs_review": N_("Needs review")}
SATISFACTION_NAMES = {"very_satisfied": N_("Very satisfied"), "satisfied": N_("Satisfied"),
                      "basically_satisfied": N_("Basically satisfied"), "dissatisfied": N_("Dissatisfied"),
                      "very_dissatisfied": N_("Very dissatisfied")}
REASON_CLASS_NAMES = {"unit": N_("On the unit's side"), "policy": N_("Policy does not allow it"),
                      "unlawful_demand": N_("Unlawful demand"), "other_outside": N_("Other reason outside the unit")}
REDO_STAGE_NAMES = {"handling": N_("Same unit handles it again"), "dispatch": N_("Back to the office to route")}
STEP_NAMES = {"received": N_("Demand received"), "duplicate": N_("Linked as a duplicate"), "triage": N_("Waiting for the office"),
              "assigned": N_("Assigned"), "signed": N_("Signed for"), "returned": N_("Returned"),
              "extension_requested": N_("Extension requested"), "extension_decided": N_("Extension decided"),
              "completed": N_("Completed"), "callback": N_("Callback"), "reopened": N_("Reopened for redo"),
              "escalated": N_("Escalated"), "closed": N_("Closed")}
ACTOR_KIND_NAMES = {"unit": N_("Unit"), "party_member": N_("Party member"), "volunteer": N_("Volunteer"),
                    "social_org": N_("Social organisation")}
ESCALATION_NAMES = {"overdue": N_("Overdue"), "returned_twice": N_("Returned twice"), "whistle": N_("Whistle")}
TRIAGE_SHOWN = 30  # cases of the queue on one page, oldest first
CANDIDATE_CATEGORIES = 3
CANDIDATE_UNITS = 3


class Names:
    """The township's villages, categories and actors by code, in the reader's language (read once a request)."""

    def __init__(self, ctx: Ctx):
        self.ctx, self._villages, self._categories, self._units = ctx, None, None, None

    def _named(self, items: list[dict]) -> dict[str, str]:
        return {i["code"]: (i.get("names") or {}).get(self.ctx.lang) or i["code"] for i in items}

    @property
    def villages(self) -> dict[str, str]:
        if self._villages is None:
            self._villages = self._named(self.ctx.call("intake", "list_villages"))
        return self._villages

    @property
    def categories(self) -> dict[str, str]:
        if self._categories is None:
            self._categories = self._named(self.ctx.call("intake", "list_categories"))
        return self._categories

    @property
    def units(self) -> list[dict[str, Any]]:
        """The township's active units (the office's registry), by name."""
        if self._units is None:
            found = self.ctx.call("dispatch", "list_actors", {"kind": "unit", "active": True})
            self._units = sorted(found, key=lambda a: self.actor_name(a))
        return self._units

    def actor_name(self, actor: dict[str, Any]) -> str:
        return (actor.get("names") or {}).get(self.ctx.lang) or actor.get("name") or actor["id"]

    def actor(self, key: str | None) -> str:
        """An actor key (``unit:water_station``) as the office reads it: a unit by its name, others as kept."""
        if not key:
            return ""
        kind, _, ident = key.partition(":")
        if kind == "unit":
            for unit in self.units:
                if unit["id"] == ident:
                    return self.actor_name(unit)
        return f"{self.ctx._(ACTOR_KIND_NAMES.get(kind, kind))} {ident}"

    def village(self, code: str | None) -> str:
        return self.villages.get(code or "", code or "")

    def category(self, code: str | None) -> str:
        return self.categories.get(code or "", code or "") if code else self.ctx._("Not classified")

    def units_for(self, category: str | None, village: str) -> list[str]:
        """Active units whose responsibility covers ``category`` in ``village`` (keys), by name."""
        if not category:
            return []
        return [f"unit:{u['id']}" for u in self.units if category in (u.get("categories") or ())
                and ("*" in (u.get("villages") or ()) or village in (u.get("villages") or ()))]


def _labels(ctx: Ctx) -> dict[str, Any]:
    """The label tables every office template uses, translated at render time."""
    return {"STAGE_NAMES": STAGE_NAMES, "ATTENTION_NAMES": ATTENTION_NAMES, "URGENCY_NAMES": URGENCY_NAMES,
            "TASK_ROLE_NAMES": TASK_ROLE_NAMES, "TASK_STATUS_NAMES": TASK_STATUS_NAMES,
            "OUTCOME_NAMES": OUTCOME_NAMES, "CALLBACK_STATUS_NAMES": CALLBACK_STATUS_NAMES,
            "CALLBACK_OUTCOME_NAMES": CALLBACK_OUTCOME_NAMES, "SATISFACTION_NAMES": SATISFACTION_NAMES,
            "REASON_CLASS_NAMES": REASON_CLASS_NAMES, "REDO_STAGE_NAMES": REDO_STAGE_NAMES,
            "STEP_NAMES": STEP_NAMES, "ESCALATION_NAMES": ESCALATION_NAMES, "STAGES": STAGES}


def _text(ctx: Ctx, name: str, limit: int = 1000) -> str | None:
    value = (ctx.form.get(name) or "").strip()
    return value[:limit] if value else None


# ---- the board -----------------------------------------------------------------------------------------------
@page("/office", roles=OFFICE, nav=N_("Cases"), nav_order=10)
def board(ctx: Ctx):
    """The township's cases by stage: counts per stage, one stage listed with escalated and overdue cases
    first, filtered by village and category, a page at a time (``cursor``)."""
    args = ctx.request.args
    chosen = args.get("stage") if args.get("stage") in STAGE_NAMES else None
    query = {k: args[k] for k in ("village", "category", "cursor") if args.get(k)}
    result = ctx.call("dispatch", "list_cases", {**query, "status": chosen or "triage"})
    if chosen is None and not result["counts"].get("triage"):
        busy = next((s for s in STAGES[:-1] if result["counts"].get(s)), None)
        if busy:
            result = ctx.call("dispatch", "list_cases", {**query, "status": busy})
    names = Names(ctx)
    return ctx.render("office/board.html", result=result, stage=result["status"], names=names,
                      village=args.get("village") or "", category=args.get("category") or "",
                      first_page=bool(args.get("cursor")), **_labels(ctx))


# ---- triage --------------------------------------------------------------------------------------------------
def _triage_entry(case: dict[str, Any], names: Names) -> dict[str, Any]:
    """A queued case with the categories to offer (the machine's candidates with their scores, the case's own
    category first when it has one) and, for each, the units responsible for it in the case's village."""
    offered: list[dict[str, Any]] = []
    candidates = (case.get("classification") or {}).get("candidates") or []
    if case.get("category"):
        offered.append({"category": case["category"], "score": None, "confidence": None})
    for cand in candidates:
        if cand["category"] not in [o["category"] for o in offered]:
            offered.append(dict(cand))
    named_units = [c for c in (case.get("triage") or {}).get("candidates", []) if c.startswith("unit:")]
    for option in offered[:CANDIDATE_CATEGORIES]:
        units = named_units if option["category"] == case.get("category") and named_units else []
        units = units + [u for u in names.units_for(option["category"], case["village"]) if u not in units]
        option["units"] = units[:CANDIDATE_UNITS]
    return {"case": case, "options": offered[:CANDIDATE_CATEGORIES]}


@page("/office/triage", roles=OFFICE, methods=("GET", "POST"), nav=N_("Triage"), nav_order=20)
def triage(ctx: Ctx):
    """The cases waiting for the office, oldest first, each with its candidate categories (score, confidence)
    and units: one click routes it (``POST`` like ``/api/v1/cases/{id}/route``); any category and unit may be
    chosen instead; a duplicate may be closed as one."""
    error = failed_case = None
    names = Names(ctx)
    if ctx.request.method == "POST":
        case_id = (ctx.form.get("case_id") or "").strip()
        try:
            if ctx.form.get("action") == "close_duplicate":
                ctx.call("dispatch", "close_case", case_id, {
                    "outcome": "duplicate", "reason": _text(ctx, "reason") or ctx._("Duplicate of an open case")})
                return ctx.redirect("/console/office/triage", done="closed")
            category = _text(ctx, "category", 64)
            lead = _text(ctx, "lead", 200) or ""
            reason = _text(ctx, "reason") or ctx._("Routed from triage to %(unit)s as %(category)s",
                                                    unit=names.actor(lead), category=names.category(category))
            ctx.call("dispatch", "route_case", case_id, {"lead": lead, "category": category, "reason": reason})
            return ctx.redirect("/console/office/triage", done="routed")
        except CallFailed as exc:
            if exc.status >= 500:
                raise
            error, failed_case = _failure(ctx, exc), case_id
    queue = ctx.call("dispatch", "list_triage", TRIAGE_SHOWN)
    entries = [_triage_entry(case, names) for case in queue]
    return ctx.render("office/triage.html", entries=entries, names=names, error=error, failed_case=failed_case,
                      status=422 if error else 200, **_labels(ctx))


def _failure(ctx: Ctx, exc: CallFailed) -> str:
    """What a service refused, with the fields it named."""
    details = "; ".join(f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                        for field, msgs in exc.fields.items())
    return f"{exc.message} ({details})" if details else exc.message


# ---- a case --------------------------------------------------------------------------------------------------
CASE_ACTIONS = ("route", "close", "whistle", "photos")


def _case_action(ctx: Ctx, case_id: str, action: str, names: Names) -> None:
    reason = _text(ctx, "reason") or ""
    if action == "route":
        lead = _text(ctx, "lead", 200) or ""
        co = [k for k in ctx.form.getlist("co_handlers") if k and k != lead][:20]
        ctx.call("dispatch", "route_case", case_id, {"lead": lead, "co_handlers": co,
                                                     "category": _text(ctx, "category", 64), "reason": reason})
    elif action == "photos":
        if not ctx.save_photos(f"case:{case_id}"):
            raise CallFailed(422, {"message": ctx._("Choose at least one photo."), "fields": {"photos": ["required"]}})
    elif action == "close":
        ctx.call("dispatch", "close_case", case_id, {"outcome": _text(ctx, "outcome", 40) or "", "reason": reason})
    else:
        ctx.call("dispatch", "whistle_case", case_id, {"units": ctx.form.getlist("units")[:20], "reason": reason})


@page("/cases/<case_id>", roles=OFFICE, methods=("GET", "POST"))
def case_page(ctx: Ctx):
    """One case as the office sees it (what ``GET /api/v1/cases/{id}`` answers the office): the demand, the
    reporter, the status, the history with the routing's explanation, the tasks and their deadlines, duplicates,
    callbacks, the public timeline, the case's photos; forms to re-route, close, whistle (吹哨) and add photos."""
    case_id = ctx.values["case_id"]
    names = Names(ctx)
    error = failed = None
    if ctx.request.method == "POST":
        action = ctx.form.get("action")
        if action not in CASE_ACTIONS:
            error, failed = ctx._("Choose what to do with the case."), "route"
        else:
            try:
                if action == "photos":
                    ctx.call("dispatch", "get_case", case_id)  # only a case the office may see gets photos
                _case_action(ctx, case_id, action, names)
                return ctx.redirect(f"/console/cases/{case_id}", done={"route": "routed", "close": "closed",
                                                                       "whistle": "whistled", "photos": "saved"}[action])
            except CallFailed as exc:
                if exc.status >= 500 or exc.status == 404:
                    raise
                error, failed = _failure(ctx, exc), action
    case = ctx.call("dispatch", "get_case", case_id)
    timeline = ctx.call("dispatch", "get_timeline", case["id"])
    callbacks = [cb for status in ("due", "needs_review", "closed")
                 for cb in ctx.call("feedback", "list_callbacks", {"status": status, "case_id": case["id"],
                                                                   "limit": 20})]
    open_units = [t["assignee_key"] for t in case.get("tasks", [])
                  if t["status"] in ("assigned", "signed", "in_progress", "extension_requested")]
    return ctx.render("office/case.html", case=case, timeline=timeline, callbacks=callbacks, names=names,
                      photos=ctx.photos_of(f"case:{case['id']}"),
                      open_units=open_units, error=error, failed=failed, status=422 if error else 200,
                      link_base=ctx.request.host_url.rstrip("/"), **_labels(ctx))


# ---- callbacks -----------------------------------------------------------------------------------------------
CALLBACK_LISTS = ("due", "needs_review")


def _callback_action(ctx: Ctx, callback_id: str, action: str) -> None:
    if action == "attempt":
        ctx.call("feedback", "record_callback_attempt", callback_id, {"note": _text(ctx, "note")})
    elif action == "answer":
        resolved = ctx.form.get("resolved")
        body = {"resolved": {"yes": True, "no": False}.get(resolved, resolved),
                "satisfaction": _text(ctx, "satisfaction", 40), "comment": _text(ctx, "comment", 2000),
                "reason_class": _text(ctx, "reason_class", 40), "note": _text(ctx, "note"),
                "redo_stage": _text(ctx, "redo_stage", 40) or "handling"}
        ctx.call("feedback", "record_callback_answer", callback_id, body)
    else:
        ctx.call("feedback", "classify_callback", callback_id, {
            "reason_class": _text(ctx, "reason_class", 40), "note": _text(ctx, "note"),
            "redo_stage": _text(ctx, "redo_stage", 40) or "handling"})


@page("/office/callbacks", roles=OFFICE, methods=("GET", "POST"), nav=N_("Callbacks"), nav_order=30)
def callbacks(ctx: Ctx):
    """The callbacks (回访) due, or waiting for review: the one-time link to read out to the resident, and forms
    to record a failed attempt, the resident's answer by phone, and on whose side an unresolved answer lies."""
    shown = ctx.request.args.get("status") if ctx.request.args.get("status") in CALLBACK_LISTS else "due"
    error = failed = None
    if ctx.request.method == "POST":
        callback_id = (ctx.form.get("callback_id") or "").strip()
        action = ctx.form.get("action")
        shown = ctx.form.get("status") if ctx.form.get("status") in CALLBACK_LISTS else shown
        if action not in ("attempt", "answer", "classify"):
            error, failed = ctx._("Choose what to record."), callback_id
        else:
            try:
                _callback_action(ctx, callback_id, action)
                return ctx.redirect("/console/office/callbacks", done="recorded",
                                    status=None if shown == "due" else shown)
            except CallFailed as exc:
                if exc.status >= 500:
                    raise
                error, failed = _failure(ctx, exc), callback_id
    items = ctx.call("feedback", "list_callbacks", {"status": shown, "limit": 50})
    return ctx.render("office/callbacks.html", items=items, shown=shown, names=Names(ctx), error=error,
                      failed=failed, status=422 if error else 200, link_base=ctx.request.host_url.rstrip("/"),
                      lists=CALLBACK_LISTS, **_labels(ctx))
