"""The dispatch nameko service: consumes ``demand_received``, serves task and routing commands over RPC,
chases deadlines on a timer; its events leave through the relay."""
from __future__ import annotations

import logging
from nameko.dependency_providers import Config
from nameko.timer import timer

from township_shared.consumers import DeadLetterPublisher, consumer, event_handler
from township_shared.auth import authorized
from township_shared.errors import EXPECTED, Forbidden, NotFound
from township_shared.events import load_event
from township_shared.schemas import dispatch as s
from township_shared.observability import Metrics
from township_shared.relay import EventRelay
from township_shared.service import Clock, load, rpc

from . import domain, handlers
from .dependencies import CaseStore, Routing

log = logging.getLogger(__name__)


class DispatchService:
    name = "dispatch"

    repo = CaseStore()
    clock = Clock()
    routing = Routing()
    events = EventRelay("cases")
    dead_letters = DeadLetterPublisher()
    config = Config()
    metrics = Metrics()

    def _flush(self, case):
        self.events.flush(case)

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

    @event_handler("dispatch", "case_routed", requeue_on_error=True)
    @consumer
    def learn_from_routing(self, body):
        """The office routed or re-routed a case: its text and category become the township's example."""
        event = load_event(body, "case_routed")
        handlers.learn_from_routing(self.repo, event)

    @rpc(expected_exceptions=EXPECTED)
    def list_routing_examples(self, township_id, query=None):
        """What the office's routings taught the township's classifier, and what it learned (decision 61)."""
        q = load(s.RoutingExampleQuerySchema(), query or {})
        return s.RoutingExamplesViewSchema().dump(handlers.routing_examples(self.repo, township_id, q))

    @rpc(expected_exceptions=EXPECTED)
    def undo_routing_example(self, township_id, case_id, command=None, by=domain.OFFICE):
        """The classifier forgets what the office's routing of this case taught it."""
        c = load(s.ExampleDecisionSchema(), command or {})
        doc = handlers.set_example_active(self.repo, self.clock.now(), township_id, case_id, False, by, c["reason"])
        return s.RoutingExampleViewSchema().dump(doc)

    @rpc(expected_exceptions=EXPECTED)
    def restore_routing_example(self, township_id, case_id, command=None, by=domain.OFFICE):
        """The classifier learns again from an example that was undone."""
        load(s.ExampleDecisionSchema(), command or {})
        doc = handlers.set_example_active(self.repo, self.clock.now(), township_id, case_id, True, by, None)
        return s.RoutingExampleViewSchema().dump(doc)

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
    def act_on_task(self, township_id, actor, task_id, command, args=None):
        """Run the task command named ``command`` (``s.TASK_COMMANDS``) with ``args`` loaded through its body
        schema."""
        spec = s.TASK_COMMANDS_BY_NAME.get(command)
        if spec is None:
            raise NotFound(f"no task command {command!r}", allowed=sorted(s.TASK_COMMANDS_BY_NAME))
        loaded = load(spec.body(), args)
        case = handlers.act_on_task(self.repo, self.clock.now(), self.routing.policy, township_id, actor, task_id,
                                    command, loaded)
        self._flush(case)
        task = domain.find_task(case, task_id)
        return s.TaskViewSchema().dump(handlers.task_view(case, task))

    @rpc(expected_exceptions=EXPECTED)
    def list_tasks(self, township_id, actor, query):
        q = load(s.TaskQuerySchema(), query)
        tasks = handlers.tasks_of(self.repo, township_id, actor, q.get("status"), q["limit"])
        return s.TaskViewSchema(many=True).dump(tasks)

    @rpc(expected_exceptions=EXPECTED)
    def get_case(self, township_id, actor, case_id):
        return self._view(handlers.case_for(self.repo, township_id, case_id, actor), actor)

    @rpc(expected_exceptions=EXPECTED)
    def get_timeline(self, township_id, case_id):
        return s.TimelineSchema().dump(handlers.timeline_of(self.repo, township_id, case_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_triage(self, township_id, limit=100):
        handlers.settings_or_404(self.repo, township_id)
        return [self._view(c, domain.OFFICE) for c in self.repo.triage_queue(township_id, int(limit))]

    @rpc(expected_exceptions=EXPECTED)
    def route_case(self, township_id, case_id, command, by=domain.OFFICE):
        case = handlers.route_case(self.repo, self.clock.now(), self.routing.policy, self.routing.calendar,
                                   township_id, case_id, load(s.RouteCommandSchema(), command), by)
        self._flush(case)
        return self._view(case, domain.OFFICE)

    @rpc(expected_exceptions=EXPECTED)
    def close_case(self, township_id, case_id, command, by=domain.OFFICE):
        case = handlers.close_case(self.repo, self.clock.now(), self.routing.policy, township_id, case_id,
                                   load(s.CloseCommandSchema(), command), by)
        self._flush(case)
        return self._view(case, domain.OFFICE)

    @rpc(expected_exceptions=EXPECTED)
    def whistle_case(self, township_id, case_id, command):
        case = handlers.whistle_case(self.repo, self.clock.now(), self.routing.policy, township_id, case_id,
                                     load(s.WhistleCommandSchema(), command))
        self._flush(case)
        return self._view(case, domain.OFFICE)

    @rpc(expected_exceptions=EXPECTED)
    def report_to_whistle(self, township_id, case_id, actor):
        entry = handlers.report_to_whistle(self.repo, self.clock.now(), township_id, case_id, actor)
        return s.WhistleUnitSchema().dump(entry)

    # actors ----------------------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def create_actor(self, township_id, actor):
        created = handlers.create_actor(self.repo, township_id, load(s.ActorSchema(), actor))
        return s.ActorViewSchema().dump(created)

    @rpc(expected_exceptions=EXPECTED)
    def update_actor(self, township_id, kind, actor_id, changes):
        changes = load(s.ActorUpdateSchema(partial=True), changes)  # partial: no defaults for fields not given
        updated = handlers.update_actor(self.repo, township_id, kind, actor_id, changes)
        return s.ActorViewSchema().dump(updated)

    @rpc(expected_exceptions=EXPECTED)
    def get_actor(self, township_id, kind, actor_id):
        return s.ActorViewSchema().dump(handlers.actor_or_404(self.repo, township_id, kind, actor_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_actors(self, township_id, query):
        q = load(s.ActorQuerySchema(), query)
        return s.ActorViewSchema(many=True).dump(handlers.list_actors(self.repo, township_id, q))

    # timers ----------------------------------------------------------------------------------------------------
    @timer(interval=2)
    def chase_deadlines(self):
        """Reminders before deadlines, overdue notices after them, escalation after the grace."""
        for case in handlers.fire_due_alarms(self.repo, self.clock.now(), self.routing.policy):
            self._flush(case)
