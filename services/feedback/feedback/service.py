"""The feedback nameko service: callbacks, completion reports, assessment figures folded from events, hotspots."""
from __future__ import annotations

import logging
from datetime import timedelta

from nameko.dependency_providers import Config
from nameko.timer import timer

from township_shared.auth import EVERYONE, authorized
from township_shared.consumers import DeadLetterPublisher, consumer, event_handler
from township_shared.errors import EXPECTED, NotFound, ServiceUnavailable, Unavailable
from township_shared.events import load_event
from township_shared.exports import to_csv
from township_shared.schemas import feedback as s
from township_shared.lease import Duties
from township_shared.observability import Metrics
from township_shared.relay import EventRelay
from township_shared.service import Clock, load, rpc

from . import handlers
from .dependencies import Dispatch, FeedbackStore, FiguresStore, Funds, Settings
from .repository import OUTBOX_COLLECTIONS

log = logging.getLogger(__name__)


class FeedbackService:
    name = "feedback"

    repo = FeedbackStore()
    figures = FiguresStore()
    clock = Clock()
    settings = Settings()
    events = EventRelay(*OUTBOX_COLLECTIONS)
    dead_letters = DeadLetterPublisher()
    config = Config()
    metrics = Metrics()
    dispatch = Dispatch()
    duties = Duties()
    funds = Funds()

    def _fold(self, body, event_type):
        """Journal the event (its message is acknowledged once that write is done), then fold what is pending.
        A failed fold is left to the ``fold_figures`` timer: the event is safe in the journal. An event naming a
        task or callback that does not exist is refused first (decision 51)."""
        event = load_event(body, event_type)
        handlers.check_references(self.repo, self.dispatch, event)
        if handlers.record_event(self.figures, event, self.settings.timezone):
            try:
                self.figures.fold_pending(self.clock.now)
            except Exception:
                log.warning("folding figures failed; the fold_figures timer retries", exc_info=True)

    # assessment figures, folded from events (idempotent by event id, decision 32) --------------------------
    @timer(interval=2)
    def fold_figures(self):
        """Fold what a failed fold left pending, and finish batches whose fold stopped midway (a crash): in the one
        instance holding the duty's lease (decision 81)."""
        if not self.duties.hold("fold_figures"):
            return
        self.figures.recover(self.clock.now)
        self.figures.fold_pending(self.clock.now)

    @event_handler("dispatch", "task_assigned", requeue_on_error=True)
    @consumer
    def fold_task_assigned(self, body):
        self._fold(body, "task_assigned")

    @event_handler("dispatch", "task_signed", requeue_on_error=True)
    @consumer
    def fold_task_signed(self, body):
        self._fold(body, "task_signed")

    @event_handler("dispatch", "task_returned", requeue_on_error=True)
    @consumer
    def fold_task_returned(self, body):
        self._fold(body, "task_returned")

    @event_handler("dispatch", "task_completed", requeue_on_error=True)
    @consumer
    def fold_task_completed(self, body):
        self._fold(body, "task_completed")

    @event_handler("feedback", "callback_recorded", requeue_on_error=True)
    @consumer
    def fold_callback_recorded(self, body):
        self._fold(body, "callback_recorded")

    @event_handler("dispatch", "case_reopened", requeue_on_error=True)
    @consumer
    def fold_case_reopened(self, body):
        self._fold(body, "case_reopened")

    @event_handler("dispatch", "task_completed", requeue_on_error=True)
    @consumer
    def open_callback(self, body):
        """The lead finished: a callback to the resident is due."""
        handlers.open_callback(self.repo, self.dispatch, load_event(body, "task_completed"), self.clock.now())

    @event_handler("intake", "demand_received", requeue_on_error=True)
    @consumer
    def watch_hotspots(self, body):
        doc = handlers.note_demand(self.repo, load_event(body, "demand_received"), self.settings.hotspot_min,
                                   self.settings.hotspot_window)
        self.events.flush(doc, "hotspots")

    @event_handler("funds", "project_approved", requeue_on_error=True)
    @consumer
    def learn_project(self, body):
        """An approved funds project: its organisation may report on it (decision 66)."""
        handlers.note_project(self.repo, load_event(body, "project_approved"))

    # callbacks -----------------------------------------------------------------------------------------------
    def _callback_view(self, cb):
        return s.CallbackViewSchema().dump(cb)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_callbacks(self, principal, query):
        q = load(s.CallbackQuerySchema(), query)
        return s.CallbackViewSchema(many=True).dump(self.repo.list_callbacks(principal.township_id, q["status"],
                                                                             q["limit"], q.get("case_id")))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def record_callback_attempt(self, principal, callback_id, body):
        cmd = load(s.CallbackAttemptSchema(), body)
        cb = handlers.callback_attempt(self.repo, self.clock.now(), principal.township_id, callback_id,
                                       cmd.get("note"), self.settings.max_attempts, principal.actor)
        self.events.flush(cb, "callbacks")
        return self._callback_view(cb)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def record_callback_answer(self, principal, callback_id, body):
        cb = handlers.callback_answer(self.repo, self.clock.now(), principal.township_id, callback_id,
                                      load(s.OfficeAnswerSchema(), body), principal.actor)
        self.events.flush(cb, "callbacks")
        return self._callback_view(cb)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def classify_callback(self, principal, callback_id, body):
        cb = handlers.callback_classify(self.repo, self.clock.now(), principal.township_id, callback_id,
                                        load(s.ClassifySchema(), body), principal.actor)
        self.events.flush(cb, "callbacks")
        return self._callback_view(cb)

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*EVERYONE)
    def get_callback_link(self, principal, token):
        """Whoever holds the link reads it: the link is the credential (until it expires: decision 56)."""
        return s.PublicCallbackSchema().dump(handlers.callback_for_token(self.repo, token, self.clock.now(),
                                                                          self.settings.link_lifetime))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*EVERYONE)
    def answer_callback_link(self, principal, token, body):
        cb = handlers.resident_answer(self.repo, self.clock.now(), token, load(s.ResidentAnswerSchema(), body),
                                      self.settings.link_lifetime)
        self.events.flush(cb, "callbacks")
        return {"status": cb["status"], "thanks": True}

    # completion reports --------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    @authorized("social_org")
    def submit_report(self, principal, body):
        """A registered social organisation (its token was issued for a registered actor) reports."""
        report = load(s.ReportSchema(), body)
        try:
            project = handlers.check_project(self.repo, self.funds, principal.township_id, principal.actor, report)
        except Unavailable as exc:
            raise ServiceUnavailable(f"cannot check the project now ({exc}); retry") from None
        report = handlers.submit_report(self.repo, self.clock.now(), principal.township_id, principal.actor,
                                        report, project)
        self.events.flush(report, "reports")
        return s.ReportViewSchema().dump(report)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "supervision")
    def review_report(self, principal, report_id, body):
        report = handlers.review_report(self.repo, self.clock.now(), principal, report_id,
                                        load(s.ReviewSchema(), body))
        self.events.flush(report, "reports")
        return s.ReportViewSchema().dump(report)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "social_org", "supervision")
    def list_reports(self, principal, status=None):
        return s.ReportViewSchema(many=True).dump(handlers.reports_for(self.repo, principal, status))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "social_org", "supervision")
    def get_report(self, principal, report_id):
        return s.ReportViewSchema().dump(handlers.report_for(self.repo, principal, report_id))

    # assessment: the office of a township, and the county over its townships --------------------------------------
    def _rows(self, principal, query):
        if principal.role == "county" and principal.township_id not in principal.townships:
            raise NotFound(f"no township {principal.township_id!r} in county {principal.county_id!r}")
        return handlers.figures(self.figures, principal.township_id, query, self.clock.now())

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "county")
    def assessment(self, principal, query):
        return s.FigureRowSchema(many=True).dump(self._rows(principal, load(s.AssessmentQuerySchema(), query)))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "county")
    def assessment_ranking(self, principal, query):
        q = load(s.AssessmentQuerySchema(), query)
        ranked = handlers.ranking(self._rows(principal, q), q["by"], q["limit"])
        return {"by": ranked["by"], "top": s.FigureRowSchema(many=True).dump(ranked["top"]),
                "bottom": s.FigureRowSchema(many=True).dump(ranked["bottom"])}

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "county")
    def assessment_csv(self, principal, query):
        rows = s.FigureRowSchema(many=True).dump(self._rows(principal, load(s.AssessmentQuerySchema(), query)))
        return to_csv(rows, list(s.FigureRowSchema().fields))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_hotspots(self, principal, days=30):
        since = self.clock.now() - timedelta(days=int(days))
        return s.HotspotViewSchema(many=True).dump(self.repo.raised_hotspots(principal.township_id, since))
