"""Identity use cases over the repository: resolve, issue, list and revoke tokens; record and read the audit
trail. The rules are in :mod:`identity.domain`; the registry of actors is dispatch's, reached through an object
with ``get(principal, kind, actor_id) -> dict | None`` (:class:`identity.actors.DispatchActors`, a fake in
tests)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Protocol

from township_shared import auth
from township_shared.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from township_shared.events import Event, envelopes
from township_shared.store import mutate

from . import domain
from .repository import IdentityRepository

SOURCE = "identity"


class Actors(Protocol):
    def get(self, principal: auth.Principal, kind: str, actor_id: str) -> dict[str, Any] | None: ...


def resolve(repo: IdentityRepository, token: Any) -> auth.Principal:
    """The principal of an active token; :class:`Unauthorized`, with one message, for anything else."""
    if not domain.well_formed(token):
        raise Unauthorized(domain.UNKNOWN_TOKEN)
    return domain.principal_of(repo.principal_fields(auth.token_hash(token)))


def open_session(repo: IdentityRepository, token: Any, now: datetime, seconds: float) -> tuple[str, auth.Principal]:
    """A console session for an active token (decision 90): a new secret the browser keeps in an HttpOnly
    cookie instead of the token. :class:`Unauthorized`, with the token's one message, for a bad token."""
    if not domain.well_formed(token):
        raise Unauthorized(domain.UNKNOWN_TOKEN)
    doc = repo.token_document(auth.token_hash(token))
    principal = domain.principal_of(doc)
    session = domain.SESSION_PREFIX + auth.new_token()[len(auth.TOKEN_PREFIX):]
    repo.insert_session(domain.session_document(session, doc, now, seconds))
    return session, principal


def resolve_session(repo: IdentityRepository, session: Any, now: datetime) -> auth.Principal:
    """The principal of an open session whose token is still active; :class:`Unauthorized` otherwise."""
    if not domain.session_well_formed(session):
        raise Unauthorized(domain.UNKNOWN_TOKEN)
    doc = repo.session(auth.token_hash(session))
    if not domain.session_open(doc, now):
        raise Unauthorized(domain.UNKNOWN_TOKEN)
    return domain.principal_of(repo.principal_fields(doc["token"]))


def close_session(repo: IdentityRepository, session: Any, now: datetime) -> bool:
    """Sign out: the session stops resolving at once. False for an unknown or closed one."""
    if not domain.session_well_formed(session):
        return False
    return repo.close_session(auth.token_hash(session), now)


def _as(actor: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The envelopes with ``actor`` as who caused them: the office that issued or revoked, also when the command
    line did it (no request, so no acting principal)."""
    return [{**event, "actor": actor} for event in events]


def _store_new(repo: IdentityRepository, make: Callable[[str], dict[str, Any]],
               token: str | None) -> tuple[dict[str, Any], str]:
    """Store the token document ``make(token)`` with its ``token_issued`` (a fresh token when ``token`` is
    None); returns it and the token. Two tokens share a public id (64 bits of the hash) once in about 4 billion
    issued: the unique index then refuses the second rather than make its id ambiguous."""
    value = token or auth.new_token()
    doc = make(value)
    facts = _as(doc["issued_by"], envelopes(domain.issued_facts(doc), source=SOURCE,
                                            township_id=domain.announced_township(doc), correlation_id=None,
                                            time=doc["issued_at"]))
    stored = repo.insert_token(doc, facts)
    if stored is None:
        raise Conflict("this token is issued already", id=doc["token_id"], allowed=[])
    return stored, value


def issue(repo: IdentityRepository, actors: Actors, now: datetime, principal: auth.Principal,
          command: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An office issues a token for one actor of its own township; returns the stored document and the token
    (shown this once)."""
    township = repo.get_township(principal.township_id) if principal.township_id else None
    registered = {}
    for ref in domain.registry_lookups(command):
        kind, _, actor_id = ref.partition(":")
        registered[ref] = actors.get(principal, kind, actor_id)
    domain.check_issue(principal, command, (township or {}).get("villages", ()), registered)
    county_id = (township or {}).get("county_id") or principal.county_id
    return _store_new(repo, lambda token: domain.token_document(
        token, role=command["role"], actor=command["actor"], township_id=principal.township_id,
        county_id=county_id, townships=[principal.township_id], villages=command.get("villages") or (),
        organisation=command.get("organisation"), label=command.get("label"), issued_by=principal.actor,
        now=now), None)


def issue_by_admin(repo: IdentityRepository, now: datetime, *, role: str, actor: str, township_id: str | None,
                   county_id: str | None, label: str | None, issued_by: str,
                   token: str | None = None) -> tuple[dict[str, Any], str]:
    """A token issued from the command line (:mod:`identity.admin`): the first office token of a township, or a
    county's. The township, or the county's townships, must be known (``identity.admin townships``)."""
    if (township_id is None) == (county_id is None):
        raise ValidationFailed({"_schema": ["give a township or a county"]})
    if township_id is not None:
        township = repo.get_township(township_id)
        if township is None:
            raise NotFound(f"identity knows no township {township_id!r}; load it with "
                           f"`python -m identity.admin townships <county.yaml>`")
        townships, county_id = [township_id], township.get("county_id")
    else:
        townships = repo.townships_of_county(county_id)
        if not townships:
            raise NotFound(f"identity knows no township of county {county_id!r}; load them with "
                           f"`python -m identity.admin townships <county.yaml>`")
    return _store_new(repo, lambda value: domain.token_document(
        value, role=role, actor=actor, township_id=township_id, county_id=county_id, townships=townships,
        label=label, issued_by=issued_by, now=now), token)


def list_tokens(repo: IdentityRepository, principal: auth.Principal, query: dict[str, Any]) -> list[dict]:
    return repo.list_tokens(principal.township_id, query.get("role"), query.get("actor"), query.get("active"),
                            query["limit"])


def revoke(repo: IdentityRepository, now: datetime, token_id: str, by: str,
           township_id: str | None = None) -> dict[str, Any]:
    """Revoke a token (of ``township_id``'s, when given: an office revokes its own township's only); a token
    revoked already is answered as it is. 404 for a token that is not there or not the township's."""
    if not isinstance(token_id, str):
        raise NotFound("no such token in this township")

    def change(doc):
        return _as(by, envelopes(domain.revoke(doc, by, now), source=SOURCE,
                                 township_id=domain.announced_township(doc), correlation_id=None, time=now)), None

    def save(doc, events):
        return repo.save_token(doc, events) if events else doc

    def load():
        return repo.token_of_township(township_id, token_id) if township_id else repo.token_by_id(token_id)

    doc, _ = mutate(load, change, save, f"no token {token_id!r}" + (" in this township" if township_id else ""))
    return doc


def revoke_tokens_of_inactive_actor(repo: IdentityRepository, now: datetime, event: Event) -> list[dict[str, Any]]:
    """dispatch's ``actor_updated`` says the actor is no longer active: its active tokens are revoked (by whoever
    deactivated it). A redelivery finds none left to revoke."""
    p = event.payload
    if p["active"]:
        return []
    actor = f"{p['kind']}:{p['id']}"
    by = event.actor or f"service:{event.source}"
    return [revoke(repo, now, doc["token_id"], by, event.township_id)
            for doc in repo.list_tokens(event.township_id, actor=actor, active=True, limit=1000)]


def load_townships(repo: IdentityRepository, county: dict[str, Any]) -> list[str]:
    """Save the townships of a county file (``deploy/demo/county.yaml``'s form): id, county, village codes."""
    for township in county["townships"]:
        repo.save_township(township["id"], township.get("county") or county["county"]["code"],
                           [v["code"] for v in township.get("villages", [])])
    return [t["id"] for t in county["townships"]]


# audit trail -------------------------------------------------------------------------------------------------------
def record(repo: IdentityRepository, event: Event, exchange: str | None = None) -> bool:
    """Append the event to the audit trail once; False for a redelivery."""
    return repo.record(domain.audit_entry(event, exchange))


def list_audit(repo: IdentityRepository, now: datetime, principal: auth.Principal,
               query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    cursor = domain.decode_cursor(query["cursor"]) if query.get("cursor") else None
    filters = {k: query[k] for k in ("actor", "type", "case") if query.get(k)}
    items, more = repo.list_audit(principal.township_id, filters, query["limit"], now, cursor)
    return items, (domain.encode_cursor(items[-1]) if more and items else None)
