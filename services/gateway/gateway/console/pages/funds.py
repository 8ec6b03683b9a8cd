"""The office's funds pages: budget pools, projects to review and allocate, the ledger, budget execution with its CSV
(funds service, decision 65). The joint meeting's secretary reads pools, projects and the report; only the office
reviews, allocates and reads the ledger (the API's roles). Money is integer fen everywhere; a form takes yuan with
at most two decimals and turns it into fen exactly (:func:`fen_of`), never through a float."""
from __future__ import annotations

import re
import uuid
from decimal import Decimal

from werkzeug.wrappers import Response

from township_shared.schemas.funds import REPORT_DIMENSIONS, REVIEW_DECISIONS, SOURCES

from ..i18n import N_
from ..web import CallFailed, Ctx, page

READERS = ("office", "meeting")
SOURCE_NAMES = {"fiscal_special": N_("Fiscal special fund"), "service_purchase": N_("Government purchase of services"),
                "award_subsidy": N_("Awards in place of subsidies"),
                "venture_philanthropy": N_("Public-welfare venture capital"),
                "village_collective": N_("Village collective income"), "donation": N_("Donations")}
STATUS_NAMES = {"proposed": N_("Proposed"), "referred": N_("Referred to the joint meeting"),
                "approved": N_("Approved"), "rejected": N_("Rejected"), "completed": N_("Completed"),
                "closed": N_("Closed")}
ENTRY_NAMES = {"budget_raised": N_("Budget raised"), "budget_cut": N_("Budget cut"), "allocated": N_("Allocated"),
               "paid": N_("Paid"), "released": N_("Released"), "dividend": N_("Dividend"), "reversal": N_("Reversal")}
DIMENSION_NAMES = {"pool": N_("Pool"), "source": N_("Source"), "village": N_("Village")}
REVIEW_NAMES = {"approve": N_("Approve"), "reject": N_("Reject"), "refer": N_("Refer to the joint meeting")}
# the projects the office's review queue shows, in this order
QUEUE = ("proposed", "approved", "referred")
YUAN = re.compile(r"[0-9]{1,13}(?:\.[0-9]{1,2})?")  # up to MAX_FEN, in yuan
LEDGER_PAGE = "50"
PROJECTS_PAGE = "50"


def fen_of(text: str | None) -> int | None:
    """Yuan as typed (``1234``, ``1,234.5``, ``¥1234.56``) to integer fen; None when empty; ValueError for
    anything else (a third decimal, a sign, an exponent, letters)."""
    cleaned = (text or "").strip().replace(",", "").replace("，", "").lstrip("¥￥").strip()
    if not cleaned:
        return None
    if not YUAN.fullmatch(cleaned):
        raise ValueError(cleaned)
    return int(Decimal(cleaned) * 100)


def call_all(ctx: Ctx, *calls: tuple) -> list:
    """Several reads at once with the reader's principal (:meth:`Ctx.call_all`)."""
    return ctx.call_all(*calls)


def year_arg(ctx: Ctx) -> str | None:
    year = (ctx.request.args.get("year") or "").strip()
    return year if year.isdigit() and len(year) == 4 else None


@page("/funds", roles=READERS, nav=N_("Funds"), nav_order=40)
def funds_home(ctx: Ctx):
    """Pools with budget, committed, paid and available; the projects waiting for the office (proposed, approved
    and not fully allocated, referred), each a bounded page of the service's filtered list."""
    query = {"year": year_arg(ctx)} if year_arg(ctx) else {}
    pools, report, *lists = call_all(
        ctx, ("funds", "list_pools", query), ("funds", "budget_report", {"by": "pool", **query}),
        *[("funds", "list_projects", {"status": status, "limit": PROJECTS_PAGE}) for status in QUEUE])
    report = {row["key"]: row for row in report["items"]}
    queues = dict(zip(QUEUE, lists))
    queues["approved"] = [p for p in queues["approved"] if p["allocated_fen"] < (p.get("approved_fen") or 0)]
    return ctx.render("funds/home.html", pools=pools, paid={k: r["paid_fen"] for k, r in report.items()},
                      queues=queues, sources=SOURCE_NAMES, statuses=STATUS_NAMES, year=year_arg(ctx))


def _project_page(ctx: Ctx, project_id: str, status: int = 200, error: CallFailed | None = None,
                  form: dict | None = None):
    if ctx.principal.role == "office":
        project, pools = call_all(ctx, ("funds", "get_project", project_id), ("funds", "list_pools", {}))
    else:
        project, pools = ctx.call("funds", "get_project", project_id), []
    return ctx.render("funds/project.html", status=status, project=project, pools=pools, error=error,
                      form=form or {}, statuses=STATUS_NAMES, reviews=REVIEW_NAMES, sources=SOURCE_NAMES,
                      photos=ctx.photos_of(f"project:{project_id}"))


@page("/funds/projects/<project_id>", roles=READERS)
def funds_project(ctx: Ctx):
    """One project with its money per pool and per milestone, its payments; the office's review and allocation
    forms."""
    return _project_page(ctx, ctx.values["project_id"])


@page("/funds/projects/<project_id>/review", roles=("office",), methods=("POST",))
def funds_review(ctx: Ctx):
    """Approve (up to the threshold), reject or refer to the joint meeting; a reason is needed for the last two."""
    project_id = ctx.values["project_id"]
    decision = ctx.form.get("decision") or ""
    body = {"decision": decision if decision in REVIEW_DECISIONS else decision or None}
    reason = (ctx.form.get("reason") or "").strip()
    if reason:
        body["reason"] = reason
    try:
        ctx.call("funds", "review_project", project_id, body)
    except CallFailed as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return _project_page(ctx, project_id, exc.status, exc, dict(ctx.form))
    return ctx.redirect(f"/console/funds/projects/{project_id}", done="reviewed")


@page("/funds/projects/<project_id>/allocate", roles=("office",), methods=("POST",))
def funds_allocate(ctx: Ctx):
    """Allocate from one or several pools, all or none (``amount_<pool>`` in yuan; empty fields are left out).
    The form's ``key`` makes a resent form the same allocation, never a second one."""
    project_id = ctx.values["project_id"]
    parts, bad = [], {}
    for name, value in ctx.form.items():
        if not name.startswith("amount_"):
            continue
        try:
            fen = fen_of(value)
        except ValueError:
            bad[name] = [ctx._("Write an amount in yuan, at most two decimals.")]
            continue
        if fen:
            parts.append({"pool": name[len("amount_"):], "amount_fen": fen})
    key = (ctx.form.get("key") or "").strip()[:200] or uuid.uuid4().hex
    try:
        if bad:
            raise CallFailed(422, {"message": ctx._("Some amounts are not valid."), "fields": bad})
        if not parts:
            raise CallFailed(422, {"message": ctx._("Give an amount for at least one pool."), "fields": {}})
        ctx.call("funds", "allocate", project_id, {"parts": parts}, f"console:{key}")
    except CallFailed as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return _project_page(ctx, project_id, exc.status, exc, dict(ctx.form))
    return ctx.redirect(f"/console/funds/projects/{project_id}", done="allocated")


@page("/funds/projects/<project_id>/close", roles=("office",), methods=("POST",))
def funds_close(ctx: Ctx):
    """Close a project with the reason: what was allocated and not paid goes back to its pools (funds)."""
    project_id = ctx.values["project_id"]
    try:
        ctx.call("funds", "close_project", project_id, {"reason": (ctx.form.get("close_reason") or "").strip() or None})
    except CallFailed as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return _project_page(ctx, project_id, exc.status, exc, dict(ctx.form))
    return ctx.redirect(f"/console/funds/projects/{project_id}", done="closed")


@page("/funds/ledger", roles=("office",), nav=N_("Ledger"), nav_order=41)
def funds_ledger(ctx: Ctx):
    """The ledger, newest first, a page at a time (the service's cursor), optionally one pool's or project's."""
    args = ctx.request.args
    query = {"limit": LEDGER_PAGE}
    for name in ("pool", "project", "cursor"):
        value = (args.get(name) or "").strip()
        if value:
            query[name] = value
    ledger = ctx.call("funds", "list_ledger", query)
    return ctx.render("funds/ledger.html", entries=ledger["items"], next_cursor=ledger.get("next_cursor"),
                      pool=query.get("pool", ""), project=query.get("project", ""), kinds=ENTRY_NAMES,
                      first=not query.get("cursor"))


def _report_query(ctx: Ctx) -> dict:
    by = ctx.request.args.get("by")
    query = {"by": by if by in REPORT_DIMENSIONS else "pool"}
    if year_arg(ctx):
        query["year"] = year_arg(ctx)
    return query


@page("/funds/report", roles=READERS)
def funds_report(ctx: Ctx):
    """Budget execution by pool, source or village, recomputed from the ledger by the service."""
    query = _report_query(ctx)
    report = ctx.call("funds", "budget_report", query)
    return ctx.render("funds/report.html", report=report, by=query["by"], year=query.get("year"),
                      dimensions=DIMENSION_NAMES, sources=SOURCE_NAMES, source_codes=SOURCES)


@page("/funds/report.csv", roles=READERS)
def funds_report_csv(ctx: Ctx):
    """The same report as CSV (the service's), downloaded with the session's authority."""
    query = _report_query(ctx)
    text = ctx.call("funds", "budget_report_csv", query)
    return Response(text, status=200, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=budget-report-{query['by']}.csv"})
