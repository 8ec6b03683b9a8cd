"""The intake nameko service: thin RPC entrypoints over :mod:`intake.handlers`; events leave through the relay."""
from __future__ import annotations

import logging
from nameko.dependency_providers import Config

from township_shared.consumers import DeadLetterPublisher, consumer, event_handler
from township_shared import faults
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

    @rpc(expected_exceptions=EXPECTED)
    def submit_demand(self, township_id, submission, idempotency_key=None, client=None):
        """Accept a demand; returns ``{"case": DemandAccepted, "replayed": bool}``. ``client`` is the key the
        gateway counts the caller under (decision 55), None for a caller the limits do not apply to."""
        loaded = load(DemandSubmissionSchema(), submission)
        accepted = handlers.submit_demand(self.repo, self.clock.now(), township_id, loaded, idempotency_key,
                                          client, limits.from_config(self.config))
        correlation(accepted.case["_id"])
        log.info("demand %s accepted as %s (%s)", accepted.case["case_number"], accepted.case["status"],
                 "replayed" if accepted.replayed else "new")
        if not accepted.replayed:
            # a replay leaves any pending event to the sweep, so concurrent retries publish it once
            faults.point("intake.after_store")
            self.events.flush(accepted.case)
        view = handlers.accepted_view(accepted.case)
        return {"case": DemandAcceptedSchema().dump(view), "replayed": accepted.replayed}

    @rpc(expected_exceptions=EXPECTED)
    def get_demand(self, township_id, case_id):
        return DemandSchema().dump(handlers.public_view(handlers.get_demand(self.repo, township_id, case_id)))

    @rpc(expected_exceptions=EXPECTED)
    def list_demands(self, township_id, query):
        items, cursor = handlers.list_demands(self.repo, township_id, load(DemandQuerySchema(), query))
        return DemandPageSchema().dump({"items": [handlers.public_view(c) for c in items], "next_cursor": cursor})

    @rpc(expected_exceptions=EXPECTED)
    def list_villages(self, township_id):
        handlers.reference_or_404(self.repo, township_id)
        return VillageSchema(many=True).dump(self.repo.list_villages(township_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_categories(self, township_id):
        handlers.reference_or_404(self.repo, township_id)
        return CategorySchema(many=True).dump(self.repo.list_categories(township_id))

    @event_handler("dispatch", "case_status_changed", requeue_on_error=True)
    @consumer
    def follow_case_status(self, body):
        """Dispatch decides a case's status; intake shows the latest it was told (a late, older announcement
        changes nothing). A closed case is no longer open: later demands are not linked to it as duplicates."""
        handlers.follow_status(self.repo, load_event(body, "case_status_changed"))
