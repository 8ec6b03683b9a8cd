"""Intake use cases as plain functions over the repository port; the nameko service only wires them."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from township_shared import outbox
from township_shared.auth import Principal, case_secret_matches
from township_shared.errors import Conflict, NotFound, Refused, TooManyRequests, Unprocessable
from township_shared.events import Event, make_event
from township_shared.privacy import mask_phone
from township_shared.schemas.common import OPEN_STATUSES
from township_shared.schemas.demands import DemandReceivedV1

from . import domain, limits
from .repository import DemandRepository, IdempotencyKeyTaken

SOURCE = "intake"
# Keys the gateway makes for requests without an Idempotency-Key (``request:<uuid4>``) are new by construction:
# looking them up only finds something when the same RPC message is redelivered, and then the insert's unique
# index refuses the second case and the winner is replayed (``_winner``), so the lookup is skipped for them.
GENERATED_KEY_PREFIX = "request:"


@dataclass
class Accepted:
    case: dict[str, Any]
    replayed: bool


def reference_or_404(repo: DemandRepository, township_id: str) -> domain.ReferenceData:
    ref = repo.reference(township_id)
    if ref is None:
        raise NotFound(f"unknown township {township_id!r}", township_id=township_id)
    return ref


def _replay(existing: dict[str, Any], request_hash: str) -> Accepted:
    if existing.get("request_hash") != request_hash:
        raise Conflict("this Idempotency-Key was already used with a different request body",
                       case_id=existing["_id"])
    return Accepted(existing, replayed=True)


def submit_demand(repo: DemandRepository, now: datetime, township_id: str, submission: dict[str, Any],
                  idempotency_key: str | None = None, client: str | None = None,
                  submission_limits: Iterable[limits.Limit] = ()) -> Accepted:
    """Store a demand as a new case with its ``demand_received`` event pending in the same document.

    A retry carrying the same idempotency key and body returns the stored case (``replayed``); the same key
    with another body is a :class:`Conflict`. Concurrent retries race on a unique index, so exactly one case
    is stored whatever the interleaving. A new demand is counted under ``client`` (None: not counted) and its
    reporter's phone within ``submission_limits``: over one, :class:`TooManyRequests` and nothing is stored."""
    ref = reference_or_404(repo, township_id)
    request_hash = domain.fingerprint(submission)  # of the body as sent: a retry sends the same
    submission, phone_errors = domain.normalise_phone(submission, ref)
    errors = {**domain.check_references(submission, ref), **phone_errors}
    if errors:
        raise Unprocessable(errors)
    if not idempotency_key:
        idempotency_key = f"{GENERATED_KEY_PREFIX}{uuid.uuid4().hex}"
    elif not idempotency_key.startswith(GENERATED_KEY_PREFIX):
        existing = repo.by_idempotency_key(township_id, idempotency_key)
        if existing:
            return _replay(existing, request_hash)

    case_id = uuid.uuid4().hex
    taken = take_slots(repo, now, township_id, {"address": client, "phone": submission["reporter"]["phone"]},
                       submission_limits, case_id)
    try:
        return _store(repo, now, township_id, ref, submission, idempotency_key, request_hash, case_id)
    except IdempotencyKeyTaken:  # a concurrent retry stored it: this one is not a demand more
        for counter in taken:
            repo.release_slot(counter, case_id)
        return _replay(_winner(repo, township_id, idempotency_key), request_hash)


def take_slots(repo: DemandRepository, now: datetime, township_id: str, keys: dict[str, str | None],
               submission_limits: Iterable[limits.Limit], slot: str) -> list[str]:
    """Count a demand under each ``keys[limit.kind]`` (None: not counted) within its limit; the counters taken.
    Over one limit, the slots already taken are given back and :class:`TooManyRequests` says when to retry."""
    taken: list[str] = []
    for limit in submission_limits:
        if not limit.active or not keys.get(limit.kind):
            continue
        counter = limits.counter_id(township_id, limit.kind, keys[limit.kind])
        oldest = repo.take_slot(counter, township_id, now, limit.count, limit.window, slot)
        if oldest is not None:
            for done in taken:
                repo.release_slot(done, slot)
            wait = limits.retry_after(oldest, limit.window, now)
            raise TooManyRequests(f"{limits.MESSAGES[limit.kind]}: at most {limit.count} within "
                                  f"{limits.describe(limit.window)}; retry in {wait} s", wait, limit=limit.kind)
        taken.append(counter)
    return taken


def _store(repo: DemandRepository, now: datetime, township_id: str, ref: domain.ReferenceData,
           submission: dict[str, Any], idempotency_key: str, request_hash: str, case_id: str) -> Accepted:
    duplicate_of = None
    if submission.get("category"):
        candidates = repo.duplicate_candidates(township_id, submission["village"], submission["category"],
                                               now - domain.DUPLICATE_WINDOW)
        match = domain.find_duplicate(submission, candidates, now, OPEN_STATUSES)
        duplicate_of = match["_id"] if match else None

    local_day = now.astimezone(ZoneInfo(ref.timezone)).date()
    seq, day_seq = repo.next_numbers(township_id, f"{local_day:%Y%m%d}")
    case = {
        "_id": case_id,
        "township_id": township_id,
        "seq": seq,
        "case_number": domain.case_number(ref.prefix, local_day, day_seq),
        "channel": submission["channel"],
        "reporter": dict(submission["reporter"]),
        "village": submission["village"],
        "location": submission.get("location"),
        "category": submission.get("category"),
        "title": submission["title"],
        "description": submission["description"],
        "urgency": domain.resolve_urgency(submission, ref),
        "attachments": list(submission.get("attachments") or []),
        "status": "duplicate" if duplicate_of else "received",
        "duplicate_of": duplicate_of,
        "received_at": now,
        "request_hash": request_hash,
        "idempotency_key": idempotency_key,
    }
    event = make_event(DemandReceivedV1, {**case, "case_id": case_id}, source=SOURCE, township_id=township_id,
                       correlation_id=case_id, time=now)
    outbox.attach(case, [event], now)
    repo.insert_case(case)
    return Accepted(case, replayed=False)


def _winner(repo: DemandRepository, township_id: str, key: str) -> dict[str, Any]:
    """The case that won a race on ``key``. The MongoDB-compatible server can report the unique-key clash
    a moment before the winning insert is visible to other sessions, so look again briefly."""
    for _ in range(40):
        case = repo.by_idempotency_key(township_id, key)
        if case is not None:
            return case
        time.sleep(0.025)
    raise Conflict("a concurrent request with this Idempotency-Key is still being stored; retry", key=key)


def get_demand(repo: DemandRepository, township_id: str, case_ref: str) -> dict[str, Any]:
    """A case by its id or its case number (``QS-20261129-0007``)."""
    reference_or_404(repo, township_id)
    case = repo.get_case(township_id, case_ref) or repo.case_by_number(township_id, case_ref)
    if case is None:
        raise NotFound(f"no demand {case_ref!r} in township {township_id!r}", id=case_ref)
    return case


def demand_for(repo: DemandRepository, principal: Principal, case_ref: str, secret: Any,
               secret_key: str) -> dict[str, Any]:
    """The case ``principal`` may read: any of its township for the office; for the public only with the case's
    secret, and a wrong secret answers as an unknown case does (no way to learn which case numbers exist)."""
    case = get_demand(repo, principal.township_id, case_ref)
    if principal.role != "office" and not case_secret_matches(secret_key, case["_id"], secret):
        raise NotFound(f"no demand {case_ref!r} with this secret; send the secret you got at submission in "
                       "X-Case-Secret", id=case_ref)
    return case


def list_demands(repo: DemandRepository, township_id: str, query: dict[str, Any]) -> tuple[list[dict], int | None]:
    reference_or_404(repo, township_id)
    if query.get("received_from") and query.get("received_to") and query["received_from"] > query["received_to"]:
        raise Unprocessable({"received_from": ["must not be after received_to"]})
    filters = {k: query[k] for k in ("status", "village", "category", "channel") if query.get(k)}
    return repo.list_cases(township_id, filters, query["limit"], query.get("cursor"),
                           query.get("received_from"), query.get("received_to"))


def accepted_view(case: dict[str, Any], secret: str) -> dict[str, Any]:
    """The answer to a submission, the same for its replays: the status it had when accepted (``received`` or
    ``duplicate``), not the one dispatch has moved it to since, so a retry gets byte for byte the first answer;
    and the case's ``secret`` (derived from the case id, so a replay answers the same one)."""
    return {**public_view(case), "status": "duplicate" if case.get("duplicate_of") else "received",
            "secret": secret}


def view_for(principal: Principal, case: dict[str, Any]) -> dict[str, Any]:
    """The office of the case's township sees the reporter's phone in full; everyone else masked."""
    if principal.role == "office" and principal.township_id == case["township_id"]:
        return {**public_view(case), "reporter": dict(case["reporter"])}
    return public_view(case)


def public_view(case: dict[str, Any]) -> dict[str, Any]:
    """A case as clients outside the office see it: the reporter's phone masked, internals dropped."""
    view = {k: v for k, v in case.items() if k not in ("_id", "seq", "request_hash", "idempotency_key",
                                                      "outbox", "outbox_since", "outbox_rev")}
    view["id"] = case["_id"]
    view["reporter"] = {**case["reporter"], "phone": mask_phone(case["reporter"]["phone"])}
    return view


def follow_status(repo: DemandRepository, event: Event) -> bool:
    """Apply dispatch's ``case_status_changed`` if it is newer than what the case shows (by ``seq``). Refused
    (dead-lettered) when no case of that id and case number is in the township: intake stores every case before
    announcing it, so dispatch can only speak of a case intake has (decision 51). The check costs a read only when
    nothing was applied."""
    p = event.payload
    if repo.apply_status(event.township_id, p["case_id"], p["case_number"], p["status"], p["outcome"], p["since"],
                         p["seq"]):
        return True
    case = repo.get_case(event.township_id, p["case_id"])
    if case is None:
        raise Refused(f"no case {p['case_id']!r} in township {event.township_id!r}", field="payload.case_id")
    if case["case_number"] != p["case_number"]:
        raise Refused(f"case {p['case_id']!r} is {case['case_number']}, not {p['case_number']!r}",
                      field="payload.case_number")
    return False
