"""The intake nameko service: thin RPC entrypoints over :mod:`intake.handlers`, and the outbox relay."""
from __future__ import annotations

import logging
from datetime import timedelta

from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.events import EventDispatcher, event_handler
from nameko.rpc import rpc
from nameko.timer import timer

from township_shared.consumers import DeadLetterPublisher, consumer
from township_shared import faults, outbox
from township_shared.errors import EXPECTED, ValidationFailed, flatten_messages
from township_shared.events import load_event
from township_shared.schemas.demands import (DemandAcceptedSchema, DemandPageSchema, DemandQuerySchema,
                                             DemandSchema, DemandSubmissionSchema)
from township_shared.schemas.reference import CategorySchema, VillageSchema

from . import handlers
from .dependencies import Clock, DemandStore

log = logging.getLogger(__name__)


def load(schema, data):
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from None


class IntakeService:
    name = "intake"

    repo = DemandStore()
    clock = Clock()
    dispatch = EventDispatcher()
    dead_letters = DeadLetterPublisher()
    config = Config()

    def _publish(self, event):
        self.dispatch(event["type"], event)

    @rpc(expected_exceptions=EXPECTED)
    def submit_demand(self, township_id, submission, idempotency_key=None):
        """Accept a demand; returns ``{"case": DemandAccepted, "replayed": bool}``."""
        loaded = load(DemandSubmissionSchema(), submission)
        accepted = handlers.submit_demand(self.repo, self.clock.now(), township_id, loaded, idempotency_key)
        if not accepted.replayed:
            # a replay leaves any pending event to the sweep, so concurrent retries publish it once
            faults.point("intake.after_store")
            try:
                outbox.flush(self.repo.outbox, accepted.case, self._publish)
            except Exception:
                log.exception("publish of demand_received for %s failed; the outbox sweep will retry",
                              accepted.case["_id"])
        view = handlers.public_view(accepted.case)
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

    @event_handler("dispatch", "case_closed", requeue_on_error=True)
    @consumer
    def case_closed_by_office(self, body):
        """A closed case is no longer open: later demands are not linked to it as duplicates."""
        self._closed(body)

    @event_handler("feedback", "case_closed", requeue_on_error=True)
    @consumer
    def case_closed_after_callback(self, body):
        self._closed(body)

    def _closed(self, body):
        event = load_event(body, "case_closed")
        self.repo.mark_closed(event.township_id, event.payload["case_id"], event.time, event.payload["outcome"])

    @timer(interval=1)
    def relay_outbox(self):
        """Publish events left pending by a crash or a broker outage (older than ``OUTBOX_GRACE_SECONDS``)."""
        grace = timedelta(seconds=float(self.config.get("OUTBOX_GRACE_SECONDS", 5)))
        sent = outbox.sweep(self.repo.outbox, self._publish, self.clock.now(), grace)
        if sent:
            log.info("outbox sweep published %d pending event(s)", sent)
