"""The public's pages (no sign-in; written for a phone first): submit a demand, follow it with its case number and
secret, answer the callback link, and see a village's projects, money paid and consultation results.

They are not in the menu (every role's menu would carry them): the public's start page leads to them. These
pages call the services as the public of the reader's township (``auth.public``), whoever reads: a signed-in
clerk opening them sees what a resident sees and submits as a resident would, so no page here ever shows more
than the API shows the public. The calls are the API's: ``POST /api/v1/demands`` (intake ``submit_demand``, the
submission limits counting the same client), ``GET /api/v1/demands/{id}/timeline`` (dispatch ``get_timeline``,
intake for a demand dispatch has not seen yet), ``GET/POST /api/v1/callback-links/{token}`` (feedback),
``GET /api/v1/projects`` (funds) and ``GET /api/v1/topics`` (meetings).

Secrets: the case's secret is shown once, in the answer to the submission (rendered, not redirected to, so it
never enters a URL), and travels back only in the follow form's POST body. The callback link's token is in its URL
by design (the link is the credential, decision 56): the gateway's logs redact it (decision 97)."""
from __future__ import annotations

import re
import time
import uuid
from typing import Any


from township_shared import auth
from township_shared.auth import ROLES

from ...security import client_of
from ..i18n import N_
from ..web import CallFailed, Ctx, error_page, page

CASE_STATUS = {"received": N_("Demand received"), "duplicate": N_("Linked to an earlier report"),
               "triage": N_("Being routed"), "dispatched": N_("Sent to the responsible unit"),
               "in_progress": N_("Being handled"), "completed": N_("Replied"), "callback": N_("Asking you back"),
               "closed": N_("Case closed")}
OUTCOME = {"resolved": N_("Resolved"), "unresolved": N_("Closed without a fix"), "duplicate": N_("Duplicate"),
           "withdrawn": N_("Withdrawn"), "unreached": N_("We could not reach you")}
TIMELINE_STEP = {"received": N_("Demand received"), "duplicate": N_("Linked to an earlier report"),
                 "triage": N_("Waiting to be routed by the office"), "assigned": N_("Assigned"),
                 "signed": N_("Accepted by the unit"), "returned": N_("Returned to the office"),
                 "extension_requested": N_("More time requested"), "extension_decided": N_("Deadline decided"),
                 "completed": N_("Replied"), "callback": N_("Asked you back"), "reopened": N_("Reopened"),
                 "escalated": N_("Escalated to the joint meeting"), "closed": N_("Case closed")}
SATISFACTION = {"very_satisfied": N_("Very satisfied"), "satisfied": N_("Satisfied"),
                "basically_satisfied": N_("Basically satisfied"), "dissatisfied": N_("Dissatisfied"),
                "very_dissatisfied": N_("Very dissatisfied")}
PROJECT_STATUS = {"proposed": N_("Proposed"), "referred": N_("Before the joint meeting"), "approved": N_("Approved"),
                  "rejected": N_("Rejected"), "completed": N_("Completed"), "closed": N_("Closed")}
TOPIC_STEP = {"proposed": N_("Proposed"), "accepted": N_("Accepted"), "declined": N_("Declined"),
              "negotiated": N_("Negotiated"), "agreed": N_("Agreed"), "applied": N_("Applied"),
              "feedback": N_("Feedback received"), "concluded": N_("Concluded")}
PROJECTS_SHOWN = 50
TOPICS_SHOWN = 50
REFERENCE_SECONDS = 60
MAX_REFERENCE = 1000
REFERENCE: dict[str | None, tuple[float, list[dict], list[dict]]] = {}
SECRET = re.compile(r"^[0-9a-f]{32}$")
KEY = re.compile(r"^[0-9a-f]{32}$")


def as_public(ctx: Ctx, service: str, method: str, *args: Any) -> Any:
    """``service.method`` called as the public of the reader's township."""
    key = ctx.config.get("PRINCIPAL_KEY") or auth.DEFAULT_PRINCIPAL_KEY
    return ctx.call_unsigned(service, method, auth.sign(auth.public(ctx.principal.township_id), key), *args)


def as_public_all(ctx: Ctx, *calls: tuple) -> list:
    """Several reads as the public of the reader's township at once (:meth:`Ctx.call_all`)."""
    key = ctx.config.get("PRINCIPAL_KEY") or auth.DEFAULT_PRINCIPAL_KEY
    return ctx.call_all(*calls, signed=auth.sign(auth.public(ctx.principal.township_id), key))


def reference(ctx: Ctx) -> tuple[list[dict], list[dict]]:
    """The township's villages and category catalogue (intake's, as the API lists them to everyone), kept
    :data:`REFERENCE_SECONDS` per township: every page here names villages and categories, and they change
    rarely (a township's reference data is loaded, not edited through the console)."""
    township = ctx.principal.township_id
    now = time.monotonic()
    cached = REFERENCE.get(township)
    if cached and cached[0] > now:
        return cached[1], cached[2]
    villages, categories = as_public_all(ctx, ("intake", "list_villages"), ("intake", "list_categories"))
    if len(REFERENCE) >= MAX_REFERENCE:
        REFERENCE.clear()
    REFERENCE[township] = (now + REFERENCE_SECONDS, villages, categories)
    return villages, categories


def names(item: dict, lang: str) -> str:
    return (item.get("names") or {}).get("zh" if lang == "zh" else "en") or item.get("code", "")


def examples(category: dict, lang: str, count: int = 6) -> list[str]:
    """A category's own keywords in the reader's script (Chinese ones for Chinese), as examples for the help."""
    words = category.get("keywords") or []
    chinese = [w for w in words if not w.isascii()]
    latin = [w for w in words if w.isascii()]
    return ((chinese or latin) if lang == "zh" else (latin or chinese))[:count]


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to copy by hand; the follow form ignores the spaces."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _number(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def submission_from(form: Any, ctx: Ctx) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The API's submission body from the form, and the mistakes the form itself can tell (the rest is intake's
    422)."""
    errors: dict[str, list[str]] = {}
    required = {"village": ctx._("Choose your village."), "name": ctx._("Write your name."),
                "phone": ctx._("Write a phone number we can call you back on."),
                "title": ctx._("Say in a few words what it is about."),
                "description": ctx._("Describe the problem or the need.")}
    values = {k: (form.get(k) or "").strip() for k in ("village", "name", "phone", "title", "description",
                                                      "category", "address", "lat", "long")}
    for name, message in required.items():
        if not values[name]:
            errors[name] = [message]
    body: dict[str, Any] = {
        "channel": "online", "village": values["village"], "title": values["title"],
        "description": values["description"],
        "reporter": {"name": values["name"], "phone": values["phone"], "village": values["village"]}}
    if values["category"]:
        body["category"] = values["category"]
    lat, long = _number(values["lat"]), _number(values["long"])
    if (values["lat"] and lat is None) or (values["long"] and long is None) or ((lat is None) != (long is None)):
        errors["location"] = [ctx._("Give both latitude and longitude as numbers, or neither.")]
    location = {k: v for k, v in (("lat", lat), ("long", long), ("address", values["address"] or None))
                if v is not None}
    if location:
        body["location"] = location
    return body, errors


FIELD_OF = {"reporter.name": "name", "reporter.phone": "phone", "reporter.village": "village",
            "location.lat": "location", "location.long": "location", "location.address": "address",
            "location": "location"}


def field_errors(fields: dict[str, Any]) -> dict[str, list[str]]:
    """A service's ``fields`` (nested ones flattened: ``reporter.phone``) as the form's field names."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            messages = value if isinstance(value, list) else [value]
            flat.setdefault(FIELD_OF.get(prefix, prefix.split(".")[0]), []).extend(str(m) for m in messages)

    walk("", fields)
    return flat


@page("/submit", roles=ROLES, methods=("GET", "POST"))
def submit(ctx: Ctx):
    """The resident's form. Its answer shows the case number and the secret, rendered in the answer to the POST
    (never a redirect: the secret would be in a URL) and marked not to be cached. A hidden key makes a form
    sent twice (a double tap, a retried POST) the same case: intake replays it with the same secret."""
    villages, categories = reference(ctx)
    errors: dict[str, list[str]] = {}
    failed, status = None, 200
    form: Any = {}
    key = uuid.uuid4().hex
    if ctx.request.method == "POST":
        form = ctx.form
        key = form.get("key") if KEY.match(form.get("key") or "") else key
        body, errors = submission_from(form, ctx)
        if not errors:
            try:
                accepted = as_public(ctx, "intake", "submit_demand", body, f"console:{key}",
                                     client_of(ctx.request, ctx.config))["case"]
            except CallFailed as exc:
                if exc.status not in (400, 404, 409, 413, 415, 422, 429):
                    raise
                failed, errors, status = exc.message, field_errors(exc.fields), exc.status
            else:
                photo_error = None
                try:
                    ctx.save_photos(f"case:{accepted['id']}")
                except CallFailed as exc:
                    photo_error = exc.message
                response = ctx.render("public/submitted.html", status=201, case=accepted,
                                      secret=grouped(accepted["secret"]), photo_error=photo_error)
                response.headers["Cache-Control"] = "no-store"
                return response
        else:
            status = 422
    lang = ctx.lang
    return ctx.render("public/submit.html", status=status, errors=errors, failed=failed, form=form, key=key,
                      villages=[(v["code"], names(v, lang)) for v in villages],
                      categories=[{"code": c["code"], "name": names(c, lang), "examples": examples(c, lang),
                                   "days": c.get("handling_days")} for c in categories])


def timeline_for(ctx: Ctx, number: str, secret: str) -> dict[str, Any]:
    """The case's public timeline as ``GET /api/v1/demands/{id}/timeline`` answers it: dispatch's, or only
    ``received`` for a demand dispatch has not seen yet. :class:`CallFailed` 404 for a wrong number or secret."""
    try:
        return as_public(ctx, "dispatch", "get_timeline", number, secret)
    except CallFailed as exc:
        if exc.status != 404:
            raise
    demand = as_public(ctx, "intake", "get_demand", number, secret)
    return {"case_id": demand["id"], "case_number": demand["case_number"], "status": demand["status"],
            "outcome": demand.get("outcome"), "since": demand.get("status_since") or demand["received_at"],
            "holder": None, "closed_at": None,
            "entries": [{"at": demand["received_at"], "step": "received", "holder": None, "text": None}]}


@page("/follow", roles=ROLES, methods=("GET", "POST"))
def follow(ctx: Ctx):
    """Case number and secret in a POST form (never in the URL: it would stay in the browser's history and in
    logs); the answer is the case's public timeline, or "not found" for a wrong pair, which tells a guesser
    nothing either way."""
    if ctx.request.method != "POST":
        return ctx.render("public/follow.html", form={}, not_found=False)
    number = (ctx.form.get("case_number") or "").strip().upper()[:40]
    secret = re.sub(r"[\s-]", "", ctx.form.get("secret") or "").lower()[:64]
    if not number or not SECRET.match(secret):
        return ctx.render("public/follow.html", status=404, form={"case_number": number}, not_found=True)
    try:
        timeline = timeline_for(ctx, number, secret)
        demand = as_public(ctx, "intake", "get_demand", timeline["case_id"], secret)
    except CallFailed as exc:
        if exc.status not in (400, 404):
            raise
        return ctx.render("public/follow.html", status=404, form={"case_number": number}, not_found=True)
    villages = {v["code"]: names(v, ctx.lang) for v in reference(ctx)[0]}
    response = ctx.render("public/timeline.html", timeline=timeline, demand=demand, villages=villages,
                          case_status=CASE_STATUS, outcome=OUTCOME, steps=TIMELINE_STEP)
    response.headers["Cache-Control"] = "no-store"
    return response


@page("/callback/<token>", roles=ROLES, methods=("GET", "POST"))
def callback(ctx: Ctx):
    """The resident's callback link (回访): the unit's reply, whether it is resolved and how satisfied, with an
    optional comment; answered once. An expired link is a 410 page saying the office will call instead; an
    unknown or used one a 404, as ``/api/v1/callback-links/{token}`` answers."""
    token = ctx.values["token"]
    try:
        question = as_public(ctx, "feedback", "get_callback_link", token)
    except CallFailed as exc:
        if exc.status == 410:
            return error_page(ctx, 410, ctx._("This link is no longer valid. The township's office will call you "
                                              "to ask whether your problem was solved."))
        if exc.status in (400, 404):
            return error_page(ctx, 404, ctx._("This link is unknown or was already answered. Thank you."))
        raise
    errors: dict[str, list[str]] = {}
    form: Any = {}
    failed, status = None, 200
    if ctx.request.method == "POST":
        form = ctx.form
        resolved = {"yes": True, "no": False}.get(form.get("resolved") or "")
        satisfaction = form.get("satisfaction")
        comment = (form.get("comment") or "").strip()
        if resolved is None:
            errors["resolved"] = [ctx._("Say whether the problem was solved.")]
        if satisfaction not in SATISFACTION:
            errors["satisfaction"] = [ctx._("Choose how satisfied you are.")]
        if not errors:
            try:
                as_public(ctx, "feedback", "answer_callback_link", token,
                          {"resolved": resolved, "satisfaction": satisfaction, "comment": comment or None})
            except CallFailed as exc:
                if exc.status == 410:
                    return error_page(ctx, 410, ctx._("This link is no longer valid. The township's office will "
                                                      "call you to ask whether your problem was solved."))
                if exc.status not in (400, 404, 409, 422):
                    raise
                failed, errors, status = exc.message, field_errors(exc.fields) or {"_": [exc.message]}, exc.status
            else:
                return ctx.redirect("/console/", done="answered")
        else:
            status = 422
    lang = ctx.lang
    village_list, category_list = reference(ctx)
    villages = {v["code"]: names(v, lang) for v in village_list}
    categories = {c["code"]: names(c, lang) for c in category_list}
    response = ctx.render("public/callback.html", status=status, question=question, errors=errors, form=form,
                          failed=failed,
                          levels=[(level, SATISFACTION[level]) for level in question.get("satisfaction_levels")
                                  or SATISFACTION if level in SATISFACTION],
                          village=villages.get(question.get("village"), question.get("village")),
                          category=categories.get(question.get("category"), question.get("category")))
    response.headers["Cache-Control"] = "no-store"
    return response


@page("/villages", roles=ROLES)
def villages(ctx: Ctx):
    """The township's villages, each leading to its projects and consultation results."""
    items = reference(ctx)[0]
    return ctx.render("public/villages.html", villages=[(v["code"], names(v, ctx.lang)) for v in items])


@page("/villages/<village>", roles=ROLES)
def village(ctx: Ctx):
    """A village's service projects with the money allocated and paid (funds' public view: no personal data), and
    its consultation topics with their course and published results (meetings' public view)."""
    code = ctx.values["village"]
    village_list, category_list = reference(ctx)
    found = {v["code"]: v for v in village_list}.get(code)
    if found is None:
        return error_page(ctx, 404, ctx._("There is no such village in this township."))
    projects, topics = as_public_all(ctx, ("funds", "list_projects", {"village": code, "limit": PROJECTS_SHOWN}),
                                     ("meetings", "list_topics", {"village": code, "limit": TOPICS_SHOWN}))
    categories = {c["code"]: names(c, ctx.lang) for c in category_list}
    totals = {"allocated": sum(p.get("allocated_fen") or 0 for p in projects),
              "paid": sum(p.get("paid_fen") or 0 for p in projects)}
    return ctx.render("public/village.html", village=found, name=names(found, ctx.lang), projects=projects,
                      topics=topics, totals=totals, categories=categories, project_status=PROJECT_STATUS,
                      topic_step=TOPIC_STEP, shown=PROJECTS_SHOWN)
