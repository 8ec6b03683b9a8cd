"""A social organisation's projects and reports, and the review of reports (funds and feedback services).

A social organisation (whose home this is) sees its projects with the money allocated and paid per pool, per
milestone and per payment, and reports a milestone or the completion with its figures: the same RPC as
``POST /api/v1/reports``, so feedback checks the project is the organisation's approved one (decision 66). A
supervision group (its home: ``/console/reports``) verifies or rejects its villages' reports, the office any of the
township's; a verified report is what funds pays against."""
from __future__ import annotations

import re

from township_shared.schemas.common import URL_PATTERN
from township_shared.schemas.feedback import REPORT_KINDS, REPORT_STATUSES

from ..i18n import N_
from ..web import CallFailed, Ctx, page
from .funds import STATUS_NAMES, call_all

REVIEWERS = ("office", "supervision")
PROJECTS_PAGE = "50"
KIND_NAMES = {"milestone": N_("Milestone"), "completion": N_("Completion")}
REPORT_STATUS_NAMES = {"submitted": N_("Waiting for verification"), "verified": N_("Verified"),
                       "rejected": N_("Rejected")}
assert set(KIND_NAMES) == set(REPORT_KINDS) and set(REPORT_STATUS_NAMES) == set(REPORT_STATUSES)
NAMES = {"statuses": STATUS_NAMES, "kinds": KIND_NAMES, "report_statuses": REPORT_STATUS_NAMES}


@page("/projects", roles=("social_org",), nav=N_("My projects"), nav_order=10)
def my_projects(ctx: Ctx):
    """The organisation's projects (the service's own-projects scope), newest first, and its reports."""
    projects, reports = call_all(ctx, ("funds", "list_projects", {"limit": PROJECTS_PAGE}),
                                 ("feedback", "list_reports", None))
    return ctx.render("projects/home.html", projects=projects, reports=reports, **NAMES)


def _project(ctx: Ctx, project_id: str, status: int = 200, error: CallFailed | None = None,
             form: dict | None = None):
    project, reports = call_all(ctx, ("funds", "get_project", project_id), ("feedback", "list_reports", None))
    reports = [r for r in reports if r["project"] == project_id]
    return ctx.render("projects/project.html", status=status, project=project, reports=reports, error=error,
                      form=form or {}, photos=ctx.photos_of(f"project:{project_id}"), **NAMES)


@page("/projects/<project_id>", roles=("social_org",))
def my_project(ctx: Ctx):
    """One of the organisation's projects: money per milestone and payment, its reports, the report form."""
    return _project(ctx, ctx.values["project_id"])


def report_body(ctx: Ctx, project: dict) -> dict:
    """The service's report from the form: figures as numbers (a typo is the service's 400 with the field)."""
    form = ctx.form
    kind = form.get("kind") or None
    body = {"project": project["id"], "village": project.get("village"), "kind": kind,
            "milestone": (form.get("milestone") or None) if kind == "milestone" else None,
            "text": (form.get("text") or "").strip() or None,
            "evidence_urls": [u.strip() for u in (form.get("evidence_urls") or "").splitlines() if u.strip()]}
    people, hours = (form.get("people_served") or "").strip(), (form.get("hours") or "").strip()
    fields = {}
    if people:
        if people.isdigit():
            body["people_served"] = int(people)
        else:
            fields["people_served"] = [ctx._("Give a whole number.")]
    if hours:
        try:
            body["hours"] = float(hours)
        except ValueError:
            fields["hours"] = [ctx._("Give a number.")]
    if fields:
        raise CallFailed(422, {"message": ctx._("Some fields are not valid."), "fields": fields})
    return body


def public_base(ctx: Ctx) -> str | None:
    """The console's public address (``CONSOLE_PUBLIC_URL``, else the request's), when it is one an evidence link
    may name (feedback takes http(s) addresses with a host name, so not ``127.0.0.1``)."""
    base = (ctx.config.get("CONSOLE_PUBLIC_URL") or ctx.request.host_url or "").rstrip("/") + "/"
    return base if re.match(URL_PATTERN, base + "console") else None


def photo_url(base: str, photo_id: str) -> str:
    return f"{base}console/photos/{photo_id}"


def photo_path(ctx: Ctx, url: str) -> str | None:
    """The console path of an evidence link to one of this console's photos (the reviewer sees it inline)."""
    base = public_base(ctx)
    if base and url.startswith(base + "console/photos/"):
        return url[len(base) - 1:]
    return None


@page("/projects/<project_id>/report", roles=("social_org",), methods=("POST",))
def report_progress(ctx: Ctx):
    """Report a milestone or the completion, with people served, hours, evidence links and photos. Photos are
    stored as the project's (``project:<id>``: who may read the project may see them) before the report is sent,
    their addresses under the console's public address added to its evidence links, since feedback wants at
    least one link (without a public address with a host name, a link must be typed); a report the service then
    refuses leaves them on the project's page."""
    project_id = ctx.values["project_id"]
    project = ctx.call("funds", "get_project", project_id)
    try:
        body = report_body(ctx, project)
        base = public_base(ctx)
        photos = any(f and f.filename for f in ctx.request.files.getlist("photos"))
        if not body["evidence_urls"] and not (photos and base):
            message = ctx._("Give an evidence link or a photo.") if base else ctx._("Give an evidence link.")
            raise CallFailed(422, {"message": message, "fields": {"evidence_urls": [message]}})
        saved = ctx.save_photos(f"project:{project_id}")
        if base:
            body["evidence_urls"] += [photo_url(base, photo) for photo in saved]
        ctx.call("feedback", "submit_report", body)
    except CallFailed as exc:
        if exc.status >= 500:
            raise
        return _project(ctx, project_id, exc.status, exc, dict(ctx.form))
    return ctx.redirect(f"/console/projects/{project_id}", done="reported")


# ---- reviewing reports -------------------------------------------------------------------------------------------
def _reports(ctx: Ctx, status: int = 200, error: CallFailed | None = None, failed: str | None = None,
             form: dict | None = None):
    shown = ctx.request.args.get("status") or "submitted"
    shown = shown if shown in REPORT_STATUS_NAMES else "submitted"
    reports = ctx.call("feedback", "list_reports", shown)
    return ctx.render("projects/reports.html", status=status, reports=reports, shown=shown, error=error,
                      failed=failed, form=form or {}, photo_path=lambda url: photo_path(ctx, url), **NAMES)


@page("/reports", roles=REVIEWERS, nav=N_("Reports to verify"), nav_order=25)
def reports(ctx: Ctx):
    """Reports waiting for verification (or verified, rejected): a supervision group's villages', the office's
    township's."""
    return _reports(ctx)


@page("/reports/<report_id>/review", roles=REVIEWERS, methods=("POST",))
def review_report(ctx: Ctx):
    """Verify or reject with the reason; funds pays a verified milestone's share or the completion's rest."""
    report_id = ctx.values["report_id"]
    verdict = ctx.form.get("verdict")
    body = {"verified": {"verify": True, "reject": False}.get(verdict),
            "reason": (ctx.form.get("reason") or "").strip() or None}
    try:
        ctx.call("feedback", "review_report", report_id, body)
    except CallFailed as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return _reports(ctx, exc.status, exc, report_id, dict(ctx.form))
    return ctx.redirect("/console/reports", done="recorded")
