"""The dispatch nameko service: consumes ``demand_received``, serves task and routing commands over RPC,
chases deadlines on a timer; its events leave through the relay."""
from __future__ import annotations

import logging
from nameko.dependency_providers import Config
from nameko.timer import timer

from township_shared import auth
from township_shared.auth import TASK_ROLES, authorized
from township_shared.consumers import DeadLetterPublisher, consumer, event_handler
from township_shared.auth import authorized
from township_shared.errors import EXPECTED, Forbidden, NotFound
from township_shared.events import load_event
from township_shared.schemas import dispatch as s
from township_shared.lease import Duties
from township_shared.observability import ALARMS_FIRED, Metrics
from township_shared.relay import EventRelay
from township_shared.service import Clock, load, rpc

from . import domain, handlers
from .dependencies import CaseStore, Routing

log = logging.getLogger(__name__)

ALARM_EVENTS = ("task_reminder_due", "task_overdue", "case_escalated")


class DispatchService:
    name = "dispatch"

    repo = CaseStore()
    clock = Clock()
    routing = Routing()
    events = EventRelay("cases", "actors")
    dead_letters = DeadLetterPublisher()
    config = Config()
    metrics = Metrics()
    duties = Duties()

    def _flush(self, case):
        self.events.flush(case, "cases")

    def _view(self, case, actor):
        return s.DispatchCaseViewSchema().dump(handlers.case_view(case, actor))

    @event_handler("intake", "demand_received", requeue_on_error=True)
    @consumer
    def receive_demand(self, body):
        """Route a new case, or queue it for triage. Redelivered events change nothing."""
        event = load_event(body, "demand_received")
        case = handlers.receive_demand(self.repo, self.clock.now(), self.routing.policy, self.routing.calendar,
                                       event)
        if case is None:
            log.info("demand_received %s was handled before; nothing to do", event.id)
        elif case["status"] in ("triage", "duplicate"):
            log.info("case %s waits for triage: %s", case["case_number"], case["triage"]["reason"])
        else:
            log.info("case %s routed to %s", case["case_number"], ", ".join(case["open_assignees"]))
        self._flush(case)

    @event_handler("feedback", "callback_recorded", requeue_on_error=True)
    @consumer
    def callback_under_way(self, body):
        """The office is calling the resident back: the case is in ``callback``."""
        event = load_event(body, "callback_recorded")
        self._flush(handlers.callback_under_way(self.repo, self.clock.now(), event))

    @event_handler("feedback", "callback_concluded", requeue_on_error=True)
    @consumer
    def conclude_callback(self, body):
        """The callback concluded: close the case with its outcome, or reopen it for a redo."""
        event = load_event(body, "callback_concluded")
        self._flush(handlers.conclude_callback(self.repo, self.clock.now(), self.routing.policy,
                                               self.routing.calendar, event))

    @event_handler("meetings", "meeting_decision_made", requeue_on_error=True)
    @consumer
    def apply_meeting_decision(self, body):
        """The joint meeting assigned a lead unit (a task with the meeting's deadline) or closed a case; what was
        done, or why it could not be, is announced as ``case_decision_applied``."""
        event = load_event(body, "meeting_decision_made")
        self._flush(handlers.apply_meeting_decision(self.repo, self.clock.now(), self.routing.policy, event))

    @event_handler("dispatch", "case_routed", requeue_on_error=True)
    @consumer
    def learn_from_routing(self, body):
        """The office routed or re-routed a case: its text and category become the township's example."""
        event = load_event(body, "case_routed")
        handlers.learn_from_routing(self.repo, event)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_routing_examples(self, principal, query=None):
        """What the office's routings taught the township's classifier, and what it learned (decision 61)."""
        q = load(s.RoutingExampleQuerySchema(), query or {})
        return s.RoutingExamplesViewSchema().dump(handlers.routing_examples(self.repo, principal.township_id, q))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def undo_routing_example(self, principal, case_id, command=None):
        """The classifier forgets what the office's routing of this case taught it."""
        c = load(s.ExampleDecisionSchema(), command or {})
        doc = handlers.set_example_active(self.repo, self.clock.now(), principal.township_id, case_id, False,
                                          principal.actor, c["reason"])
        return s.RoutingExampleViewSchema().dump(doc)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def restore_routing_example(self, principal, case_id, command=None):
        """The classifier learns again from an example that was undone."""
        load(s.ExampleDecisionSchema(), command or {})
        doc = handlers.set_example_active(self.repo, self.clock.now(), principal.township_id, case_id, True,
                                          principal.actor, None)
        return s.RoutingExampleViewSchema().dump(doc)

    def _secret_key(self):
        return self.config.get("CASE_SECRET_KEY") or auth.DEFAULT_CASE_SECRET_KEY

    @rpc(expected_exceptions=EXPECTED)
    @authorized("public")
    def task_facts(self, principal, task):
        """For a service checking a task event before it acts on it (feedback, decision 52), with its signed
        service principal (``auth.service_principal``) of the event's township: ``task`` is ``{case_id,
        task_id}``; the answer names the task's case, assignee, role and status; NotFound when dispatch has no such
        task in the township."""
        if not principal.actor.startswith("service:"):
            raise Forbidden("only a service asks for the facts of a task")
        ref = load(s.TaskRefSchema(), task)
        return s.TaskFactsSchema().dump(handlers.task_facts(self.repo, principal.township_id, ref["case_id"],
                                                            ref["task_id"]))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", *TASK_ROLES)
    def act_on_task(self, principal, task_id, command, args=None):
        """Run the task command named ``command`` (``s.TASK_COMMANDS``) with ``args`` loaded through its body
        schema: the office's commands for the office, the others for the task's own assignee."""
        spec = s.TASK_COMMANDS_BY_NAME.get(command)
        if spec is None:
            raise NotFound(f"no task command {command!r}", allowed=sorted(s.TASK_COMMANDS_BY_NAME))
        auth.require(principal, *(("office",) if spec.office else TASK_ROLES))
        loaded = load(spec.body(), args)
        case = handlers.act_on_task(self.repo, self.clock.now(), self.routing.policy, principal.township_id,
                                    principal.acting_as, task_id, command, loaded)
        self._flush(case)
        task = domain.find_task(case, task_id)
        return s.TaskViewSchema().dump(handlers.task_view(case, task))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*TASK_ROLES)
    def list_tasks(self, principal, query):
        q = load(s.TaskQuerySchema(), query)
        tasks = handlers.tasks_of(self.repo, principal.township_id, principal.actor, q.get("status"), q["limit"])
        return s.TaskViewSchema(many=True).dump(tasks)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", *TASK_ROLES)
    def get_case(self, principal, case_id):
        case = handlers.case_for(self.repo, principal.township_id, case_id, principal.acting_as)
        if principal.acting_as == domain.OFFICE:
            case = {**case, "duplicates": self.repo.duplicates_of(principal.township_id, case["_id"])}
        return self._view(case, principal.acting_as)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "public")
    def get_timeline(self, principal, case_ref, secret=None):
        """The public timeline, by case id or case number: the public needs the case's secret."""
        timeline = handlers.timeline_of(self.repo, principal.township_id, case_ref)
        if principal.role != "office" and not auth.case_secret_matches(self._secret_key(), timeline["case_id"],
                                                                       secret):
            raise NotFound(f"no case {case_ref!r} with this secret; send the secret you got at submission in "
                           "X-Case-Secret", id=case_ref)
        return s.TimelineSchema().dump(timeline)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_triage(self, principal, limit=100):
        handlers.settings_or_404(self.repo, principal.township_id)
        return [self._view(c, domain.OFFICE)
                for c in self.repo.triage_queue(principal.township_id, int(limit), self.clock.now())]

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_cases(self, principal, query=None):
        """The office's board: one stage of the township's cases, escalated and overdue first, filtered by
        village and category, paged by ``next_cursor``; with the count of cases per stage (decision 95)."""
        q = load(s.CaseBoardQuerySchema(), query or {})
        return s.CaseBoardSchema().dump(handlers.board(self.repo, principal.township_id, q, self.clock.now()))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def route_case(self, principal, case_id, command):
        case = handlers.route_case(self.repo, self.clock.now(), self.routing.policy, self.routing.calendar,
                                   principal.township_id, case_id, load(s.RouteCommandSchema(), command),
                                   principal.actor)
        self._flush(case)
        return self._view(case, domain.OFFICE)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def close_case(self, principal, case_id, command):
        case = handlers.close_case(self.repo, self.clock.now(), self.routing.policy, principal.township_id,
                                   case_id, load(s.CloseCommandSchema(), command), principal.actor)
        self._flush(case)
        return self._view(case, domain.OFFICE)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def whistle_case(self, principal, case_id, command):
        case = handlers.whistle_case(self.repo, self.clock.now(), self.routing.policy, principal.township_id,
                                     case_id, load(s.WhistleCommandSchema(), command))
        self._flush(case)
        return self._view(case, domain.OFFICE)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("unit")
    def report_to_whistle(self, principal, case_id):
        case, entry = handlers.report_to_whistle(self.repo, self.clock.now(), principal.township_id, case_id,
                                                 principal.actor)
        self._flush(case)
        return s.WhistleUnitSchema().dump(entry)

    # actors: the office's registry (phones in full: only the office of the township reads it) -------------------
    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def create_actor(self, principal, actor):
        created = handlers.create_actor(self.repo, self.clock.now(), principal.township_id,
                                        load(s.ActorSchema(), actor))
        self.events.flush(created, "actors")
        return s.ActorViewSchema().dump(created)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def update_actor(self, principal, kind, actor_id, changes):
        changes = load(s.ActorUpdateSchema(partial=True), changes)  # partial: no defaults for fields not given
        updated = handlers.update_actor(self.repo, self.clock.now(), principal.township_id, kind, actor_id, changes)
        self.events.flush(updated, "actors")
        return s.ActorViewSchema().dump(updated)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def get_actor(self, principal, kind, actor_id):
        return s.ActorViewSchema().dump(handlers.actor_or_404(self.repo, principal.township_id, kind, actor_id))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_actors(self, principal, query):
        q = load(s.ActorQuerySchema(), query)
        return s.ActorViewSchema(many=True).dump(handlers.list_actors(self.repo, principal.township_id, q))

    # timers ----------------------------------------------------------------------------------------------------
    @timer(interval=2)
    def chase_deadlines(self):
        """Reminders before deadlines, overdue notices after them, escalation after the grace: in the one instance
        holding the duty's lease (decision 81)."""
        if not self.duties.hold("chase_deadlines"):
            return
        for case in handlers.fire_due_alarms(self.repo, self.clock.now(), self.routing.policy):
            for event in case.get("outbox") or ():
                if event["type"] in ALARM_EVENTS:
                    ALARMS_FIRED.labels(self.name, event["type"]).inc()
            self._flush(case)
