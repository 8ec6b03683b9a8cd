"""pytest plugin shared by every service's tests: real backing services, isolated per test.

- each test gets its own RabbitMQ vhost (nameko's ``rabbit_config``) and its own database prefix on the
  MongoDB-compatible server at ``MONGODB_URI`` (``make test`` starts a throwaway one), dropped afterwards;
- ``service_config`` merges both with the product's defaults, ready for ``container_factory`` / ``runner_factory``;
- ``demo("intake")`` loads a service's demo data into this test's database (``services.toml``);
- ``event_listener`` binds a queue to a service's event exchange before the test acts, so no event is missed.
"""
from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from typing import Any, Callable

import pytest

DEFAULT_TEST_MONGODB_URI = "mongodb://127.0.0.1:27018"


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    return os.environ.get("MONGODB_URI", DEFAULT_TEST_MONGODB_URI)


@pytest.fixture(scope="session")
def mongo_client(mongo_uri):
    from township_shared.mongo import make_client

    client = make_client(mongo_uri, serverSelectionTimeoutMS=3000)
    try:
        client.admin.command("ping")
    except Exception as exc:
        pytest.exit(f"no MongoDB-compatible server at {mongo_uri} ({exc}); run the suite with `make test`", 3)
    yield client
    client.close()


@pytest.fixture
def db_prefix(mongo_client):
    """A database prefix of this test's own; its databases are dropped when the test ends."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield prefix
    for name in mongo_client.list_database_names():
        if name.startswith(prefix + "_"):
            mongo_client.drop_database(name)


@pytest.fixture
def demo(mongo_client, db_prefix):
    """``demo("intake")``: that service's repository on this test's own database with the demo county's data
    loaded by its ``services.toml`` demo loader, once per test (None for a service without demo data)."""
    from .registry import service

    loaded: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in loaded:
            loaded[name] = service(name).load_demo(mongo_client[f"{db_prefix}_{name}"])
        return loaded[name]

    return load


# tests post many demands from one address and phone; the tests of the limits set their own (decision 55)
NO_SUBMISSION_LIMITS = {"RATE_LIMIT_PER_ADDRESS": 0, "RATE_LIMIT_PER_PHONE": 0}


@pytest.fixture(scope="session")
def bus_admin(request):
    """RabbitMQ's management API as the test broker's administrator; the services' users exist (decision 50)."""
    from .bus import Admin, provision_users

    admin = Admin(request.config.getoption("RABBIT_API_URI"))
    provision_users(admin)
    return admin


@pytest.fixture
def rabbit_config(rabbit_config, bus_admin):
    """nameko's vhost of this test, in which every service of ``services.toml`` has its user's permissions and the
    exchanges are declared (``township_shared.bus.provision_vhost``), as on a real broker."""
    from .bus import provision_vhost

    provision_vhost(bus_admin, rabbit_config["vhost"])
    return rabbit_config


@pytest.fixture
def service_config(rabbit_config, web_config, mongo_uri, db_prefix) -> dict[str, Any]:
    """What ``nameko run --config config.yaml`` would give a service in this test: each service of
    ``services.toml`` connects to this test's vhost as its own broker user (``SERVICE_CONTAINER_CLS``)."""
    return {
        "SERVICE_CONTAINER_CLS": "township_shared.bus.ServiceContainer",
        **rabbit_config,
        **web_config,
        "MONGODB_URI": mongo_uri,
        "MONGODB_DB_PREFIX": db_prefix,
        "DEFAULT_TOWNSHIP_ID": "qingshui",
        "MAX_BODY_BYTES": 65536,
        "OUTBOX_GRACE_SECONDS": 0.5,
        **NO_SUBMISSION_LIMITS,
        "TOKEN_CACHE_SECONDS": 0,  # a revoked token is refused at once (tests revoke and retry)
    }


@pytest.fixture
def http_base(web_config) -> str:
    return f"http://{web_config['WEB_SERVER_ADDRESS']}"


class EventListener:
    """Collects the events a service publishes on its ``<service>.events`` exchange into a queue.

    It survives a restart of RabbitMQ (chaos tests): it reconnects and declares its queue again; what was published
    while it was away is missed."""

    def __init__(self, amqp_uri: str, source: str, routing_key: str = "#"):
        from kombu import Exchange, Queue

        self.amqp_uri = amqp_uri
        self.events: queue.Queue = queue.Queue()
        exchange = Exchange(f"{source}.events", type="topic", durable=True)
        self.queue = Queue(f"test-listener-{uuid.uuid4().hex[:8]}", exchange, routing_key=routing_key,
                           exclusive=True, auto_delete=True)
        self._connect()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _connect(self):
        from kombu import Connection

        self.connection = Connection(self.amqp_uri)
        self.consumer = self.connection.Consumer([self.queue], callbacks=[self._on_message], accept=["json"])
        self.consumer.consume()

    def _on_message(self, body, message):
        self.events.put(body)
        message.ack()

    def _drain(self):
        import socket
        import time

        while not self._stop.is_set():
            try:
                self.connection.drain_events(timeout=0.2)
            except socket.timeout:
                continue
            except Exception:
                if self._stop.is_set():
                    return
                try:
                    self.connection.release()
                except Exception:
                    pass
                time.sleep(0.5)
                try:
                    self._connect()
                except Exception:
                    continue

    def next(self, timeout: float = 10.0) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def collect(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        import time

        deadline, got = time.monotonic() + timeout, []
        while len(got) < count and time.monotonic() < deadline:
            try:
                got.append(self.events.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                break
        return got

    def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (to prove that nothing more does)."""
        return self.collect(10**6, seconds)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.connection.release()


@pytest.fixture
def event_listener(rabbit_config):
    """``event_listener("intake", "demand_received")`` returns a started :class:`EventListener`."""
    listeners: list[EventListener] = []

    def make(source: str, routing_key: str = "#") -> EventListener:
        listener = EventListener(rabbit_config["AMQP_URI"], source, routing_key)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()


def die_with_parent() -> None:
    """``preexec_fn`` for a process a test starts: the kernel sends it SIGKILL when the test process ends, however
    it ends (pytest-timeout's ``os._exit``, a SIGKILL, a crash), so a service or server never outlives its test run
    and holds ports and CPU for the next one (Linux ``PR_SET_PDEATHSIG``; a no-op elsewhere)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ServiceProcess:
    """A service run by ``nameko run`` in its own process, as in production, so a test can SIGKILL it.

    Its output goes to ``log_path`` (appended across restarts; a temporary file unless given), never to a pipe:
    nobody would read the pipe, and a service that logs enough (a broker restart does) would block on it."""

    def __init__(self, module: str, config: dict[str, Any], extra_env: dict[str, str] | None = None,
                 log_path: "str | os.PathLike | None" = None):
        import tempfile

        from .registry import services

        self.module = module
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix=f"{module}-", suffix=".log")
            os.close(fd)
        self.log_path = str(log_path)
        self.env = {
            **os.environ,
            "AMQP_URI": config["AMQP_URI"],
            "MONGODB_URI": config["MONGODB_URI"],
            "MONGODB_DB_PREFIX": config["MONGODB_DB_PREFIX"],
            "OUTBOX_GRACE_SECONDS": str(config.get("OUTBOX_GRACE_SECONDS", 1)),
            **{spec.metrics_variable: "0" for spec in services() if spec.metrics_variable},
            **{key: str(value) for key, value in NO_SUBMISSION_LIMITS.items()},
            **(extra_env or {}),
        }
        self.proc = None

    def start(self) -> "ServiceProcess":
        import subprocess
        import sys
        from pathlib import Path

        from township_shared.config import DEFAULT_CONFIG_PATH

        nameko = str(Path(sys.executable).parent / "nameko")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([nameko, "run", "--config", str(DEFAULT_CONFIG_PATH), self.module],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent)
        return self

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the service's output, for a failure message."""
        with open(self.log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - chars))
            return log.read().decode("utf-8", errors="replace")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait(timeout=10)

    def returncode(self, timeout: float) -> int | None:
        import subprocess

        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def wait_for(fetch: Callable[[], Any], check: Callable[[Any], Any] = bool, timeout: float = 15.0,
             interval: float = 0.1, what: str = "condition") -> Any:
    """Call ``fetch`` until ``check`` accepts what it returns (by default: until it is truthy) and return that;
    AssertionError with the last value after ``timeout`` seconds. Consumers run asynchronously: a test waits for
    what they write instead of sleeping a guess."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fetch()
        if check(value):
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached in {timeout:g} s; last value: {str(value)[:500]}")


def take_dead_letters(amqp_uri: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Take (acknowledge) up to ``count`` letters from ``township.dead_letters``, waiting up to ``timeout``."""
    import json

    from kombu import Connection

    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        while len(got) < count and time.monotonic() < deadline:
            message = channel.basic_get("township.dead_letters", no_ack=True)
            if message is None:
                time.sleep(0.1)
                continue
            got.append(json.loads(message.body))
    return got


def wait_for_consumer(rabbit_manager, vhost: str, queue_name: str, timeout: float = 30.0) -> None:
    """Block until ``queue_name`` in ``vhost`` has a consumer (a started service listens on it)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if rabbit_manager.get_queue(vhost, queue_name).get("consumers", 0) > 0:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"nothing consumes {queue_name} in vhost {vhost} after {timeout} s")


@pytest.fixture
def service_process(service_config):
    """``service_process("intake.service", FAULT_CRASH_AT=...)`` starts a service process; all are killed after."""
    procs: list[ServiceProcess] = []

    def start(module: str, **extra_env: str) -> ServiceProcess:
        proc = ServiceProcess(module, service_config, extra_env).start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


_BROKER_WATCHDOG = r"""
import json, subprocess, sys
commands, state = json.loads(sys.argv[1]), "started"
for line in sys.stdin:  # one line per change of state; EOF when the guarded process ends, however it ends
    state = line.strip() or state
if state == "stopped":
    for command in commands:
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


class BrokerGuard:
    """Stops and starts the machine's RabbitMQ for the chaos test, and starts it again on every way out of the
    run: a normal end or a failure (``close``), Ctrl-C and SIGTERM/SIGHUP (handlers that close and re-raise),
    interpreter exit (``atexit``), and a hard end (SIGKILL, pytest-timeout's ``os._exit``): a watchdog process in
    its own session reads the guard's state through a pipe and, when the pipe closes while the broker is stopped,
    runs the start commands itself. The state is sent before the broker is stopped, so no moment is unguarded.

    Commands are argument lists, so tests give harmless fakes."""

    def __init__(self, stop: list[list[str]] | None = None, start: list[list[str]] | None = None):
        self.stop_commands = stop or [["rabbitmqctl", "stop_app"]]
        self.start_commands = start or [["rabbitmqctl", "start_app"], ["rabbitmqctl", "await_startup"]]
        self.stopped = False
        self._watchdog = None
        self._previous_handlers: dict[int, Any] = {}

    def __enter__(self) -> "BrokerGuard":
        import atexit
        import json
        import signal
        import subprocess
        import sys

        self._watchdog = subprocess.Popen([sys.executable, "-c", _BROKER_WATCHDOG, json.dumps(self.start_commands)],
                                          stdin=subprocess.PIPE, start_new_session=True)
        atexit.register(self.close)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread: the watchdog still covers these signals
                pass
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _tell(self, state: str) -> None:
        if self._watchdog and self._watchdog.stdin and not self._watchdog.stdin.closed:
            try:
                self._watchdog.stdin.write(f"{state}\n".encode())
                self._watchdog.stdin.flush()
            except OSError:  # the watchdog is gone: close() and atexit still restore
                pass

    def _run(self, commands: list[list[str]]) -> None:
        import subprocess

        for command in commands:
            subprocess.run(command, capture_output=True)

    def stop(self) -> None:
        self._tell("stopped")
        self.stopped = True
        self._run(self.stop_commands)

    def start(self) -> None:
        self._run(self.start_commands)
        self.stopped = False
        self._tell("started")

    def close(self) -> None:
        """Start the broker if this guard stopped it; end the watchdog. Safe to call more than once."""
        import atexit
        import signal

        if self.stopped:
            self.start()
        if self._watchdog:
            try:
                self._watchdog.stdin.close()
            except OSError:
                pass
            self._watchdog.wait(timeout=30)
            self._watchdog = None
        atexit.unregister(self.close)
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    def _on_signal(self, signum, frame):
        import signal

        self.close()
        signal.signal(signum, signal.SIG_DFL)
        raise KeyboardInterrupt(f"signal {signum}")


# API tokens of the demo county (identity's demo loader issues them; decision 38) ---------------------------------
def token_for(actor: str, township: str | None = "qingshui") -> str:
    """The demo token of ``actor`` (``office:demo_clerk``, ``unit:water_station``, ``county:lanxi`` with township
    None): every demo actor has one."""
    from .auth import demo_token

    return demo_token(township, actor)


OFFICE_ACTOR = "office:demo_clerk"


def as_actor(actor: str, township: str | None = "qingshui") -> dict[str, str]:
    """Request headers that make a request act as ``actor`` of ``township`` (its demo token); ``office`` is the
    township's demo office clerk."""
    return {"Authorization": f"Bearer {token_for(OFFICE_ACTOR if actor == 'office' else actor, township)}"}


def approved_project(http_base: str, organisation: str = "social_org:so_sunshine_elderly", village: str = "dongpo",
                     milestones: tuple[str, ...] = ("first month",), township: str = "qingshui",
                     requested_fen: int = 3_000_000) -> str:
    """The id of a funds project ``organisation`` proposed in ``village`` with ``milestones`` (20% each) and the
    office approved, through the HTTP API: what a completion report must name (decision 66)."""
    import requests

    body = {"title": "长者助餐", "village": village, "category": "elderly_care", "requested_fen": requested_fen,
            "milestones": [{"name": name, "share_percent": 20, "due": "2026-12-31"} for name in milestones]}
    proposed = requests.post(f"{http_base}/api/v1/projects", json=body, headers=as_actor(organisation, township),
                             timeout=15)
    assert proposed.status_code == 201, proposed.text
    project_id = proposed.json()["id"]
    approved = requests.post(f"{http_base}/api/v1/projects/{project_id}/review", json={"decision": "approve"},
                             headers=as_actor("office", township), timeout=15)
    assert approved.status_code == 200, approved.text
    return project_id


def yaml_as_written(text: str, *, many: bool = False) -> Any:
    """YAML loaded safely without nameko's ``${VAR:default}`` interpolation, which ``setup_yaml_parser`` (run by
    ``township_shared.config.load_config``) adds to ``yaml.SafeLoader`` for the whole process: a file that is not
    nameko's config (docker-compose.yml, manifests, alert rules) is read as it is written, whatever ran before."""
    import yaml

    class Loader(yaml.SafeLoader):
        yaml_implicit_resolvers = {first: [r for r in resolvers if r[0] != "!env_var"]
                                   for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    return list(yaml.load_all(text, Loader=Loader)) if many else yaml.load(text, Loader=Loader)


class ConsoleClient:
    """A browser-like client of the web console for HTTP-level tests: keeps cookies, signs in with an actor's
    demo token (``ConsoleClient(http_base, "office")``; None stays public), and sends each form with the CSRF
    token of the page it came from (decision 91). Answers are not followed unless asked (``follow=True``)."""

    CSRF = r'name="csrf_token" value="([0-9a-f]+)"'

    def __init__(self, base: str, actor: str | None = None, township: str | None = "qingshui", lang: str = "en"):
        import requests

        self.base = base.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = lang
        self.csrf: str | None = None
        if actor is not None:
            actor = OFFICE_ACTOR if actor == "office" else actor
            answer = self.post("/console/signin", {"token": token_for(actor, township)})
            assert answer.status_code == 303, (answer.status_code, answer.text[:500])

    def _remember(self, answer):
        import re

        found = re.search(self.CSRF, answer.text or "")
        if found:
            self.csrf = found.group(1)
        return answer

    def get(self, path: str, follow: bool = False, **kwargs):
        return self._remember(self.http.get(self.base + path, allow_redirects=follow, timeout=30, **kwargs))

    def post(self, path: str, data: dict[str, Any] | None = None, follow: bool = False, files=None, **kwargs):
        if self.csrf is None:
            self.get("/console/signin")
        body = {"csrf_token": self.csrf, **(data or {})}
        return self._remember(self.http.post(self.base + path, data=body, files=files, allow_redirects=follow,
                                             timeout=30, **kwargs))
