"""Choosing who gets a task where the responsibility list leaves a choice, by skills, distance and load.

Two places leave a choice (decision 86):

* a community-service category (neighbour disputes, elderly care, small repairs): any double check-in Party
  member or volunteer who has the skill, is available today, is under the open-task limit and lives in the case's
  village or in a village within ``member_radius_km`` of it;
* several responsibility rules of equal rank naming different lead units for the case's category and village.

The rules are data (``data/choice.yaml``, overridable per township in its settings as ``unit_choice``). Each
candidate gets points::

    skill           + weights.skill            if it lists the category (members: skills; units: categories)
    party member    + weights.party_member     a Party member before a volunteer (their service duty)
    distance        - weights.per_km * km      between its home village and the case's (units: 0)
    load            - weights.load * load      open tasks / limit for members, open cases / unit_full_load for
                                               units, capped at 1
    serves village  + weights.serves_village   a unit naming the case's village, not only "*"

Candidates are ranked by points, ties broken by kind (Party member, volunteer, unit) then id, so the choice never
depends on the order the database returned them in. A member is taken in rank order (the caller reserves one
atomically; one at its limit meanwhile is skipped, and the explanation says so). Among several leads the best
is chosen only when it leads the next by ``min_lead``; otherwise the office decides, with the candidates and their
points in front of it.

Everything here is pure: the caller reads actors, village coordinates and loads, and writes the explanation into
the case's history.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping, Sequence

import yaml

KIND_ORDER = {"party_member": 0, "volunteer": 1, "unit": 2, "social_org": 3}
WEEKDAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EARTH_RADIUS_KM = 6371.0
SHOWN = 5


@dataclass(frozen=True)
class ChoiceRules:
    """The weights and limits of ``data/choice.yaml`` (see there for what each means)."""

    skill: float = 3.0
    party_member: float = 2.0
    per_km: float = 1.0
    load: float = 2.0
    serves_village: float = 1.0
    member_radius_km: float = 3.0
    unit_full_load: int = 20
    min_lead: float = 0.5

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "ChoiceRules":
        """Rules from the YAML's shape (``weights`` nested, the rest at the top); unknown keys are refused so a
        typo in a township's settings is not silently ignored."""
        flat = {**(data.get("weights") or {}), **{k: v for k, v in data.items() if k != "weights"}}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(flat) - set(known))
        if unknown:
            raise ValueError(f"unknown unit choice settings: {', '.join(unknown)}")
        values = {k: (int(v) if k == "unit_full_load" else float(v)) for k, v in flat.items()}
        if any(v < 0 for v in values.values()) or values.get("unit_full_load", 1) < 1:
            raise ValueError("unit choice settings must not be negative (unit_full_load at least 1)")
        return cls(**values)

    @classmethod
    def default(cls) -> "ChoiceRules":
        return _shipped()

    def overridden(self, overrides: Mapping[str, Any] | None) -> "ChoiceRules":
        """These rules with a township's ``unit_choice`` settings applied over them."""
        if not overrides:
            return self
        changed = ChoiceRules.from_data(overrides)
        given = {**(overrides.get("weights") or {}), **{k: v for k, v in overrides.items() if k != "weights"}}
        return replace(self, **{name: getattr(changed, name) for name in given})


@lru_cache(maxsize=1)
def _shipped() -> ChoiceRules:
    text = resources.files("dispatch").joinpath("data", "choice.yaml").read_text(encoding="utf-8")
    return ChoiceRules.from_data(yaml.safe_load(text) or {})


@dataclass(frozen=True)
class Candidate:
    """Who could take the task, as the choice sees it."""

    kind: str
    id: str
    skills: tuple[str, ...] = ()
    village: str | None = None
    serves: tuple[str, ...] = ()
    open_tasks: int = 0
    limit: int | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def of_actor(cls, actor: Mapping[str, Any], open_tasks: int | None = None) -> "Candidate":
        """From an actor document: members' skills and home village, units' categories and villages."""
        member = actor["kind"] in ("party_member", "volunteer")
        return cls(actor["kind"], actor["id"],
                   tuple(actor.get("skills") or ()) if member else tuple(actor.get("categories") or ()),
                   actor.get("home_village") if member else None,
                   () if member else tuple(actor.get("villages") or ()),
                   actor.get("open_tasks", 0) if open_tasks is None else open_tasks,
                   actor.get("open_task_limit") if member else None)


@dataclass(frozen=True)
class Part:
    name: str
    points: float
    detail: str

    def __str__(self) -> str:
        return f"{self.detail} {self.points or 0.0:+.2f}"


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    total: float
    parts: tuple[Part, ...]

    def __str__(self) -> str:
        return f"{self.candidate.key} {self.total:.2f} ({', '.join(str(p) for p in self.parts)})"

    def as_dict(self) -> dict[str, Any]:
        return {"actor": self.candidate.key, "score": round(self.total, 3),
                "parts": [{"name": p.name, "points": round(p.points or 0.0, 3), "detail": p.detail}
                          for p in self.parts]}


def distance_km(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Great-circle distance between two places given as ``{lat, long}`` in degrees."""
    lat1, lat2 = math.radians(a["lat"]), math.radians(b["lat"])
    dlat, dlong = lat2 - lat1, math.radians(b["long"] - a["long"])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlong / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def village_distance(one: str | None, other: str, places: Mapping[str, Mapping[str, float]]) -> float | None:
    """Kilometres between two villages' centres: 0 for the same village, None when either has no coordinates."""
    if one == other:
        return 0.0
    if one is None or one not in places or other not in places:
        return None
    return distance_km(places[one], places[other])


def villages_within(village: str, places: Mapping[str, Mapping[str, float]], radius_km: float) -> list[str]:
    """The case's village and every village with coordinates within ``radius_km`` of it, nearest first."""
    near = [(0.0, village)]
    for code in places:
        if code != village:
            km = village_distance(code, village, places)
            if km is not None and km <= radius_km:
                near.append((km, code))
    return [code for _, code in sorted(near)]


def score(candidate: Candidate, category: str, village: str, places: Mapping[str, Mapping[str, float]],
          rules: ChoiceRules) -> Scored:
    """The candidate's points for a case of ``category`` in ``village`` (see the module's docstring)."""
    parts = [Part("skill", rules.skill if category in candidate.skills else 0.0,
                  f"skill {category}" if category in candidate.skills else f"no skill {category}")]
    if candidate.kind == "party_member":
        parts.append(Part("party_member", rules.party_member, "Party member"))
    if candidate.kind in ("party_member", "volunteer"):
        km = village_distance(candidate.village, village, places)
        parts.append(Part("distance", -rules.per_km * (km or 0.0),
                          f"{km:.1f} km" if km is not None else "distance unknown"))
        limit = candidate.limit or 0
        share = min(1.0, candidate.open_tasks / limit) if limit > 0 else 1.0
        parts.append(Part("load", -rules.load * share, f"load {candidate.open_tasks}/{limit}"))
    else:
        share = min(1.0, candidate.open_tasks / rules.unit_full_load)
        parts.append(Part("load", -rules.load * share, f"{candidate.open_tasks} open case(s)"))
        if village in candidate.serves:
            parts.append(Part("serves_village", rules.serves_village, f"serves {village}"))
    return Scored(candidate, sum(p.points for p in parts), tuple(parts))


def rank(candidates: Iterable[Candidate], category: str, village: str,
         places: Mapping[str, Mapping[str, float]], rules: ChoiceRules) -> list[Scored]:
    """Every candidate scored, best first; ties by kind (Party member, volunteer, unit) then id."""
    scored = [score(c, category, village, places, rules) for c in candidates]
    return sorted(scored, key=lambda s: (-round(s.total, 9), KIND_ORDER.get(s.candidate.kind, 9), s.candidate.id))


def eligible_members(members: Iterable[Mapping[str, Any]], category: str, village: str, local_weekday: int,
                     places: Mapping[str, Mapping[str, float]], rules: ChoiceRules) -> list[Candidate]:
    """Party members and volunteers who may take a community task: active, with the skill, available today,
    under their open-task limit, living in the case's village or within ``member_radius_km`` of it."""
    day = WEEKDAY_CODES[local_weekday]
    fit = []
    for m in members:
        if not (m.get("active", True) and m.get("kind") in ("party_member", "volunteer")
                and category in (m.get("skills") or ()) and day in (m.get("availability") or ())
                and m.get("open_tasks", 0) < (m.get("open_task_limit") or 0)):
            continue
        km = village_distance(m.get("home_village"), village, places)
        if km is None or km > rules.member_radius_km:
            continue
        fit.append(Candidate.of_actor(m))
    return fit


@dataclass(frozen=True)
class Choice:
    """A choice and its explanation: ``ranked`` is every candidate with its points, ``chosen`` the one taken (None:
    the office decides), ``skipped`` the better-ranked ones that could not be taken (a member at its limit
    meanwhile), ``reason`` why the chosen one (or nobody) was taken."""

    role: str
    chosen: Scored | None
    ranked: tuple[Scored, ...]
    reason: str
    skipped: tuple[str, ...] = ()

    def explain(self) -> str:
        """One line for the case history: who was chosen, with points, among whom, and why."""
        head = (f"chose {self.chosen}" if self.chosen else "no choice made")
        others = [str(s) for s in self.ranked if s is not self.chosen][:SHOWN]
        text = f"{head}; {self.reason}"
        if self.skipped:
            text += f"; skipped (at their limit): {', '.join(self.skipped)}"
        if others:
            text += f"; other candidates: {'; '.join(others)}"
        hidden = len(self.ranked) - (1 if self.chosen else 0) - len(others)
        if hidden > 0:
            text += f"; and {hidden} more"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.role, "chosen": self.chosen.candidate.key if self.chosen else None,
                "reason": self.reason, "skipped": list(self.skipped),
                "candidates": [s.as_dict() for s in self.ranked[:SHOWN + 1]]}


def first_taken(ranked: Sequence[Scored], take) -> Choice:
    """Members in rank order until ``take(candidate)`` succeeds (the caller's atomic reservation)."""
    skipped = []
    for scored in ranked:
        if take(scored.candidate):
            why = ("the best score" if not skipped else "the best score of those still under their limit")
            return Choice("lead", scored, tuple(ranked), why, tuple(skipped))
        skipped.append(scored.candidate.key)
    return Choice("lead", None, tuple(ranked), "every candidate reached its limit", tuple(skipped))


def choose_lead(ranked: Sequence[Scored], rules: ChoiceRules) -> Choice:
    """Among several leads of equal rank: the best if it leads the next by ``min_lead``, else nobody."""
    if not ranked:
        return Choice("lead", None, (), "no candidate")
    if len(ranked) == 1:
        return Choice("lead", ranked[0], tuple(ranked), "the only candidate")
    lead = ranked[0].total - ranked[1].total
    if lead + 1e-9 >= rules.min_lead:
        return Choice("lead", ranked[0], tuple(ranked),
                      f"leads {ranked[1].candidate.key} by {lead:.2f} (at least {rules.min_lead:g})")
    return Choice("lead", None, tuple(ranked),
                  f"the best two are within {rules.min_lead:g} point(s) ({lead:.2f}): the office decides")
