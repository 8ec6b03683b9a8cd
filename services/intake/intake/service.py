"""The intake nameko service: thin RPC entrypoints over :mod:`intake.handlers`; events leave through the relay."""
from __future__ import annotations

import logging
from nameko.dependency_providers import Config

from township_shared.consumers import DeadLetterPublisher, consumer, event_handler
from township_shared import auth, faults
from township_shared.auth import EVERYONE, TASK_ROLES, authorized
from township_shared.errors import EXPECTED
from township_shared.events import load_event
from township_shared.schemas.demands import (DemandAcceptedSchema, DemandPageSchema, DemandQuerySchema,
                                             DemandSchema, DemandSubmissionSchema)
from township_shared.schemas.reference import CategorySchema, VillageSchema
from township_shared.observability import Metrics, correlation
from township_shared.relay import EventRelay
from township_shared.service import Clock, load, rpc

from . import handlers, limits
from .dependencies import DemandStore

log = logging.getLogger(__name__)


class IntakeService:
    name = "intake"

    repo = DemandStore()
    clock = Clock()
    events = EventRelay("cases")
    dead_letters = DeadLetterPublisher()
    config = Config()
    metrics = Metrics()

    def _secret_key(self):
        return self.config.get("CASE_SECRET_KEY") or auth.DEFAULT_CASE_SECRET_KEY

    @rpc(expected_exceptions=EXPECTED)
    @authorized("public", "office", *TASK_ROLES)
    def submit_demand(self, principal, submission, idempotency_key=None, client=None):
        """Accept a demand for the principal's township; returns ``{"case": DemandAccepted, "replayed": bool}``.
        The answer carries the case's secret, with which the resident follows the case (decision 39). ``client``
        is the key the gateway counts the caller under (decision 55): the public only, staff are not limited."""
        loaded = load(DemandSubmissionSchema(), submission)
        accepted = handlers.submit_demand(self.repo, self.clock.now(), principal.township_id, loaded,
                                          idempotency_key, client if principal.is_public else None,
                                          limits.from_config(self.config))
        correlation(accepted.case["_id"])
        log.info("demand %s accepted as %s (%s)", accepted.case["case_number"], accepted.case["status"],
                 "replayed" if accepted.replayed else "new")
        if not accepted.replayed:
            # a replay leaves any pending event to the sweep, so concurrent retries publish it once
            faults.point("intake.after_store")
            self.events.flush(accepted.case)
        view = handlers.accepted_view(accepted.case, auth.case_secret(self._secret_key(), accepted.case["_id"]))
        return {"case": DemandAcceptedSchema().dump(view), "replayed": accepted.replayed}

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "public")
    def get_demand(self, principal, case_ref, secret=None):
        """One demand by id or case number: the office sees it whole; the public needs the case's secret."""
        case = handlers.demand_for(self.repo, principal, case_ref, secret, self._secret_key())
        return DemandSchema().dump(handlers.view_for(principal, case))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_demands(self, principal, query):
        items, cursor = handlers.list_demands(self.repo, principal.township_id, load(DemandQuerySchema(), query))
        return DemandPageSchema().dump({"items": [handlers.view_for(principal, c) for c in items],
                                        "next_cursor": cursor})

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*EVERYONE)
    def list_villages(self, principal):
        handlers.reference_or_404(self.repo, principal.township_id)
        return VillageSchema(many=True).dump(self.repo.list_villages(principal.township_id))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*EVERYONE)
    def list_categories(self, principal):
        handlers.reference_or_404(self.repo, principal.township_id)
        return CategorySchema(many=True).dump(self.repo.list_categories(principal.township_id))

    @event_handler("dispatch", "case_status_changed", requeue_on_error=True)
    @consumer
    def follow_case_status(self, body):
        """Dispatch decides a case's status; intake shows the latest it was told (a late, older announcement
        changes nothing). A closed case is no longer open: later demands are not linked to it as duplicates."""
        handlers.follow_status(self.repo, load_event(body, "case_status_changed"))
