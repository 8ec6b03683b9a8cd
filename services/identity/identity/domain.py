"""Identity rules as plain functions: no nameko, no pymongo, so they are tested alone (decision 38).

- a token is stored as its SHA-256 (the document's ``_id``), never as itself; its public id is the hash's first 16
  hex digits (:func:`township_shared.auth.token_id`), the only handle the office lists and revokes it by;
- a township's office issues tokens for actors of its own township only, of the roles in
  :data:`~township_shared.schemas.identity.ISSUABLE_ROLES`; a registered actor (unit, Party member, volunteer,
  social organisation) must be in dispatch's registry and active, a supervision group's villages must be the
  township's and its organisation a registered, active social organisation;
- a token resolves to its :class:`~township_shared.auth.Principal` while it is not revoked; an unknown, revoked or
  malformed token gets the same answer, so the answer tells a guesser nothing;
- revoking is once: a second revocation answers the revoked token and announces nothing;
- the audit trail takes the envelope of every event (who, what, when, which case), refuses one whose source does
  not own the exchange it came on or the event type, and is never changed.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Iterable, Mapping

from township_shared import auth
from township_shared.errors import Unauthorized, Unprocessable, ValidationFailed
from township_shared.events import PUBLISHERS, Event
from township_shared.schemas.identity import TokenIssuedV1, TokenRevokedV1

UNKNOWN_TOKEN = "the token is unknown, revoked or malformed"
MAX_TOKEN_LENGTH = 200
# what a token document stores besides its hash: what the principal is made of and who issued it when
TOKEN_FIELDS = ("token_id", "role", "actor", "township_id", "county_id", "townships", "villages", "organisation",
                "label", "issued_by", "issued_at", "revoked_at", "revoked_by")


def well_formed(token: Any) -> bool:
    """Whether ``token`` could be a token at all (checked before any lookup)."""
    return (isinstance(token, str) and token.startswith(auth.TOKEN_PREFIX)
            and len(auth.TOKEN_PREFIX) < len(token) <= MAX_TOKEN_LENGTH)


def principal_of(doc: Mapping[str, Any] | None) -> auth.Principal:
    """The principal of a stored token; :class:`Unauthorized` if there is none or it is revoked."""
    if doc is None or doc.get("revoked_at") is not None:
        raise Unauthorized(UNKNOWN_TOKEN)
    return auth.Principal(role=doc["role"], actor=doc["actor"], township_id=doc.get("township_id"),
                          county_id=doc.get("county_id"), townships=tuple(doc.get("townships") or ()),
                          villages=tuple(doc.get("villages") or ()), organisation=doc.get("organisation"),
                          token_id=doc["token_id"])


def token_document(token: str, *, role: str, actor: str, township_id: str | None, county_id: str | None,
                   townships: Iterable[str], villages: Iterable[str] = (), organisation: str | None = None,
                   label: str | None = None, issued_by: str, now: datetime) -> dict[str, Any]:
    """What is stored of a new token: keyed by its hash, never the token."""
    if role not in auth.ROLES or role == "public":
        raise ValueError(f"no token for the {role!r} role")
    return {"_id": auth.token_hash(token), "token_id": auth.token_id(token), "role": role, "actor": actor,
            "township_id": township_id, "county_id": county_id, "townships": list(townships),
            "villages": list(villages), "organisation": organisation, "label": label, "issued_by": issued_by,
            "issued_at": now, "revoked_at": None, "revoked_by": None}


SESSION_PREFIX = "ts_"
DEFAULT_SESSION_SECONDS = 12 * 3600


def session_document(session: str, token_doc: Mapping[str, Any], now: datetime, seconds: float) -> dict[str, Any]:
    """What is stored of a console session opened with a token: keyed by the session's hash, never the session;
    it names the token it was opened with, so revoking that token ends the session too."""
    from datetime import timedelta

    return {"_id": auth.token_hash(session), "token": token_doc["_id"], "token_id": token_doc["token_id"],
            "actor": token_doc["actor"], "opened_at": now, "expires_at": now + timedelta(seconds=seconds),
            "closed_at": None}


def session_well_formed(session: Any) -> bool:
    return (isinstance(session, str) and session.startswith(SESSION_PREFIX)
            and len(SESSION_PREFIX) < len(session) <= MAX_TOKEN_LENGTH)


def session_open(doc: Mapping[str, Any] | None, now: datetime) -> bool:
    """A session is open until it expires or is closed (signed out)."""
    return doc is not None and doc.get("closed_at") is None and _aware(doc["expires_at"]) > now


def _aware(moment: datetime) -> datetime:
    from datetime import timezone

    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def announced_township(doc: Mapping[str, Any]) -> str:
    """The ``township_id`` of a token's events: its township, or for a county token its county."""
    return doc.get("township_id") or doc["county_id"]


def issued_facts(doc: Mapping[str, Any]) -> list[tuple[type, dict[str, Any]]]:
    return [(TokenIssuedV1, {"token_id": doc["token_id"], "role": doc["role"], "actor": doc["actor"],
                             "county_id": doc.get("county_id"), "villages": list(doc.get("villages") or ()),
                             "organisation": doc.get("organisation"), "issued_at": doc["issued_at"]})]


def revoke(doc: dict[str, Any], by: str, now: datetime) -> list[tuple[type, dict[str, Any]]]:
    """Mark ``doc`` revoked by ``by``; returns the facts to announce (none if it was revoked already)."""
    if doc.get("revoked_at") is not None:
        return []
    doc.update(revoked_at=now, revoked_by=by)
    return [(TokenRevokedV1, {"token_id": doc["token_id"], "role": doc["role"], "actor": doc["actor"],
                              "revoked_at": now})]


def issue_problems(command: Mapping[str, Any], township_villages: Iterable[str],
                   registered: Mapping[str, Mapping[str, Any] | None]) -> dict[str, list[str]]:
    """Field errors of an office's command to issue a token, given the township's villages and what dispatch's
    registry holds of each actor the command names (``registered[actor] is None``: not in the registry).
    Empty when the token may be issued."""
    problems: dict[str, list[str]] = {}
    role, actor = command["role"], command["actor"]
    if role in auth.REGISTERED_ROLES:
        why = _not_active(registered.get(actor))
        if why:
            problems["actor"] = [f"{actor} {why} in this township's registry"]
    unknown = sorted(set(command.get("villages") or ()) - set(township_villages))
    if unknown:
        problems["villages"] = [f"not villages of this township: {', '.join(unknown)}"]
    organisation = command.get("organisation")
    if organisation:
        why = _not_active(registered.get(organisation))
        if why:
            problems["organisation"] = [f"{organisation} {why} in this township's registry"]
    return problems


def registry_lookups(command: Mapping[str, Any]) -> list[str]:
    """The actors (``<kind>:<id>``) of dispatch's registry the command names and :func:`issue_problems` needs."""
    wanted = [command["actor"]] if command["role"] in auth.REGISTERED_ROLES else []
    if command.get("organisation"):
        wanted.append(command["organisation"])
    return wanted


def _not_active(record: Mapping[str, Any] | None) -> str | None:
    if record is None:
        return "is not"
    if not record.get("active", True):
        return "is deactivated"
    return None


def check_issue(principal: auth.Principal, command: Mapping[str, Any], township_villages: Iterable[str],
                registered: Mapping[str, Mapping[str, Any] | None]) -> None:
    """:class:`ValidationFailed` naming each field unless ``principal`` (an office) may issue this token."""
    if principal.township_id is None:
        raise Unprocessable({"_schema": ["only a township's office issues tokens, for its own township"]})
    problems = issue_problems(command, township_villages, registered)
    if problems:
        raise Unprocessable(problems, "The token cannot be issued.")


# audit trail -------------------------------------------------------------------------------------------------------
def audit_entry(event: Event, exchange: str | None = None) -> dict[str, Any]:
    """The audit record of an event (who, what, when, which case; no payload). :class:`ValidationFailed` if the
    event's source is not the publisher of its type, or not the owner of the exchange it came on (a forgery by
    anything else with broker credentials)."""
    owner = PUBLISHERS.get(event.type)
    if owner != event.source:
        raise ValidationFailed({"source": [f"{event.type} is published by {owner}, not {event.source}"]},
                               "The event does not come from the service that announces its type.")
    if exchange is not None and exchange != f"{event.source}.events":
        raise ValidationFailed({"source": [f"{event.source} publishes on {event.source}.events, not {exchange}"]},
                               "The event came on another service's exchange.")
    return {"_id": event.id, "time": event.time, "township_id": event.township_id, "actor": event.actor,
            "type": event.type, "source": event.source, "correlation_id": event.correlation_id}


def encode_cursor(entry: Mapping[str, Any]) -> str:
    """The cursor after ``entry`` in a newest-first listing: its time and id (ties in time are ordered by id)."""
    raw = json.dumps([entry["time"].isoformat(), entry["_id"]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        time, entry_id = json.loads(raw)
        moment = datetime.fromisoformat(time)
        if moment.tzinfo is None or not isinstance(entry_id, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Unprocessable({"cursor": ["not a cursor this listing returned"]}) from None
    return moment, entry_id


def after_cursor(entry: Mapping[str, Any], cursor: tuple[datetime, str] | None) -> bool:
    """Whether ``entry`` comes after ``cursor`` in the newest-first order (older, or as old with a smaller id)."""
    if cursor is None:
        return True
    time, entry_id = cursor
    return entry["time"] < time or (entry["time"] == time and entry["_id"] < entry_id)
