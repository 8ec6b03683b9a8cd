"""The identity nameko service: resolves API tokens for the gateway, lets a township's office issue, list and
revoke its tokens, and keeps the audit trail of every event of every service (decision 38)."""
from __future__ import annotations

import logging

from nameko.dependency_providers import Config

from township_shared import auth
from township_shared.consumers import DeadLetterPublisher, consumer, event_handler
from township_shared.errors import EXPECTED
from township_shared.events import load_event
from township_shared.observability import Metrics
from township_shared.relay import EventRelay
from township_shared.schemas import identity as s
from township_shared.service import Clock, load, rpc

from . import domain, handlers
from .actors import DispatchActors
from .dependencies import IdentityStore, RpcProxy
from .entrypoints import every_event
from .repository import OUTBOX_COLLECTIONS

log = logging.getLogger(__name__)


class IdentityService:
    name = "identity"

    repo = IdentityStore()
    clock = Clock()
    events = EventRelay(*OUTBOX_COLLECTIONS)
    dead_letters = DeadLetterPublisher()
    config = Config()
    metrics = Metrics()
    dispatch = RpcProxy("dispatch")

    # tokens ------------------------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def resolve_token(self, token):
        """The principal (``Principal.to_dict()``) of an active token; ``Unauthorized`` for an unknown, revoked or
        malformed one, with the same message. The gateway's one call per request it has not cached."""
        return handlers.resolve(self.repo, token).to_dict()

    @rpc(expected_exceptions=EXPECTED)
    def open_session(self, token):
        """Sign in to the console with a token: ``{session, principal}``; the session lasts
        ``SESSION_SECONDS`` (12 h) and ends with the token (decision 90)."""
        seconds = float(self.config.get("SESSION_SECONDS", domain.DEFAULT_SESSION_SECONDS))
        session, principal = handlers.open_session(self.repo, token, self.clock.now(), seconds)
        log.info("console session opened with token %s", principal.token_id)
        return {"session": session, "principal": principal.to_dict()}

    @rpc(expected_exceptions=EXPECTED)
    def resolve_session(self, session):
        """The principal of an open console session, like ``resolve_token``."""
        return handlers.resolve_session(self.repo, session, self.clock.now()).to_dict()

    @rpc(expected_exceptions=EXPECTED)
    def close_session(self, session):
        """Sign out; true if the session was open."""
        return handlers.close_session(self.repo, session, self.clock.now())

    @rpc(expected_exceptions=EXPECTED)
    @auth.authorized("office")
    def issue_token(self, principal, body):
        """The office issues a token for one actor of its township; the answer is the only time it is shown."""
        key = self.config.get("PRINCIPAL_KEY") or auth.DEFAULT_PRINCIPAL_KEY
        doc, token = handlers.issue(self.repo, DispatchActors(self.dispatch, key), self.clock.now(), principal,
                                    load(s.IssueTokenSchema(), body))
        self.events.flush(doc)
        log.info("token %s issued for %s by %s", doc["token_id"], doc["actor"], principal.actor)
        return s.IssuedTokenSchema().dump({**doc, "token": token})

    @rpc(expected_exceptions=EXPECTED)
    @auth.authorized("office")
    def list_tokens(self, principal, query):
        q = load(s.TokenQuerySchema(), query)
        return s.TokenListSchema().dump({"items": handlers.list_tokens(self.repo, principal, q)})

    @rpc(expected_exceptions=EXPECTED)
    @auth.authorized("office")
    def revoke_token(self, principal, token_id):
        """Revoke a token of the office's township (404 for any other); revoking twice answers the revoked token."""
        doc = handlers.revoke(self.repo, self.clock.now(), token_id, principal.actor, principal.township_id)
        self.events.flush(doc)
        return s.TokenViewSchema().dump(doc)

    @event_handler("dispatch", "actor_updated", requeue_on_error=True)
    @consumer
    def revoke_tokens_of_inactive_actor(self, body):
        """An actor the office deactivated loses its tokens at once (the gateway's cache forgets them within
        ``TOKEN_CACHE_SECONDS``)."""
        for doc in handlers.revoke_tokens_of_inactive_actor(self.repo, self.clock.now(),
                                                           load_event(body, "actor_updated")):
            self.events.flush(doc)
            log.info("token %s of deactivated %s revoked", doc["token_id"], doc["actor"])

    # audit trail -------------------------------------------------------------------------------------------------
    @every_event()
    @consumer
    def record_event(self, body, exchange=None):
        """Append every event of every service to the audit trail, once (a redelivery changes nothing)."""
        handlers.record(self.repo, load_event(body), exchange)

    @rpc(expected_exceptions=EXPECTED)
    @auth.authorized("office")
    def list_audit(self, principal, query):
        """The office's township's audit trail, newest first, with ``next_cursor`` for the next page."""
        items, cursor = handlers.list_audit(self.repo, self.clock.now(), principal,
                                            load(s.AuditQuerySchema(), query))
        return s.AuditPageSchema().dump({"items": items, "next_cursor": cursor})
