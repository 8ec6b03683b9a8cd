"""Pages of the actors who receive tasks (a unit, a double check-in Party member, a volunteer): their own tasks with
the deadlines counting down, and one task with its case and the commands its state allows now.

Every command is the one ``POST /api/v1/tasks/{id}/{command}`` runs (dispatch ``act_on_task`` with the reader's
signed principal), so the rules are dispatch's: a command the state does not allow is a 409, a body it refuses a
422, shown beside the form. A task is found through its case (``<case_id>.<n>``) read with dispatch ``get_case``,
as ``GET /api/v1/cases/{id}`` shows it to the reader; a task that is not the reader's own is a 404 like an unknown
one, so a unit learns nothing of another unit's work."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

from township_shared.auth import TASK_ROLES

from ..i18n import N_
from ..web import CallFailed, Ctx, error_page, page
from .projects import photo_url, public_base
from .public import names, reference

TASK_STATUS = {"assigned": N_("Waiting for signature"), "signed": N_("Signed for"), "in_progress": N_("Being handled"),
               "extension_requested": N_("Extension requested"), "completed": N_("Completed"),
               "returned": N_("Returned to the office"), "cancelled": N_("Cancelled")}
TASK_ROLE = {"lead": N_("Lead"), "co_handler": N_("Co-handler")}
URGENCY = {"emergency": N_("Emergency"), "utilities": N_("Utilities"), "general": N_("General")}
CASE_STATUS = {"received": N_("Demand received"), "duplicate": N_("Duplicate"), "triage": N_("Being routed"),
               "dispatched": N_("Sent to the responsible unit"), "in_progress": N_("Being handled"),
               "completed": N_("Replied"), "callback": N_("Callback"), "closed": N_("Case closed")}
# form field ``command`` -> dispatch's task command; each builds its body from the form (None: the form is wrong)
COMMANDS = ("sign", "return", "start", "request_extension", "complete")
DONE = {"sign": "signed", "return": "returned", "start": "saved", "request_extension": "extension",
        "complete": "completed"}
RECENT_FINISHED = 20
OPEN_LIMIT = 200
# rows drawn: a unit with hundreds of open tasks sees the most urgent first (drawing 200 rows cost ~0.2 s)
OPEN_SHOWN = 50


def deadline_of(task: dict[str, Any]) -> str | None:
    """The deadline that matters now: signing while the task waits for it, else handling; none once done."""
    if task.get("status") == "assigned":
        return task.get("sign_deadline")
    if task.get("status") in ("signed", "in_progress", "extension_requested"):
        return task.get("handling_deadline")
    return None


def _moment(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def reference_names(ctx: Ctx) -> dict[str, dict[str, str]]:
    """The township's village and category names in the reader's language, by code."""
    villages, categories = reference(ctx)
    return {"villages": {v["code"]: names(v, ctx.lang) for v in villages},
            "categories": {c["code"]: names(c, ctx.lang) for c in categories}}


def _far() -> datetime:
    return datetime.max.replace(tzinfo=timezone.utc)


@page("/tasks", roles=TASK_ROLES, nav=N_("My tasks"), nav_order=10)
def my_tasks(ctx: Ctx):
    """The reader's open tasks, nearest deadline first; the completed ones only when asked (``?show=completed``):
    dispatch finds an actor's completed tasks among all the cases it ever had, which grows with the years,
    while its open tasks come from an index of open assignees."""
    open_tasks = ctx.call("dispatch", "list_tasks", {"status": "open", "limit": OPEN_LIMIT})
    open_tasks.sort(key=lambda t: _moment(deadline_of(t)) or _far())
    show_completed = ctx.request.args.get("show") == "completed"
    finished = (ctx.call("dispatch", "list_tasks", {"status": "completed", "limit": RECENT_FINISHED})
                if show_completed else None)
    now = datetime.now(timezone.utc)
    for task in open_tasks:
        due = _moment(deadline_of(task))
        task["overdue"] = bool(due and due < now)
    return ctx.render("tasks/list.html", open_tasks=open_tasks[:OPEN_SHOWN], open_count=len(open_tasks),
                      finished=finished, deadline_of=deadline_of,
                      task_status=TASK_STATUS, task_role=TASK_ROLE, urgency=URGENCY, **reference_names(ctx))


def _own_task(ctx: Ctx, task_id: str) -> tuple[dict, dict] | None:
    """The case (as dispatch shows it to the reader) and the reader's task in it; None when either is not there
    or the task is someone else's."""
    case_id, dot, number = task_id.rpartition(".")
    if not (case_id and dot and number.isdigit()):
        return None
    try:
        case = ctx.call("dispatch", "get_case", case_id)
    except CallFailed as exc:
        if exc.status == 404:
            return None
        raise
    for task in case.get("tasks", []):
        if task.get("id") == task_id and task.get("assignee_key") == ctx.principal.actor:
            return case, task
    return None


def extension_until(ctx: Ctx, day: str) -> str | None:
    """The end of ``day`` (YYYY-MM-DD, a date input) in the township's time zone, as ISO 8601; None if not a
    date."""
    try:
        chosen = datetime.strptime(day.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(chosen, time(23, 59), tzinfo=ctx.formats.zone).isoformat()


def earliest_extension(ctx: Ctx, task: dict[str, Any]) -> str | None:
    """The first day an extension may run to (the day after the handling deadline, township time), for the date
    input's ``min``; dispatch still checks the date itself."""
    deadline = _moment(task.get("handling_deadline"))
    return (deadline.astimezone(ctx.formats.zone).date() + timedelta(days=1)).isoformat() if deadline else None


def _body(ctx: Ctx, command: str) -> tuple[dict | None, dict[str, list[str]]]:
    form = ctx.form
    if command == "return":
        reason = (form.get("reason") or "").strip()
        return ({"reason": reason}, {}) if reason else (None, {"reason": [ctx._("Say why the task is returned.")]})
    if command == "request_extension":
        reason = (form.get("reason") or "").strip()
        until = extension_until(ctx, form.get("until") or "")
        errors = {}
        if until is None:
            errors["until"] = [ctx._("Choose the new date.")]
        if not reason:
            errors["reason"] = [ctx._("Say why more time is needed.")]
        return (None, errors) if errors else ({"until": until, "reason": reason}, {})
    if command == "complete":
        reply = (form.get("reply") or "").strip()
        return ({"reply": reply}, {}) if reply else (None, {"reply": [ctx._("Say what was done.")]})
    return {}, {}


@page("/tasks/<task_id>", roles=TASK_ROLES, methods=("GET", "POST"))
def task_page(ctx: Ctx):
    """One task of the reader's: its case, deadlines and photos; the forms of the commands its state allows. The
    photos sent with a completion are the case's, and their addresses under the console's public address are the
    reply's attachments (as a social organisation's report names its photos: decision 100).
    A command done leads back here with a message (Post/Redirect/Get); a refused one shows the form again with
    the reason."""
    task_id = ctx.values["task_id"]
    found = _own_task(ctx, task_id)
    if found is None:
        return error_page(ctx, 404, ctx._("You have no such task."))
    case, task = found
    errors: dict[str, list[str]] = {}
    failed, command, status = None, None, 200
    if ctx.request.method == "POST":
        command = ctx.form.get("command")
        if command not in COMMANDS:
            return error_page(ctx, 400, ctx._("Unknown command."))
        body, errors = _body(ctx, command)
        if body is not None:
            try:
                if command == "complete" and "complete" in task.get("allowed", []):
                    saved = ctx.save_photos(f"case:{case['id']}")
                    base = public_base(ctx)
                    if saved and base:
                        body["attachments"] = [photo_url(base, photo_id) for photo_id in saved]
                ctx.call("dispatch", "act_on_task", task_id, command, body)
            except CallFailed as exc:
                if exc.status not in (400, 409, 413, 415, 422):
                    raise
                failed, errors, status = exc.message, {k: [str(m) for m in v] if isinstance(v, list) else [str(v)]
                                                       for k, v in exc.fields.items()}, exc.status
            else:
                return ctx.redirect(f"/console/tasks/{task_id}", done=DONE[command])
        else:
            failed, status = " ".join(m for messages in errors.values() for m in messages), 422
    return ctx.render("tasks/task.html", status=status, case=case, task=task, errors=errors, failed=failed,
                      command=command, form=ctx.form if ctx.request.method == "POST" else {},
                      deadline=deadline_of(task), photos=ctx.photos_of(f"case:{case['id']}"),
                      allowed=[c for c in task.get("allowed", []) if c in COMMANDS],
                      extension_min=earliest_extension(ctx, task),
                      task_status=TASK_STATUS, task_role=TASK_ROLE, urgency=URGENCY, case_status=CASE_STATUS,
                      **reference_names(ctx))
