"""Intake rules as plain functions: no nameko, no pymongo, so they are tested alone.

- a submission is checked against the township's reference data (villages, categories);
- urgency defaults from the category (``general`` when the category is left to dispatch);
- a demand duplicates a still-open case of the same village and category when it comes from the same
  reporter phone or from within 200 m, within 72 hours (see :func:`is_duplicate`);
- case numbers are read aloud on the phone: ``<PREFIX>-<YYYYMMDD>-<NNNN>`` in the township's local date;
- a reporter's phone is stored in one form (E.164), a landline without its area code completed with the
  township's, so the same reporter is recognised however the number was written (:func:`normalise_phone`);
- residents' phone numbers are masked outside the office.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping

from township_shared import phones

DUPLICATE_WINDOW = timedelta(hours=72)
DUPLICATE_RADIUS_M = 200.0
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class ReferenceData:
    """What intake must know about a township to accept a demand."""

    township_id: str
    prefix: str
    timezone: str
    villages: frozenset[str]
    category_urgency: Mapping[str, str]
    area_code: str | None = None


def check_references(submission: Mapping[str, Any], ref: ReferenceData) -> dict[str, list[str]]:
    """Field errors for codes the township does not know; empty when all are known."""
    errors: dict[str, list[str]] = {}
    if submission["village"] not in ref.villages:
        errors["village"] = [f"unknown village {submission['village']!r} in township {ref.township_id!r}"]
    if submission["reporter"]["village"] not in ref.villages:
        errors["reporter.village"] = [f"unknown village {submission['reporter']['village']!r}"]
    category = submission.get("category")
    if category is not None and category not in ref.category_urgency:
        errors["category"] = [f"unknown category {category!r}; see GET /api/v1/categories"]
    return errors


def normalise_phone(submission: Mapping[str, Any], ref: ReferenceData) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """``(submission with the reporter's phone in E.164 form, {})``, or ``(submission, {"reporter.phone": [why]})``
    when it is not a valid number (a landline without area code in a township that has none configured, too)."""
    try:
        phone = phones.normalise(submission["reporter"]["phone"], ref.area_code)
    except phones.InvalidPhone as exc:
        return dict(submission), {"reporter.phone": [str(exc)]}
    return {**submission, "reporter": {**submission["reporter"], "phone": phone}}, {}


def resolve_urgency(submission: Mapping[str, Any], ref: ReferenceData) -> str:
    if submission.get("urgency"):
        return submission["urgency"]
    return ref.category_urgency.get(submission.get("category") or "", "general")


def distance_m(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Great-circle distance in metres between two ``{"lat", "long"}`` points (haversine)."""
    lat1, lat2 = math.radians(a["lat"]), math.radians(b["lat"])
    dlat = lat2 - lat1
    dlong = math.radians(b["long"] - a["long"])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlong / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _point(location: Mapping[str, Any] | None) -> dict[str, float] | None:
    if location and location.get("lat") is not None and location.get("long") is not None:
        return {"lat": location["lat"], "long": location["long"]}
    return None


def is_duplicate(new: Mapping[str, Any], existing: Mapping[str, Any], received_at: datetime,
                 open_statuses: Iterable[str]) -> bool:
    """Whether ``new`` (a submission) repeats ``existing`` (a stored case).

    Same village and category, ``existing`` still open and not itself a duplicate, received at most 72 hours
    before, and either the same reporter phone (compared by :func:`township_shared.phones.key`, so however it
    was written) or both located within 200 m of each other."""
    if not new.get("category") or new.get("category") != existing.get("category"):
        return False
    if new["village"] != existing["village"] or existing.get("status") not in set(open_statuses):
        return False
    if existing.get("duplicate_of"):
        return False
    age = received_at - existing["received_at"]
    if age < timedelta(0) or age > DUPLICATE_WINDOW:
        return False
    if phones.key(new["reporter"]["phone"]) == phones.key(existing["reporter"]["phone"]):
        return True
    a, b = _point(new.get("location")), _point(existing.get("location"))
    return a is not None and b is not None and distance_m(a, b) <= DUPLICATE_RADIUS_M


def find_duplicate(new: Mapping[str, Any], candidates: Iterable[Mapping[str, Any]], received_at: datetime,
                   open_statuses: Iterable[str]) -> Mapping[str, Any] | None:
    """The earliest open case ``new`` duplicates, or None."""
    statuses = tuple(open_statuses)
    matches = [c for c in candidates if is_duplicate(new, c, received_at, statuses)]
    return min(matches, key=lambda c: c["received_at"]) if matches else None


def case_number(prefix: str, local_day: date, day_seq: int) -> str:
    return f"{prefix}-{local_day:%Y%m%d}-{day_seq:04d}"


def fingerprint(submission: Mapping[str, Any]) -> str:
    """Stable hash of a loaded submission: a retry with the same key must carry the same fingerprint."""
    canonical = json.dumps(submission, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
