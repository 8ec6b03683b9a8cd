"""The meetings nameko service: candidate items gathered from events, meetings (agenda, records, frozen minutes
and their exports, decisions announced and followed), consultation topics. Thin entrypoints: load through a
schema, call a handler, flush the events, dump."""
from __future__ import annotations

import base64
import logging

from nameko.dependency_providers import Config
from nameko.exceptions import RemoteError

from township_shared import auth
from township_shared.auth import authorized
from township_shared.consumers import DeadLetterPublisher, consumer, event_handler
from township_shared.errors import EXPECTED, NotFound
from township_shared.events import load_event
from township_shared.observability import Metrics
from township_shared.relay import EventRelay
from township_shared.schemas import meetings as s
from township_shared.service import Clock, load, rpc

from . import exports, handlers
from .domain import public_topic
from .dependencies import ExportSettings, MeetingsStore, RpcProxy
from .repository import OUTBOX_COLLECTIONS

log = logging.getLogger(__name__)

MANAGERS = ("office", "meeting")
# who may attend a meeting (and then read its agenda and minutes): actors with tokens
READERS = (*MANAGERS, "unit", "party_member", "volunteer", "social_org", "supervision")
TOPIC_PROPOSERS = ("public", "office", "unit", "party_member", "meeting")
EXPORTS = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}


class MeetingsService:
    name = "meetings"

    repo = MeetingsStore()
    clock = Clock()
    events = EventRelay(*OUTBOX_COLLECTIONS)
    dead_letters = DeadLetterPublisher()
    config = Config()
    metrics = Metrics()
    exports = ExportSettings()
    dispatch = RpcProxy("dispatch")

    def _flush(self, docs, collection):
        for doc in docs if isinstance(docs, list) else [docs]:
            if doc:
                self.events.flush(doc, collection)

    def _meeting(self, meeting):
        self._flush(meeting, "meetings")
        return s.MeetingViewSchema().dump(handlers.meeting_view(self.repo, meeting, self.clock.now()))

    # candidates --------------------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    @authorized(*MANAGERS)
    def list_candidates(self, principal, query):
        q = load(s.CandidateQuerySchema(), query)
        return s.AgendaCandidateViewSchema(many=True).dump(self.repo.list_candidates(principal.township_id, q["state"],
                                                                                 q["limit"]))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def propose_item(self, principal, body):
        """The office adds an item for a coming meeting (a case of the township, checked with dispatch, or any
        other matter)."""
        key = self.config.get("PRINCIPAL_KEY") or auth.DEFAULT_PRINCIPAL_KEY

        def dispatch_case(case_id):
            try:
                return self.dispatch.get_case(auth.sign(principal, key), case_id)
            except RemoteError as exc:
                if exc.exc_type == "NotFound":
                    return None
                raise

        cand = handlers.propose_item(self.repo, dispatch_case, principal, load(s.CandidateCreateSchema(), body),
                                     self.clock.now())
        self._flush(cand, "candidates")
        return s.AgendaCandidateViewSchema().dump(cand)

    @event_handler("dispatch", "case_escalated", requeue_on_error=True)
    @consumer
    def gather_escalation(self, body):
        """An escalated case (overdue past the grace, returned twice, whistled) becomes a candidate item."""
        handlers.candidate_from_event(self.repo, load_event(body, "case_escalated"), self.clock.now())

    @event_handler("feedback", "hotspot_detected", requeue_on_error=True)
    @consumer
    def gather_hotspot(self, body):
        """A hotspot (a cluster of demands) becomes a candidate item."""
        handlers.candidate_from_event(self.repo, load_event(body, "hotspot_detected"), self.clock.now())

    @event_handler("funds", "project_referred", requeue_on_error=True)
    @consumer
    def gather_project(self, body):
        """A project above the threshold that funds referred to the meeting becomes a candidate item."""
        handlers.candidate_from_event(self.repo, load_event(body, "project_referred"), self.clock.now())

    @event_handler("funds", "project_approved", requeue_on_error=True)
    @consumer
    def follow_project_approved(self, body):
        """Funds approved a project: by the meeting (its decision goes on), or by the office (off the list)."""
        self._follow_project(body, "project_approved")

    @event_handler("funds", "project_rejected", requeue_on_error=True)
    @consumer
    def follow_project_rejected(self, body):
        self._follow_project(body, "project_rejected")

    @event_handler("funds", "funds_allocated", requeue_on_error=True)
    @consumer
    def follow_allocation(self, body):
        """Funds allocated what the meeting approved: the decision is done, with the allocation's id."""
        self._follow_project(body, "funds_allocated")

    @event_handler("funds", "allocation_refused", requeue_on_error=True)
    @consumer
    def follow_allocation_refused(self, body):
        """Funds could not allocate what the meeting approved: shown at the next meeting."""
        self._follow_project(body, "allocation_refused")

    def _follow_project(self, body, kind):
        for doc in handlers.project_event(self.repo, load_event(body, kind), self.clock.now()):
            self._flush(doc, self._collection(doc))

    @event_handler("dispatch", "case_closed", requeue_on_error=True)
    @consumer
    def case_closed(self, body):
        """A closed case leaves the candidates by itself; decisions waiting on it are done."""
        handlers.case_closed(self.repo, load_event(body, "case_closed"), self.clock.now())

    # what became of decisions ---------------------------------------------------------------------------------------
    @event_handler("dispatch", "case_decision_applied", requeue_on_error=True)
    @consumer
    def follow_case_decision(self, body):
        """Dispatch created the tasks of an assignment, closed a case, or could not (shown at the next meeting)."""
        for doc in handlers.case_decision_applied(self.repo, load_event(body, "case_decision_applied"),
                                                  self.clock.now()):
            self._flush(doc, self._collection(doc))

    @event_handler("dispatch", "case_status_changed", requeue_on_error=True)
    @consumer
    def follow_case_status(self, body):
        """The lead of a case a meeting assigned replied: the decision is done."""
        handlers.case_status_changed(self.repo, load_event(body, "case_status_changed"), self.clock.now())

    @event_handler("meetings", "meeting_decision_made", requeue_on_error=True)
    @consumer
    def settle_decision(self, body):
        """The meeting's own decision: its candidate is decided (a deferred one back on the list), earlier open
        decisions on the subject superseded, a topic opened."""
        for doc in handlers.settle_decision(self.repo, load_event(body, "meeting_decision_made"), self.clock.now()):
            self._flush(doc, self._collection(doc))

    @staticmethod
    def _collection(doc):
        """Ids say their collection: ``c-`` candidates, ``m-`` meetings, ``t-`` topics."""
        return {"c": "candidates", "m": "meetings", "t": "topics"}[doc["_id"][0]]

    # meetings ------------------------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    @authorized(*MANAGERS)
    def schedule_meeting(self, principal, body):
        meeting = handlers.schedule(self.repo, principal, load(s.MeetingCreateSchema(), body), self.clock.now())
        return self._meeting(meeting)

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*READERS)
    def list_meetings(self, principal, query):
        """The office and the secretary: every meeting of the township; an attendee: the meetings it attends."""
        q = load(s.MeetingQuerySchema(), query)
        now = self.clock.now()
        return [s.MeetingViewSchema().dump(handlers.meeting_view(self.repo, m, now))
                for m in handlers.list_meetings(self.repo, principal, q)]

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*READERS)
    def get_meeting(self, principal, meeting_id):
        """The meeting with its agenda, opening with earlier decisions not yet done; 404 for a non-attendee."""
        return s.MeetingViewSchema().dump(handlers.get_meeting(self.repo, principal, meeting_id, self.clock.now()))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*MANAGERS)
    def compose_agenda(self, principal, meeting_id, body):
        return self._meeting(handlers.compose(self.repo, principal, meeting_id, load(s.AgendaSchema(), body),
                                              self.clock.now()))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*MANAGERS)
    def publish_agenda(self, principal, meeting_id):
        return self._meeting(handlers.publish(self.repo, principal, meeting_id, self.clock.now()))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*MANAGERS)
    def record_item(self, principal, meeting_id, item_id, body):
        return self._meeting(handlers.record(self.repo, principal, meeting_id, item_id, load(s.RecordSchema(), body),
                                             self.clock.now()))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*MANAGERS)
    def close_meeting(self, principal, meeting_id, body):
        """Freeze the minutes and announce every decision (one write); 409 while an item has no decision."""
        meeting = handlers.close(self.repo, principal, meeting_id, load(s.CloseMeetingSchema(), body),
                                 self.clock.now())
        log.info("meeting %s closed with %d decision(s)", meeting_id, len(meeting["decisions"]))
        return self._meeting(meeting)

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*MANAGERS)
    def add_addendum(self, principal, meeting_id, body):
        return self._meeting(handlers.amend(self.repo, principal, meeting_id, load(s.AddendumSchema(), body),
                                            self.clock.now()))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*READERS)
    def export_minutes(self, principal, meeting_id, fmt):
        """The frozen minutes with their addenda: ``{media_type, text}`` for md and html, ``{media_type,
        base64}`` for pdf; 409 before the meeting closes."""
        if fmt not in EXPORTS:
            raise NotFound(f"no export {fmt!r}", allowed=sorted(EXPORTS))
        meeting = handlers.minutes_of(self.repo, principal, meeting_id)
        tz = self.exports.timezone
        if fmt == "pdf":
            content = exports.pdf(meeting, exports.find_font(self.exports.font), tz)
            return {"media_type": EXPORTS[fmt], "base64": base64.b64encode(content).decode()}
        text = exports.markdown(meeting, tz) if fmt == "md" else exports.html(meeting, tz)
        return {"media_type": EXPORTS[fmt], "text": text}

    # consultation topics ---------------------------------------------------------------------------------------------
    def _topic(self, principal, topic):
        if principal.role in MANAGERS:
            return s.TopicViewSchema().dump(public_topic(topic) | {"applications": topic["applications"]})
        return s.PublicTopicViewSchema().dump(public_topic(topic))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*TOPIC_PROPOSERS)
    def propose_topic(self, principal, body):
        topic = handlers.propose_topic(self.repo, principal, load(s.TopicCreateSchema(), body), self.clock.now())
        self._flush(topic, "topics")
        return self._topic(principal, topic)

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*auth.ROLES)
    def list_topics(self, principal, query):
        """A village's topics (or the township's) with their course and published results; the office and the
        secretary see proposers and stakeholders' positions, everyone else only the course and results."""
        q = load(s.TopicQuerySchema(), query)
        return [self._topic(principal, t) for t in handlers.list_topics(self.repo, principal, q)]

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*auth.ROLES)
    def get_topic(self, principal, topic_id):
        return self._topic(principal, handlers.topic_or_404(self.repo, principal, topic_id))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*auth.ROLES)
    def act_on_topic(self, principal, topic_id, command, body):
        """Move a topic on its course (``s.TOPIC_COMMANDS``: accept, decline, negotiation, result, feedback,
        conclude), each by the roles the table names."""
        spec = s.TOPIC_COMMANDS.get(command)
        if spec is None:
            raise NotFound(f"no topic command {command!r}", allowed=sorted(s.TOPIC_COMMANDS))
        auth.require(principal, *spec[2])
        topic = handlers.act_on_topic(self.repo, principal, topic_id, command, load(spec[0](), body),
                                      self.clock.now())
        self._flush(topic, "topics")
        if command == "accept":
            for cand in self.repo.candidates_of_subject(principal.township_id, {"kind": "topic", "id": topic_id}):
                self._flush(cand, "candidates")
        return self._topic(principal, topic)
