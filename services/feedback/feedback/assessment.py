"""Assessment figures (考核): counters per actor, village and category, and the rates derived from them.

Each counting event adds to the counters of three rows: its actor (``<kind>:<id>``), its village and its category
(``unclassified`` when the case has none). The service keeps one document per township and local day, folding
every event into the day it happened; months and years are the sums of their days (``merge``), so the counters,
not the rates, are what is stored, and rates are derived when read (``rates``).

Rates::

    response rate            = tasks signed within the sign deadline / tasks dispatched
    on-time completion rate  = tasks completed on time / tasks completed
    return rate              = tasks returned / tasks dispatched
    redo rate                = redos (case_reopened) / tasks completed
    resolution rate          = callbacks answering "resolved" / callbacks that reached the resident
    satisfaction rate        = (very) satisfied + basically satisfied / rated callbacks
    reach rate               = reached / (reached + unreached) callbacks
    average handling time    = handling seconds / tasks completed, in hours

An unreached callback counts only in the reach rate, and only once: on its final failed attempt.

``fold`` is the in-memory reference of what the service stores; ``recompute`` derives the same figures from final
case records without going through the event rules, so the two can check each other.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

COUNTERS = ("dispatched", "signed", "signed_on_time", "returned", "completed", "completed_on_time",
            "handling_seconds", "redone", "callbacks_reached", "callbacks_unreached", "resolved", "rated", "satisfied")
DIMENSIONS = ("actor", "village", "category")
PERIODS = ("day", "month", "year")
SATISFIED_LEVELS = ("very_satisfied", "satisfied", "basically_satisfied")
LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
UNCLASSIFIED = "unclassified"

# rate -> (numerator counter, denominator counters summed)
_RATIOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "response_rate": ("signed_on_time", ("dispatched",)),
    "on_time_completion_rate": ("completed_on_time", ("completed",)),
    "return_rate": ("returned", ("dispatched",)),
    "redo_rate": ("redone", ("completed",)),
    "resolution_rate": ("resolved", ("callbacks_reached",)),
    "satisfaction_rate": ("satisfied", ("rated",)),
    "reach_rate": ("callbacks_reached", ("callbacks_reached", "callbacks_unreached")),
}
RATE_NAMES = tuple(_RATIOS) + ("avg_handling_hours",)
# For these a smaller value is the better performance, so "best first" ranks them ascending.
_LOWER_IS_BETTER = frozenset({"return_rate", "redo_rate", "avg_handling_hours"})

Figures = dict[str, dict[str, dict[str, float]]]


def _actor(ref: Mapping[str, str]) -> str:
    return f"{ref['kind']}:{ref['id']}"


def _rows(actor: Mapping[str, str], village: str, category: str | None) -> tuple[tuple[str, str], ...]:
    return (("actor", _actor(actor)), ("village", village),
            ("category", UNCLASSIFIED if category is None else category))


def _callback_counters(reached: bool, resolved: bool | None, satisfaction: str | None) -> dict[str, int]:
    if not reached:
        return {"callbacks_unreached": 1}
    counters = {"callbacks_reached": 1}
    if resolved is True:
        counters["resolved"] = 1
    if satisfaction is not None:
        counters["rated"] = 1
        if satisfaction in SATISFIED_LEVELS:
            counters["satisfied"] = 1
    return counters


def _task_counters(event_type: str, payload: Mapping[str, Any]) -> dict[str, float]:
    if event_type == "task_assigned":
        return {"dispatched": 1}
    if event_type == "task_signed":
        return {"signed": 1, **({"signed_on_time": 1} if payload["within_deadline"] else {})}
    if event_type == "task_returned":
        return {"returned": 1}
    return {"completed": 1, **({"completed_on_time": 1} if payload["on_time"] else {}),
            "handling_seconds": float(payload["handling_seconds"])}


_TASK_EVENTS = frozenset({"task_assigned", "task_signed", "task_returned", "task_completed"})


def contributions(event_type: str, payload: Mapping[str, Any]) -> list[tuple[str, str, str, float]]:
    """``(dimension, key, counter, delta)`` of one event, for each of the three dimensions; ``[]`` for an event
    that does not count (another type, or a failed callback attempt that is not the final one).

    Task facts count for their assignee; ``case_reopened`` and ``callback_recorded`` count for ``unit``, the lead
    whose completion the redo or the callback judges. Counts are ints; ``handling_seconds`` is a float."""
    if event_type in _TASK_EVENTS:
        counters = _task_counters(event_type, payload)
        actor = payload["assignee"]
    elif event_type == "case_reopened":
        counters, actor = {"redone": 1}, payload["unit"]
    elif event_type == "callback_recorded":
        if not payload["reached"] and not payload["final"]:
            return []
        counters = _callback_counters(payload["reached"], payload["resolved"], payload["satisfaction"])
        actor = payload["unit"]
    else:
        return []
    return [(dimension, key, counter, delta)
            for dimension, key in _rows(actor, payload["village"], payload["category"])
            for counter, delta in counters.items()]


def period_keys(moment: datetime, timezone: str = "Asia/Shanghai") -> dict[str, str]:
    """The day, month and year holding ``moment`` on the township's local calendar, e.g. ``{"day": "2026-11-30",
    "month": "2026-11", "year": "2026"}``. ``moment`` must be aware: a naive time has no defined local day."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("period_keys needs an aware datetime")
    local = moment.astimezone(ZoneInfo(timezone))
    return {"day": local.strftime("%Y-%m-%d"), "month": local.strftime("%Y-%m"), "year": local.strftime("%Y")}


def rates(counters: Mapping[str, float]) -> dict[str, float | int | None]:
    """Every counter (missing ones as 0; other keys of ``counters`` ignored) plus each rate of ``RATE_NAMES``.

    A rate is a float in 0..1 rounded to 4 places, or None when its denominator is 0 (no basis, which is not the
    same as 0%). ``avg_handling_hours`` is rounded to 2 places and None without a completion.

    A rate is capped at 1: events count in the period in which they happen, so a task dispatched late on one day
    and signed the next adds to the next day's numerator but to the first day's denominator, and a single day can
    hold more on-time signs (returns, redos) than dispatches (completions). The counters stay in the result
    uncapped, so such a row remains visible."""
    row: dict[str, float | int | None] = {name: counters.get(name, 0) or 0 for name in COUNTERS}
    for name, (numerator, denominators) in _RATIOS.items():
        base = sum(row[d] for d in denominators)
        row[name] = round(min(1.0, max(0.0, row[numerator] / base)), 4) if base > 0 else None
    completed = row["completed"]
    row["avg_handling_hours"] = round(row["handling_seconds"] / completed / 3600, 2) if completed > 0 else None
    return row


def merge(into: dict, figures: Mapping) -> dict:
    """Add the nested counters ``{dimension: {key: {counter: n}}}`` of ``figures`` to ``into``, in place, and
    return ``into``; ``figures`` is left untouched."""
    for dimension, table in figures.items():
        target_table = into.setdefault(dimension, {})
        for key, counters in table.items():
            target = target_table.setdefault(key, {})
            for counter, value in counters.items():
                target[counter] = target.get(counter, 0) + value
    return into


def fold(events: Iterable[Mapping[str, Any]]) -> Figures:
    """The figures of a stream of envelopes (``{"id", "type", "payload", ...}``), all periods together.

    Delivery is at least once, so an id seen before is skipped: a redelivered event counts once. Every dimension
    is present in the result, empty when nothing counted."""
    figures: Figures = {dimension: {} for dimension in DIMENSIONS}
    seen: set[str] = set()
    for event in events:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        for dimension, key, counter, delta in contributions(event["type"], event["payload"]):
            row = figures[dimension].setdefault(key, {})
            row[counter] = row.get(counter, 0) + delta
    return figures


def recompute(cases: Iterable[Mapping[str, Any]]) -> Figures:
    """The figures ``fold`` gives, derived from final case records instead of events: an independent check, so
    it shares none of the event rules.

    A case record: ``{"village", "category", "tasks": [{"assignee", "assigned", "signed", "signed_within_deadline",
    "returned", "completed", "completed_on_time", "handling_seconds"}], "redos": [{"unit"}], "callbacks":
    [{"unit", "reached", "resolved", "satisfaction"}]}``. A callback with ``reached`` false is a final unreached one
    (the record keeps no earlier failed attempts). A counter appears in a row exactly when ``fold`` would have
    touched it, so the two results compare equal."""
    figures: Figures = {dimension: {} for dimension in DIMENSIONS}

    def add(actor: Mapping[str, str], case: Mapping[str, Any], counter: str, delta: float) -> None:
        for dimension, key in (("actor", f"{actor['kind']}:{actor['id']}"), ("village", case["village"]),
                               ("category", case["category"] if case["category"] is not None else UNCLASSIFIED)):
            row = figures[dimension].setdefault(key, {})
            row[counter] = row.get(counter, 0) + delta

    for case in cases:
        for task in case.get("tasks", ()):
            who = task["assignee"]
            if task.get("assigned", True):
                add(who, case, "dispatched", 1)
            if task.get("signed"):
                add(who, case, "signed", 1)
                if task.get("signed_within_deadline"):
                    add(who, case, "signed_on_time", 1)
            if task.get("returned"):
                add(who, case, "returned", 1)
            if task.get("completed"):
                add(who, case, "completed", 1)
                if task.get("completed_on_time"):
                    add(who, case, "completed_on_time", 1)
                add(who, case, "handling_seconds", float(task["handling_seconds"]))
        for redo in case.get("redos", ()):
            add(redo["unit"], case, "redone", 1)
        for callback in case.get("callbacks", ()):
            who = callback["unit"]
            if not callback["reached"]:
                add(who, case, "callbacks_unreached", 1)
                continue
            add(who, case, "callbacks_reached", 1)
            if callback.get("resolved") is True:
                add(who, case, "resolved", 1)
            if callback.get("satisfaction") is not None:
                add(who, case, "rated", 1)
                if callback["satisfaction"] in SATISFIED_LEVELS:
                    add(who, case, "satisfied", 1)
    return figures


def rank(rows: Mapping[str, Mapping[str, float]], by: str, limit: int,
         lowest: bool = False) -> list[tuple[str, dict]]:
    """Up to ``limit`` ``(key, rates(row))`` pairs ordered by the rate ``by``: best first, or worst first with
    ``lowest=True``.

    "Best" follows the meaning of the rate: highest first for the rates where more is better, lowest first for
    ``return_rate``, ``redo_rate`` and ``avg_handling_hours``. Rows whose rate is None (no basis) go last either
    way, since they can be neither praised nor blamed; ties, and the None rows, are in key order."""
    if by not in RATE_NAMES:
        raise ValueError(f"cannot rank by {by!r}; one of {', '.join(RATE_NAMES)}")
    derived = [(key, rates(row)) for key, row in rows.items()]
    ascending = (by in _LOWER_IS_BETTER) != lowest
    known = [(key, row) for key, row in derived if row[by] is not None]
    unknown = sorted(((key, row) for key, row in derived if row[by] is None), key=lambda item: item[0])
    known.sort(key=lambda item: (item[1][by] if ascending else -item[1][by], item[0]))
    return (known + unknown)[:max(0, limit)]
