"""The office's and the county's figures: assessment rates per unit and per village over time with their ranking
(tables, charts served as SVG images, CSV export), and the hotspot warnings on a list and a map of the villages.

Every number comes from feedback's assessment RPCs, one read per period whatever the number of cases (decision
32), and the hotspots from its warning list; a county reads the township chosen with the township switch, and
the services refuse any township outside its county."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Response

from township_shared.schemas.feedback import RATES

from .. import charts
from ..i18n import N_
from ..web import PAGES, Ctx, page

# what the page compares: units (actors of kind unit) or villages
VIEWS = {"unit": {"dimension": "actor", "kind": "unit"}, "village": {"dimension": "village"}}
VIEW_LABELS = {"unit": N_("Units"), "village": N_("Villages")}
RATE_LABELS = {"response_rate": N_("Response rate"), "on_time_completion_rate": N_("On-time completion rate"),
               "return_rate": N_("Return rate"), "redo_rate": N_("Redo rate"),
               "resolution_rate": N_("Resolution rate"), "satisfaction_rate": N_("Satisfaction rate"),
               "reach_rate": N_("Callback reach rate"), "avg_handling_hours": N_("Average handling hours")}
# the table's columns: counters, then rates (avg_handling_hours is hours, not a rate)
COUNTERS = {"dispatched": N_("Dispatched"), "signed": N_("Signed"), "returned": N_("Returned"),
            "completed": N_("Completed"), "redone": N_("Redone"), "rated": N_("Rated")}
TABLE_RATES = ("response_rate", "on_time_completion_rate", "resolution_rate", "satisfaction_rate",
               "avg_handling_hours")
MONTHS = 6
RANKED = 10
CHARTS = ("trend", "ranking")
assert set(RATE_LABELS) == set(RATES)


def _months(at: str, count: int = MONTHS) -> list[str]:
    """The ``count`` months ending with ``at`` (``YYYY-MM``), oldest first."""
    year, month = int(at[:4]), int(at[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _current_month(ctx: Ctx) -> str:
    return datetime.now(timezone.utc).astimezone(ctx.formats.zone).strftime("%Y-%m")


def _choices(ctx: Ctx) -> dict[str, str]:
    """What the reader asked for, each value one of the known ones (anything else: the default)."""
    args = ctx.request.args
    view = args.get("view") if args.get("view") in VIEWS else "unit"
    rate = args.get("rate") if args.get("rate") in RATES else "response_rate"
    at = args.get("at") or ""
    valid = len(at) == 7 and at[4] == "-" and at[:4].isdigit() and at[5:].isdigit() and 1 <= int(at[5:]) <= 12 \
        and 1970 <= int(at[:4]) <= 2099
    return {"view": view, "rate": rate, "at": at if valid else _current_month(ctx)}


def _query(choice: dict[str, str], at: str, **extra: Any) -> dict[str, Any]:
    return {**VIEWS[choice["view"]], "period": "month", "at": at, **extra}


def _names(ctx: Ctx, view: str) -> dict[str, str]:
    """Readable names of the keys: villages for everyone who reads figures; units for the office (the actor
    registry is the office's); otherwise the key itself is shown."""
    name_of = (lambda names: names.get(ctx.lang) or names.get("zh") or names.get("en"))
    if view == "village":
        return {v["code"]: name_of(v["names"]) for v in ctx.call("intake", "list_villages")}
    if ctx.principal.role != "office":
        return {}
    return {f"unit:{a['id']}": name_of(a.get("names") or {}) or a["id"]
            for a in ctx.call("dispatch", "list_actors", {"kind": "unit"})}


def _figures(ctx: Ctx, choice: dict[str, str]) -> dict[str, Any]:
    """Rows of the chosen month, each key's rate over the months before it, and the ranking."""
    months = _months(choice["at"])
    by_month = {at: ctx.call("feedback", "assessment", _query(choice, at)) for at in months}
    rows = by_month[choice["at"]]
    keys = sorted({r["key"] for month in by_month.values() for r in month})
    trend = {key: [next((r[choice["rate"]] for r in by_month[at] if r["key"] == key), None) for at in months]
             for key in keys}
    return {"months": months, "rows": rows, "trend": trend}


def _charted(trend: dict[str, list], rows: list[dict]) -> list[str]:
    """The keys drawn as lines: the busiest of the chosen month (most dispatched), at most charts.MAX_SERIES."""
    busy = {r["key"]: r.get("dispatched") or 0 for r in rows}
    return sorted(trend, key=lambda k: (-busy.get(k, 0), k))[:charts.MAX_SERIES]


@page("/assessment", roles=("office", "county"), nav=N_("Assessment"), nav_order=60)
def assessment(ctx: Ctx):
    """The figures of one month for units or villages, each key's chosen rate over six months (chart and
    table), the ranking by that rate (chart and table) and the CSV export of the month."""
    choice = _choices(ctx)
    data = _figures(ctx, choice)
    ranking = ctx.call("feedback", "assessment_ranking", _query(choice, choice["at"], by=choice["rate"],
                                                                limit=RANKED))
    names = _names(ctx, choice["view"])
    return ctx.render("figures/assessment.html", choice=choice, names=names, ranking=ranking,
                      charted=_charted(data["trend"], data["rows"]), views=VIEW_LABELS, rates=RATE_LABELS,
                      counters=COUNTERS, table_rates=TABLE_RATES, **data,
                      chart_args={k: choice[k] for k in ("view", "rate", "at")},
                      townships=list(ctx.principal.townships) if ctx.principal.role == "county" else [])


@page("/assessment/chart.svg", roles=("office", "county"))
def assessment_chart(ctx: Ctx):
    """A chart of the assessment page as an SVG image (``chart=trend``: the rate over six months per key;
    ``chart=ranking``: the ranking's bars); the page puts the same numbers in a table beside it."""
    choice = _choices(ctx)
    kind = ctx.request.args.get("chart") if ctx.request.args.get("chart") in CHARTS else "trend"
    names = _names(ctx, choice["view"])
    label = ctx._(RATE_LABELS[choice["rate"]])
    percent = choice["rate"] != "avg_handling_hours"
    if kind == "trend":
        data = _figures(ctx, choice)
        series = {names.get(k) or k: data["trend"][k] for k in _charted(data["trend"], data["rows"])}
        svg = charts.line_chart(label, data["months"], series, percent=percent)
    else:
        ranking = ctx.call("feedback", "assessment_ranking", _query(choice, choice["at"], by=choice["rate"],
                                                                    limit=RANKED))
        svg = charts.bar_chart(f"{label} · {choice['at']}",
                               [(names.get(r["key"]) or r["key"], r[choice["rate"]]) for r in ranking["top"]],
                               percent=percent)
    return Response(svg, mimetype=charts.SVG_MIMETYPE)


@page("/assessment.csv", roles=("office", "county"))
def assessment_csv(ctx: Ctx):
    """The chosen month's figures as CSV (feedback's export: cells that could be formulas are made text,
    decision 59)."""
    choice = _choices(ctx)
    text = ctx.call("feedback", "assessment_csv", _query(choice, choice["at"]))
    township = ctx.principal.township_id or "township"
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=assessment-{township}-{choice['view']}-{choice['at']}.csv"})


def _case_url(case_id: str) -> str | None:
    """The console's page of a case, if one is registered (the office's case page)."""
    for rule in ("/console/office/cases/<case_id>", "/console/cases/<case_id>"):
        if any(p.rule == rule for p in PAGES.pages):
            return rule.replace("<case_id>", case_id)
    return None


@page("/hotspots", roles=("office",), nav=N_("Hotspots"), nav_order=65)
def hotspots(ctx: Ctx):
    """The hotspot warnings of the last 30 days: a list, and a map of the township's villages drawn from their
    coordinates with each warning marked at its village."""
    warnings = ctx.call("feedback", "list_hotspots")
    villages = ctx.call("intake", "list_villages")
    categories = {c["code"]: c["names"] for c in ctx.call("intake", "list_categories")}
    name_of = (lambda names: (names or {}).get(ctx.lang) or (names or {}).get("zh") or "")
    village_names = {v["code"]: name_of(v["names"]) for v in villages}
    placed = charts.village_map(villages)
    counts: dict[str, int] = {}
    for w in warnings:
        counts[w["village"]] = counts.get(w["village"], 0) + 1
    return ctx.render("figures/hotspots.html", warnings=warnings, map=placed, counts=counts,
                      village_names=village_names, categories={k: name_of(v) for k, v in categories.items()},
                      case_url=_case_url)
