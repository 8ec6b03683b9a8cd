"""Three instances of dispatch and of feedback on the real broker and database (decision 81): competing consumers
share the queues, no case is processed twice, a hotspot is raised once per cluster, and every timer duty is done
once across the instances, by the one holding its lease; when that instance dies, another takes the duty over and
still does it once.

Each instance is its own nameko container (its own connections and consumers, as a separate process would have);
the service classes are the real ones with a recorder of which instance ran which worker added
(:class:`Recorder`)."""
import functools
import time
from collections import Counter, defaultdict

import pytest
import requests

from township_shared.testing import wait_for as shared_wait_for
from nameko.extensions import DependencyProvider
from nameko.testing.services import replace_dependencies

from township_shared.events import load_event
from township_shared.lease import Duties, holder_of
from township_shared.registry import service
from township_shared.relay import EventRelay

pytestmark = pytest.mark.integration

INSTANCES = 3
DEMANDS = 24
LEASE_SECONDS = 3
VILLAGES = ["dongpo", "xihe"]


class Recorder(DependencyProvider):
    """Notes, for every worker, the instance (container) that ran it."""

    runs: dict[str, list[tuple[str, str]]] = defaultdict(list)

    def worker_setup(self, worker_ctx):
        Recorder.runs[self.container.service_name].append((holder_of(self.container),
                                                           worker_ctx.entrypoint.method_name))


def recorded(name):
    return type(f"Recorded{name.title()}", (service(name).service_class(),), {"recorder": Recorder()})


def of(container, cls):
    return next(d for d in container.extensions if isinstance(d, cls))


wait_for = functools.partial(shared_wait_for, timeout=30.0, interval=0.2)

@pytest.fixture
def scaled(runner_factory, container_factory, service_config, demo, dispatch_clock):
    """intake, identity and the gateway once; dispatch and feedback three times each."""
    Recorder.runs.clear()
    config = {**service_config, "LEASE_SECONDS": LEASE_SECONDS}
    for spec_name in ("intake", "dispatch", "feedback", "identity"):
        demo(spec_name)
    runner = runner_factory(config, *(service(n).service_class() for n in ("intake", "identity", "gateway")))
    instances = {"dispatch": [], "feedback": []}
    for name in instances:
        for _ in range(INSTANCES):
            container = container_factory(recorded(name), config)
            if name == "dispatch":
                replace_dependencies(container, clock=dispatch_clock)
            instances[name].append(container)
    for containers in instances.values():
        for container in containers:
            container.start()
    runner.start()
    return instances


def submit(base, i):
    body = {"channel": "hotline", "reporter": {"name": "张三", "phone": f"1381234{i:04d}",
                                               "village": VILLAGES[i % 2]},
            "village": VILLAGES[i % 2], "category": "drinking_water", "title": f"停水 {i}",
            "description": f"第{i}户停水了"}
    res = requests.post(f"{base}/api/v1/demands", json=body, timeout=15)
    assert res.status_code == 201, res.text
    return res.json()["id"]


def distinct(listener, seconds, types):
    """The events of ``types`` arriving within ``seconds``, each event id once (delivery is at least once)."""
    events = {}
    for body in listener.collect(10**6, seconds):
        event = load_event(body)
        if event.type in types:
            events[event.id] = event
    return list(events.values())


def holders(containers, duty):
    return [c for c in containers if of(c, Duties).rounds.get(duty)]


def test_three_instances_process_each_case_once_and_timer_duties_once(
        scaled, http_base, event_listener, dispatch_clock, mongo_client, db_prefix):
    listener = event_listener("dispatch")
    hotspots = event_listener("feedback", "hotspot_detected")
    cases = [submit(http_base, i) for i in range(DEMANDS)]

    db = mongo_client[f"{db_prefix}_dispatch"]
    routed = wait_for(lambda: db.cases.count_documents({"_id": {"$in": cases}, "tasks.0": {"$exists": True}})
                      == DEMANDS, what="every demand routed to a task")
    assert routed
    first = distinct(listener, 3, {"case_routed", "task_assigned"})
    routings = Counter(e.correlation_id for e in first if e.type == "case_routed")
    assert set(routings) == set(cases) and set(routings.values()) == {1}, "a case routed twice, or not at all"
    tasks = {(e.correlation_id, e.payload["task_id"]) for e in first if e.type == "task_assigned"}
    assert len(tasks) == len([e for e in first if e.type == "task_assigned"]) >= DEMANDS
    for case in db.cases.find({"_id": {"$in": cases}}, {"history": 1}):
        assigned = [h for h in case["history"] if h["what"].startswith("assigned to")]
        assert len(assigned) == len({h["task_id"] for h in assigned}), f"{case['_id']}: a task assigned twice"

    # competing consumers: the demands were shared among the dispatch instances
    handled = Counter(who for who, method in Recorder.runs["dispatch"] if method == "receive_demand")
    assert sum(handled.values()) == DEMANDS, "each demand_received handled once"
    assert len(handled) >= 2, f"one instance took every demand: {handled}"

    # feedback folded each task_assigned once into the figures, whichever instance consumed it
    feedback_db = mongo_client[f"{db_prefix}_feedback"]

    def dispatched():
        return sum(row.get("dispatched", 0) for doc in feedback_db.figures.find({"township_id": "qingshui"})
                   for row in doc.get("c", {}).get("village", {}).values())
    wait_for(lambda: dispatched() == len(tasks), what="the figures count every task once")
    time.sleep(2 * LEASE_SECONDS)
    assert dispatched() == len(tasks)

    # hotspot windows: each village's cluster of drinking-water demands raised once, whichever instances saw them
    raised = distinct(hotspots, 3, {"hotspot_detected"})
    assert sorted(e.payload["village"] for e in raised) == sorted(VILLAGES)

    # timer duties: one instance of each service holds each duty and is the only one that did rounds
    dispatchers, feedbacks = scaled["dispatch"], scaled["feedback"]
    (chaser,) = holders(dispatchers, "chase_deadlines")
    assert len(holders(feedbacks, "fold_figures")) == 1
    sweepers = [c for c in dispatchers if of(c, EventRelay).sweeps]
    assert len(sweepers) == 1, "one dispatch instance sweeps the outboxes"

    # reminders: each task reminded once, across three instances whose timers all tick
    dispatch_clock.advance(minutes=91)   # drinking water: utilities, signed within 120 minutes; reminded at 90
    reminded = distinct(listener, 2 * LEASE_SECONDS + 4, {"task_reminder_due"})
    per_task = Counter((e.correlation_id, e.payload["task_id"]) for e in reminded)
    assert set(per_task) == tasks and set(per_task.values()) == {1}

    # the holder dies: another instance takes the duty over after the lease runs out, and does it once
    chaser.kill()
    dispatch_clock.advance(minutes=30)   # past the sign deadline
    overdue = distinct(listener, 3 * LEASE_SECONDS + 6, {"task_overdue"})
    per_task = Counter((e.correlation_id, e.payload["task_id"]) for e in overdue)
    assert set(per_task) == tasks and set(per_task.values()) == {1}
    alive = [c for c in dispatchers if c is not chaser]
    (successor,) = holders(alive, "chase_deadlines")
    assert holder_of(successor) != holder_of(chaser)
    lease = db.leases.find_one({"_id": "chase_deadlines"})
    assert lease["holder"] == holder_of(successor) and lease["term"] >= 2
