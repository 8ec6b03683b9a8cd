"""Chaos: a stream of demands through intake -> dispatch -> completion -> callback while a controller kills
services (SIGKILL) and restarts them, kills and restarts the MongoDB-compatible server, redelivers events and
publishes malformed messages. At the end every accepted demand exists exactly once, every case reached the state
its inputs imply, no task is duplicated, the figures equal a recomputation from the stored data, and every
malformed message is in the dead-letter queue. Meanwhile funded projects race for one pool that holds two thirds of
them and are paid against verified reports (their milestone_verified redelivered too): at the end the ledger
balances, the pool granted exactly what fits and never more, every granted project is paid exactly its allocation
once, and the budget report equals a recomputation from the ledger.

``make test`` runs a bounded version (CHAOS_DEMANDS, default 60); ``make test-chaos`` the full one (2,000 demands,
24 in flight, and RabbitMQ restarts with CHAOS_RABBIT=1, at most one per CHAOS_RABBIT_EVERY seconds)."""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import eventlet
import pytest
import requests
from kombu import Connection, Exchange

from township_shared.registry import services
from township_shared.testing import BrokerGuard, ServiceProcess, die_with_parent, wait_for_consumer
from township_shared.testing import as_actor

pytestmark = pytest.mark.integration

DEMANDS = int(os.environ.get("CHAOS_DEMANDS", "60"))
RESTART_RABBIT = os.environ.get("CHAOS_RABBIT") == "1"
RABBIT_EVERY = float(os.environ.get("CHAOS_RABBIT_EVERY", "45"))  # at least this many seconds between restarts
CONCURRENCY = int(os.environ.get("CHAOS_CONCURRENCY", "12"))  # demands in flight
SERVICES = [spec.module for spec in services()]
CATEGORIES = {"drinking_water": "water_station", "power_supply": "power_station", "roads_bridges": "transport_office"}
# the consumers of each malformed message's target (identity's audit trail takes every event of every service)
CONSUMERS = {("intake.events", "demand_received"): [("dispatch", "receive_demand"), ("feedback", "watch_hotspots"),
                                                    ("identity", "record_event")],
             ("dispatch.events", "task_completed"): [("feedback", "fold_task_completed"),
                                                     ("feedback", "open_callback"), ("identity", "record_event")]}
VILLAGES = ["dongpo", "xihe", "nanshan", "beiling", "taoyuan", "shiqiao", "liushu", "huaxi", "zhenjie"]
PROJECTS = max(4, DEMANDS // 10)  # funded projects racing for one pool, one started every tenth demand
PROJECT_FEN = 10_000
POOL_FEN = PROJECT_FEN * (PROJECTS * 2 // 3) + 3_000  # two thirds of them fit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mongo:
    """A SecantusDB of this test's own, on disk, so it can be killed with -9 and come back with its data."""

    def __init__(self, path: Path):
        self.path, self.port, self.proc = path, free_port(), None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self):
        binary = str(Path(sys.executable).parent / "secantusd-py")
        self.proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(self.port), "--storage-path",
                                      str(self.path), "--log-level", "ERROR", "--sync-on-commit"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 60  # 30 s was not enough once with the machine at a load of 11
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("SecantusDB did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


class Stack:
    def __init__(self, config: dict, mongo: Mongo, http_port: int, log_dir: Path):
        self.config, self.mongo, self.http_port, self.log_dir = config, mongo, http_port, log_dir
        self.procs: dict[str, ServiceProcess] = {}
        self.base = f"http://127.0.0.1:{http_port}"

    def start(self, module: str):
        env = {"HTTP_PORT": str(self.http_port), "LOG_FORMAT": "plain", "LOG_LEVEL": "WARNING",
               "FUNDS_RECOVERY_SECONDS": "5"}  # an allocation a killed funds left under way is abandoned soon
        self.procs[module] = ServiceProcess(module, self.config, env,
                                            self.log_dir / f"{module}.log").start()

    def kill(self, module: str):
        self.procs[module].kill()

    def stop_all(self):
        for proc in self.procs.values():
            proc.kill()


STATUSES: Counter = Counter()  # every answer the clients got, by status


def call(method, url, ok=(200, 201), accept=(), tries=120, **kw):
    """Retry like a patient client (same Idempotency-Key) until the system answers."""
    for _ in range(tries):
        try:
            res = requests.request(method, url, timeout=20, **kw)
            STATUSES[res.status_code] += 1
            if res.status_code in ok or res.status_code in accept:
                return res
        except requests.RequestException:
            pass
        eventlet.sleep(0.5)
    raise AssertionError(f"{method} {url} never succeeded")


@pytest.fixture
def chaos(tmp_path, rabbit_config, rabbit_manager, db_prefix):
    mongo = Mongo(tmp_path / "mongo")
    mongo.start()
    config = {**rabbit_config, "MONGODB_URI": mongo.uri, "MONGODB_DB_PREFIX": db_prefix, "OUTBOX_GRACE_SECONDS": 1}
    from township_shared.mongo import make_client

    client = make_client(mongo.uri)
    for spec in services():
        spec.load_demo(client[f"{db_prefix}_{spec.name}"])
    client.close()
    stack = Stack(config, mongo, free_port(), tmp_path)
    for module in SERVICES:
        stack.start(module)
    for queue in ("rpc-intake", "rpc-dispatch", "rpc-feedback", "rpc-funds",
                  "evt-intake-demand_received--dispatch.receive_demand"):
        wait_for_consumer(rabbit_manager, rabbit_config["vhost"], queue, timeout=60)
    call("GET", f"{stack.base}/health")
    yield stack
    stack.stop_all()
    mongo.kill()


@pytest.fixture
def broker():
    """Stops and starts the machine's RabbitMQ (CHAOS_RABBIT=1) and starts it again however the run ends: a failure,
    Ctrl-C, a timeout, even SIGKILL (:class:`~township_shared.testing.BrokerGuard`)."""
    with BrokerGuard() as guard:
        yield guard


@pytest.mark.timeout(300 + 3 * DEMANDS)
def test_nothing_is_lost_under_chaos(chaos, rabbit_config, event_listener, broker):
    stack = chaos
    seen_demands = event_listener("intake", "demand_received")
    seen_completions = event_listener("dispatch", "task_completed")
    seen_milestones = event_listener("feedback", "milestone_verified")
    malformed_kinds = Counter()
    malformed_targets: list[tuple[str, str]] = []  # the n-th malformed message carries "chaos-bad-<n>"
    undecodable: dict[str, int] = {}  # SHA-256 of an undecodable body -> its n (its letters keep only the hash)
    base = stack.base
    office = as_actor("office")
    accepted: dict[int, str] = {}
    resolved: set[str] = set()
    malformed = 0
    faults = Counter()
    done = eventlet.event.Event()
    seed = int(os.environ.get("CHAOS_SEED", "20261129"))
    rng = random.Random(seed)

    def life(i: int):
        category = list(CATEGORIES)[i % len(CATEGORIES)]
        village = VILLAGES[i % len(VILLAGES)]
        unit = as_actor(f"unit:{CATEGORIES[category]}")
        body = {"channel": "hotline", "reporter": {"name": f"居民{i}", "phone": f"1390{i:07d}", "village": village},
                "village": village, "category": category, "title": f"混沌测试 {i}", "description": "chaos"}
        res = call("POST", f"{base}/api/v1/demands", json=body, headers={"Idempotency-Key": f"chaos-{i}"})
        case_id = res.json()["id"]
        accepted[i] = case_id
        case = None
        for _ in range(240):
            res = call("GET", f"{base}/api/v1/cases/{case_id}", headers=office, accept=(404,))
            if res.status_code == 200 and res.json()["tasks"]:
                case = res.json()
                break
            eventlet.sleep(0.5)
        assert case, f"case {case_id} never routed"
        task = case["tasks"][0]["id"]
        command(f"{base}/api/v1/tasks/{task}/sign", unit, {}, ("signed", "in_progress", "completed"))
        command(f"{base}/api/v1/tasks/{task}/complete", unit, {"reply": "done"}, ("completed",))
        if i % 2:
            return
        for _ in range(240):
            items = call("GET", f"{base}/api/v1/callbacks", headers=office,
                         params={"case_id": case_id}).json()["items"]
            mine = [c for c in items if c["case_id"] == case_id]
            if mine:
                call("POST", f"{base}/api/v1/callbacks/{mine[0]['id']}/answer", headers=office, accept=(409,),
                     json={"resolved": True, "satisfaction": "satisfied"})
                resolved.add(case_id)
                return
            eventlet.sleep(0.5)
        case = call("GET", f"{base}/api/v1/cases/{case_id}", headers=office).json()
        raise AssertionError(f"no callback for {case_id}: {case['status']} {[t['status'] for t in case['tasks']]} "
                             f"{[h['what'] for h in case['history']]} faults so far {dict(faults)}; "
                             f"dead letters other than the test's: {unexpected_dead_letters()}")

    granted: dict[int, str] = {}  # project life -> project id, by the allocation's answer
    refused: dict[int, str] = {}
    org = as_actor("social_org:so_sunshine_elderly")

    def until(method, url, headers, body, taken):
        """Retried like ``command``: a 409 counts only if ``taken(answer)`` says an earlier try already did it."""
        for _ in range(240):
            res = call(method, url, json=body, headers=headers, accept=(409,))
            if res.status_code in (200, 201) or taken(res.json()):
                return res
            eventlet.sleep(0.5)
        raise AssertionError(f"{url}: {res.text}")

    def report(project_id, body):
        res = call("POST", f"{base}/api/v1/reports", headers=org, json={
            "project": project_id, "village": "dongpo", "text": "混沌测试", "people_served": 3, "hours": 5.0,
            "evidence_urls": ["https://example.org/chaos.jpg"], **body})
        until("POST", f"{base}/api/v1/reports/{res.json()['id']}/review", office,
              {"verified": True, "reason": "核实"}, lambda answer: answer.get("status") == "verified")

    def project_life(i: int):
        """Propose, approve, allocate from the contended pool; a granted project reports its milestone and its
        completion and must end paid exactly its allocation."""
        proposal = {"title": f"混沌项目 {i}", "village": "dongpo", "category": "elderly_care",
                    "requested_fen": PROJECT_FEN, "advance_percent": 30,
                    "milestones": [{"name": "m1", "share_percent": 40, "due": "2027-06-30"}]}
        pid = call("POST", f"{base}/api/v1/projects", json=proposal,
                   headers={**org, "Idempotency-Key": f"chaos-p-{i}"}).json()["id"]
        until("POST", f"{base}/api/v1/projects/{pid}/review", office, {"decision": "approve"},
              lambda answer: answer.get("status") == "approved")
        res = until("POST", f"{base}/api/v1/projects/{pid}/allocations",
                    {**office, "Idempotency-Key": f"chaos-a-{i}"},
                    {"parts": [{"pool": "chaos", "amount_fen": PROJECT_FEN}]},
                    lambda answer: "available_fen" in answer)  # refused: the pool is spent (else: retry)
        if res.status_code != 201:
            refused[i] = pid
            return
        granted[i] = pid
        report(pid, {"kind": "milestone", "milestone": "m1"})
        report(pid, {"kind": "completion"})
        for _ in range(240):
            project = call("GET", f"{base}/api/v1/projects/{pid}", headers=office).json()
            if project["status"] == "completed":
                return
            eventlet.sleep(0.5)
        raise AssertionError(f"project {pid} not paid in full: {project}")

    def unexpected_dead_letters():
        got = call("GET", f"{base}/api/v1/dead-letters", headers=office, params={"limit": 500}).json()["items"]
        return [(d.get("service"), d.get("handler"), d.get("error"), d.get("reason")) for d in got
                if "chaos-bad-" not in json.dumps(d.get("body"), ensure_ascii=False)]

    def command(url, headers, body, done_states):
        """A task command retried until it took: a 409 counts only if an earlier try already moved the task."""
        for _ in range(240):
            res = call("POST", url, json=body, headers=headers, accept=(409,))
            if res.status_code == 200 or res.json().get("status") in done_states:
                return
            eventlet.sleep(0.5)
        raise AssertionError(f"{url}: {res.text}")

    def publish(exchange: str, routing_key: str, body, **kw) -> bool:
        """Persistent, confirmed: a message the broker lost in a restart would look like one a service dropped."""
        ex = Exchange(exchange, type="topic", durable=True)
        try:
            with Connection(rabbit_config["AMQP_URI"], transport_options={"confirm_publish": True}) as conn:
                conn.Producer().publish(body, exchange=ex, routing_key=routing_key, declare=[ex], delivery_mode=2,
                                        retry=False, **kw)
            return True
        except Exception:
            faults["publish_failed"] += 1
            return False

    def controller():
        nonlocal malformed
        last_rabbit = time.monotonic()
        while not done.ready():
            eventlet.sleep(rng.uniform(0.7, 2.0))
            rabbit_due = RESTART_RABBIT and time.monotonic() - last_rabbit >= RABBIT_EVERY
            action = rng.choice(["kill_service", "kill_service", "kill_mongo", "malformed", "redeliver"]
                                + (["restart_rabbit"] * 3 if rabbit_due else []))
            faults[action] += 1
            if action == "kill_service":
                module = rng.choice(SERVICES)
                stack.kill(module)
                eventlet.sleep(rng.uniform(0.2, 1.5))
                stack.start(module)
            elif action == "kill_mongo":
                stack.mongo.kill()
                eventlet.sleep(rng.uniform(0.5, 2.0))
                stack.mongo.start()
            elif action == "restart_rabbit":
                broker.stop()
                eventlet.sleep(rng.uniform(0.5, 2.0))
                broker.start()
                last_rabbit = time.monotonic()
            elif action == "malformed":
                # each target has three consumers (CONSUMERS), so each malformed message makes three dead letters
                exchange, key = rng.choice([("intake.events", "demand_received"), ("dispatch.events",
                                                                                   "task_completed")])
                kind = rng.choice(["envelope", "payload", "undecodable"])
                if kind == "undecodable":
                    raw = f"\x00{{not json chaos-bad-{malformed}".encode()
                    undecodable[hashlib.sha256(raw).hexdigest()] = malformed  # a letter keeps only the hash
                    ok = publish(exchange, key, raw, content_type="application/json", content_encoding="binary")
                elif kind == "payload":
                    envelope = {"id": f"chaos-bad-{malformed}", "type": key, "version": 1,
                                "time": "2026-11-29T08:00:00+00:00", "source": exchange.split(".")[0],
                                "correlation_id": f"chaos-bad-{malformed}", "township_id": "qingshui",
                                "payload": {"unexpected": True}}
                    ok = publish(exchange, key, envelope, serializer="json")
                else:
                    ok = publish(exchange, key, ["not", "an", "envelope", f"chaos-bad-{malformed}"],
                                 serializer="json")
                if ok:
                    malformed += 1
                    malformed_kinds[kind] += 1
                    malformed_targets.append((exchange, key))
            else:
                source = rng.choice([seen_demands, seen_completions, seen_milestones])
                got = [b for b in source.collect(50, timeout=0.2)
                       if isinstance(b, dict) and "source" in b and not str(b.get("id")).startswith("chaos-bad-")]
                if got:
                    body = rng.choice(got)
                    publish(f"{body['source']}.events", body["type"], body, serializer="json")

    chaos_thread = eventlet.spawn(controller)
    failed_lives: list[str] = []

    def guarded_life(i: int):
        try:
            life(i)
        except Exception as exc:  # collected: an exception in a green thread would only be printed
            failed_lives.append(f"demand {i}: {exc}"[:2000])

    def guarded_project(i: int):
        try:
            project_life(i)
        except Exception as exc:
            failed_lives.append(f"project {i}: {exc}"[:2000])

    call("POST", f"{base}/api/v1/pools", headers=office, accept=(409,), json={
        "code": "chaos", "name": "混沌测试资金池", "year": 2026, "source": "venture_philanthropy",
        "budget_fen": POOL_FEN})
    pool = eventlet.GreenPool(CONCURRENCY)
    try:
        for i in range(DEMANDS):
            pool.spawn_n(guarded_life, i)
            if i % 10 == 0 and i // 10 < PROJECTS:
                pool.spawn_n(guarded_project, i // 10)
            eventlet.sleep(0.05)
        for i in range(min(PROJECTS, (DEMANDS + 9) // 10), PROJECTS):  # the rest, when there are few demands
            pool.spawn_n(guarded_project, i)
        pool.waitall()
    finally:  # a failing demand must not leave the controller restarting services after teardown
        done.send(True)
        chaos_thread.wait()
    for module in SERVICES:  # everything up again
        if stack.procs[module].proc.poll() is not None:
            stack.start(module)
    if stack.mongo.proc.poll() is not None:
        stack.mongo.start()
    eventlet.sleep(8)

    assert not failed_lives, f"{len(failed_lives)} demands did not go through: {failed_lives[:5]}"

    from township_shared.mongo import make_client
    client = make_client(stack.mongo.uri)
    prefix = stack.config["MONGODB_DB_PREFIX"]
    intake_cases = client[f"{prefix}_intake"]["cases"]
    dispatch_cases = client[f"{prefix}_dispatch"]["cases"]
    keys = Counter(d["idempotency_key"] for d in intake_cases.find({}, {"idempotency_key": 1}))
    assert len(accepted) == DEMANDS
    assert all(keys[f"client:chaos-{i}"] == 1 for i in range(DEMANDS)), "a demand stored twice or lost"
    assert intake_cases.count_documents({}) == DEMANDS
    routed = {c["_id"]: c for c in dispatch_cases.find({})}
    assert set(routed) == set(accepted.values()), "a case missing in dispatch"
    for case in routed.values():
        assert len(case["tasks"]) == 1, f"tasks duplicated on {case['case_number']}"
        assert case["tasks"][0]["status"] == "completed"
        expected = "closed" if case["_id"] in resolved else "completed"
        deadline = time.monotonic() + 20
        while case["status"] != expected and time.monotonic() < deadline:
            eventlet.sleep(0.5)
            case = dispatch_cases.find_one({"_id": case["_id"]})
        assert case["status"] == expected, f"{case['case_number']} is {case['status']}, expected {expected}"

    figures = client[f"{prefix}_feedback"]["figures"]
    deadline = time.monotonic() + 30
    while True:
        folded = Counter()
        for doc in figures.find({}):
            for key, counters in doc.get("c", {}).get("actor", {}).items():
                for counter in ("dispatched", "signed", "completed", "callbacks_reached"):
                    folded[(key, counter)] += counters.get(counter, 0)
        recomputed = Counter()
        for case in dispatch_cases.find({}):
            for task in case["tasks"]:
                recomputed[(task["assignee_key"], "dispatched")] += 1
                recomputed[(task["assignee_key"], "signed")] += bool(task.get("signed_at"))
                recomputed[(task["assignee_key"], "completed")] += task["status"] == "completed"
                recomputed[(task["assignee_key"], "callbacks_reached")] += case["_id"] in resolved
        if +folded == +recomputed or time.monotonic() > deadline:
            break
        eventlet.sleep(1)
    assert +folded == +recomputed, f"figures differ from the stored tasks: {folded} vs {recomputed}"

    def still_pending():
        return {f"{db}.{name}": n for db in (spec.name for spec in services())
                for name in client[f"{prefix}_{db}"].list_collection_names()
                if (n := client[f"{prefix}_{db}"][name].count_documents({"outbox_since": {"$exists": True}}))}
    deadline = time.monotonic() + 30
    while (pending := still_pending()) and time.monotonic() < deadline:
        eventlet.sleep(1)
    assert not pending, f"events never published (outboxes still pending): {pending}"

    check_funds(client[f"{prefix}_funds"], base, office, granted, refused)

    letters = []
    with Connection(stack.config["AMQP_URI"]) as conn:
        channel = conn.channel()
        while (message := channel.basic_get("township.dead_letters", no_ack=True)) is not None:
            letters.append(json.loads(message.body))
    expected = {(service, handler, n) for n, target in enumerate(malformed_targets)
                for service, handler in CONSUMERS[target]}
    got, unexpected = Counter(), []
    for letter in letters:
        tag = re.search(r"chaos-bad-(\d+)", json.dumps(letter.get("body"), ensure_ascii=False))
        number = int(tag.group(1)) if tag else undecodable.get(letter.get("sha256"))
        if number is not None:
            got[(letter["service"], letter["handler"], number)] += 1
        else:
            unexpected.append({k: letter.get(k) for k in ("service", "handler", "error", "reason")})
    assert not unexpected, f"dead letters the test did not cause: {unexpected}"
    assert STATUSES[500] == 0, f"the API answered 500 under faults (503/504 expected): {dict(STATUSES)}"
    assert set(got) == expected, f"missing {expected - set(got)}, surplus {set(got) - expected}"
    repeated = sum(got.values()) - len(got)
    crashes = faults["kill_service"] + faults["restart_rabbit"]
    # a consumer killed between recording a dead letter and acknowledging the message records it again on
    # redelivery (at least once); a loop would record it without end
    assert repeated <= 10 * crashes, f"{repeated} repeated dead letters after {crashes} crashes"
    print(f"\nchaos: seed={seed} demands={DEMANDS} accepted={len(accepted)} resolved={len(resolved)} "
          f"faults={dict(faults)} malformed={malformed} {dict(malformed_kinds)} dead_letters={len(letters)} "
          f"(distinct {len(got)}, repeated after a crash {repeated}) http={dict(sorted(STATUSES.items()))}")


def check_funds(db, base, office, granted: dict[int, str], refused: dict[int, str]) -> None:
    """The ledger invariants after the chaos (decision 65): once the recovery has given back or settled every hold
    and moved every entry, the ledger balances, the contended pool granted exactly what fits and its figures are
    the ledger's, every granted project was paid its allocation exactly once, and the budget report is a
    recomputation of the ledger."""
    from funds import ledger

    assert len(granted) + len(refused) == PROJECTS
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (db.pools.count_documents({"pending_n": {"$gt": 0}})
                                           or db.projects.count_documents({"attention_since": {"$exists": True}})
                                           or db.pools.count_documents({"journal_since": {"$exists": True}})
                                           or db.projects.count_documents({"journal_since": {"$exists": True}})):
        eventlet.sleep(1)
    entries = list(db.ledger.find({"township_id": "qingshui"}))
    assert all(isinstance(e["amount_fen"], int) and e["amount_fen"] > 0 for e in entries)
    assert sum(ledger.balances(entries).values()) == 0, "the ledger does not balance"
    pool = db.pools.find_one({"township_id": "qingshui", "code": "chaos"})
    figures = ledger.pool_figures(ledger.totals(entries))["chaos"]
    assert not pool["pending"], f"holds never settled or given back: {pool['pending']}"
    assert (pool["budget_fen"], pool["available_fen"]) == (figures["budget_fen"], figures["available_fen"])
    assert len(granted) == min(PROJECTS, POOL_FEN // PROJECT_FEN), f"granted {len(granted)} of {PROJECTS}"
    assert figures["committed_fen"] == len(granted) * PROJECT_FEN <= POOL_FEN
    for project_id in granted.values():
        project = db.projects.find_one({"_id": project_id})
        own = ledger.project_figures([e for e in entries if e.get("project") == project_id])
        assert project["status"] == "completed" and not project.get("inflight")
        assert own["pools"] == {"chaos": {"allocated_fen": PROJECT_FEN, "paid_fen": PROJECT_FEN, "released_fen": 0}}
        # the advance on allocation; the milestone's 4,000 unless its event came after the completion's (their
        # queues are not ordered: then the completion paid all that was left, and the milestone nothing more)
        assert own["keys"] in ({"advance": 3_000, "milestone:m1": 4_000, "completion": 3_000},
                               {"advance": 3_000, "completion": 7_000}), own["keys"]
        keys = [p["key"] for p in project["payments"] if not p["reversed"]]
        assert len(keys) == len(set(keys)) == len(own["keys"]), f"a payment made twice: {keys}"
    for project_id in refused.values():
        assert not [e for e in entries if e.get("project") == project_id], f"refused {project_id} got money"
    pools = {p["code"]: {"code": p["code"], "year": p["year"], "source": p["source"],
                         "owner_village": p.get("owner_village")} for p in db.pools.find({"township_id": "qingshui"})}
    recomputed = ledger.report(ledger.totals(entries), pools, "pool", None)
    report = call("GET", f"{base}/api/v1/budget-report", headers=office, params={"by": "pool"}).json()["items"]
    assert report == recomputed, "the budget report differs from a recomputation from the ledger"
    print(f"\nchaos funds: projects={PROJECTS} granted={len(granted)} refused={len(refused)} "
          f"ledger_entries={len(entries)} pool_committed={figures['committed_fen']} of {POOL_FEN}")
