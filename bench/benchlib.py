"""Helpers shared by the benchmark scripts in bench/ (bench/dispatch, and whichever other bench wants them).

- :class:`Stack`: run ``deploy/run.py`` (what ``make run`` runs) as a child in its own process group, wait for
  ``GET /health`` to answer 200, and stop it with SIGINT (as Ctrl-C does) at the end;
- :func:`health`, :func:`port_busy`: is a stack up / is a port taken;
- :func:`raw_publish_rate`: the raw RabbitMQ rate of kombu persistent publishes with publisher confirms, one at a
  time, into a throwaway durable queue that is deleted afterwards;
- :func:`raw_insert_rate`: the raw MongoDB rate of pymongo ``insert_one``, one at a time, into a throwaway
  database that is dropped afterwards;
- :func:`percentile`: nearest-rank percentile;
- :class:`RssSampler`, :func:`stack_pids`, :func:`find_stack_pid`: peak resident memory of the processes a
  ``deploy/run.py`` started (sampled from /proc/<pid>/status); :func:`stack_cpu`: their CPU time so far;
- :func:`mongo_top`: the database server's per-collection operation counts and times (``top``).

Only the standard library plus requests and kombu (and pymongo, imported by :func:`raw_insert_rate` only), which
the project's virtualenv already has.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import requests
from kombu import Connection, Producer, Queue

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672//"


def amqp_uri_default() -> str:
    return os.environ.get("AMQP_URI") or DEFAULT_AMQP_URI


DEFAULT_MONGODB_URI = "mongodb://127.0.0.1:27017"


def mongodb_uri_default() -> str:
    return os.environ.get("MONGODB_URI") or DEFAULT_MONGODB_URI


def health(base_url: str, timeout: float = 3.0) -> tuple[int | None, str]:
    """Status of ``GET <base_url>/health`` (None when nothing answers) and a short detail."""
    try:
        r = requests.get(f"{base_url.rstrip('/')}/health", timeout=timeout)
        return r.status_code, r.text[:300]
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]


def resident_headers() -> dict[str, str]:
    """Headers that make a demand come from one of many residents' addresses: the gateway believes
    ``X-Forwarded-For`` from this host (a trusted proxy by default, decision 55), so a run measures many clients
    rather than one client over its submission limit."""
    import random

    return {"X-Forwarded-For": f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"}


def port_busy(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank ``q``-th percentile (0 < q <= 100) of ``values`` (any order; +inf allowed); nan if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


class Stack:
    """``deploy/run.py`` as a child process in a process group of its own.

    ``start()`` refuses when the HTTP port, or 127.0.0.1:27017 without MONGODB_URI set, is already taken (what
    answers there is not ours to stop, and may go away mid-run), then waits for
    ``/health`` to answer 200. ``stop()`` sends SIGINT to deploy/run.py (it stops its services and the backing
    servers it started), waits, and only if that fails escalates to SIGTERM and then SIGKILL of its group.
    The combined output goes to a log file (``log_path``); :meth:`log_problems` picks out errors from it.

    ``settle`` (seconds, default 0): after ``/health`` first answers 200, also wait that long and require
    deploy/run.py to be still running (a service that dies just after start makes it stop everything).
    :meth:`died` tells whether deploy/run.py has exited since."""

    def __init__(self, base_url: str, prog: str, env: dict[str, str] | None = None,
                 timeout: float = 180.0, log: Callable[[str], None] | None = None, settle: float = 0.0):
        self.base_url = base_url.rstrip("/")
        self.prog = prog
        self.extra_env = dict(env or {})
        self.timeout = timeout
        self.settle = settle
        self.log = log or (lambda msg: print(f"{prog}: {msg}", file=sys.stderr, flush=True))
        self.proc: subprocess.Popen | None = None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "-", prog)
        self.log_path = Path(tempfile.gettempdir()) / f"{safe}-stack-{os.getpid()}.log"

    def start(self) -> None:
        url = urlsplit(self.base_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        if port_busy(host, port):
            status, detail = health(self.base_url)
            raise SystemExit(f"{self.prog}: --start given, but {host}:{port} is already in use by something this "
                             f"run did not start (GET /health -> {status}: {detail}). Stop it, or run without "
                             f"--start to measure the stack that is already up.")
        if (port_busy("127.0.0.1", 27017) and not self.extra_env.get("MONGODB_URI")
                and not os.environ.get("MONGODB_URI")):
            # deploy/run.py would use that server without owning it: whoever started it may stop it mid-run
            raise SystemExit(f"{self.prog}: --start given, but a MongoDB-compatible server this run did not start "
                             f"already answers on 127.0.0.1:27017. Stop it, set MONGODB_URI to use it on purpose, "
                             f"or run without --start against the stack that is already up.")
        env = dict(os.environ, HTTP_HOST=host, HTTP_PORT=str(port), **self.extra_env)
        self.log(f"starting the stack: {sys.executable} deploy/run.py (output in {self.log_path})")
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "run.py")], cwd=ROOT, env=env,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         process_group=0)
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.prog}: deploy/run.py exited with {self.proc.returncode} before /health "
                                 f"answered 200; the end of its output:\n{self.tail()}")
            status, detail = health(self.base_url, timeout=2)
            if status == 200 and self.settle > 0:
                settled = time.monotonic() + self.settle
                while time.monotonic() < settled and self.proc.poll() is None:
                    time.sleep(0.25)
                if self.proc.poll() is not None:
                    continue  # reported at the top of the loop
            if status == 200:
                self.log(f"stack is up ({self.base_url}/health answers 200; deploy/run.py pid {self.proc.pid})")
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.prog}: {self.base_url}/health did not answer 200 within "
                                 f"{self.timeout:.0f} s (last: {status} {detail}); the end of the output:\n"
                                 f"{self.tail()}")
            time.sleep(0.5)

    def died(self) -> str | None:
        """None while deploy/run.py runs (or was never started); once it has exited, a message with the end of
        its output."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return (f"deploy/run.py exited with {self.proc.returncode} during the benchmark; the end of its output:\n"
                f"{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    def log_problems(self, limit: int = 5) -> tuple[int, list[str]]:
        """How many ERROR/CRITICAL/Traceback lines the stack's output has, and the first ``limit`` distinct."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return 0, []
        hits = [ln for ln in lines if re.search(r"\b(ERROR|CRITICAL)\b|^Traceback", ln)]
        distinct: list[str] = []
        for ln in hits:
            key = re.sub(r"^[\d\-: ,.]+", "", ln)[:160]
            if key not in distinct:
                distinct.append(key)
            if len(distinct) >= limit:
                break
        return len(hits), distinct

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.log(f"stopping the stack (SIGINT to deploy/run.py, pid {self.proc.pid})")
            for sig, wait in ((signal.SIGINT, 60), (signal.SIGTERM, 20)):
                try:
                    self.proc.send_signal(sig)
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    self.log(f"deploy/run.py still running {wait} s after {sig.name}")
            else:
                self.log("killing the process group of deploy/run.py")
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        # anything left in the group (deploy/run.py gone, a child of it not) is ours: end it
        if self._signal_group(0):
            time.sleep(2)
            if self._signal_group(signal.SIGTERM):
                self.log("ended processes left in the stack's process group")
        self.log(f"stack stopped (deploy/run.py exit code {self.proc.returncode})")

    def _signal_group(self, sig: int) -> bool:
        try:
            os.killpg(self.proc.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False


def raw_publish_rate(amqp_uri: str, seconds: float = 3.0, body: str | bytes | None = None,
                     warmup: int = 20) -> tuple[float, int]:
    """Messages/s of kombu publishes with ``delivery_mode=2`` and publisher confirms (the connection's
    ``transport_options={'confirm_publish': True}``: each publish waits for the broker's ack), single-threaded,
    for ``seconds``, into a throwaway durable queue (default exchange) that is deleted afterwards.
    Returns (rate, messages counted)."""
    if body is None:
        body = json.dumps({"id": uuid.uuid4().hex, "type": "bench", "version": 1, "source": "bench",
                           "payload": {"text": "停水三天了，村里老人取水困难" * 10}}, ensure_ascii=False)
    name = f"bench-raw-publish-{uuid.uuid4().hex[:12]}"
    with Connection(amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}) as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.channel()
        queue = Queue(name, durable=True, auto_delete=False)(channel)
        queue.declare()
        try:
            producer = Producer(channel, routing_key=name)

            def publish():
                producer.publish(body, content_type="application/json", content_encoding="utf-8",
                                 delivery_mode=2, retry=False)

            for _ in range(warmup):
                publish()
            n = 0
            start = time.perf_counter()
            deadline = start + seconds
            while time.perf_counter() < deadline:
                publish()
                n += 1
            elapsed = time.perf_counter() - start
        finally:
            try:
                queue.delete()
            except Exception as exc:  # keep the figure; say what was left behind
                print(f"benchlib: could not delete the throwaway queue {name}: {exc}", file=sys.stderr)
            channel.close()
    return n / elapsed, n


def raw_insert_rate(mongodb_uri: str, seconds: float = 3.0, make_doc: Callable[[], dict] | None = None,
                    warmup: int = 20, database: str = "bench_raw") -> tuple[float, int]:
    """Documents/s of pymongo ``insert_one`` (default write concern), single-threaded, for ``seconds``, into the
    collection ``cases`` of the throwaway database ``database``, which is dropped before and afterwards.
    ``make_doc()`` gives each document (a fresh one per insert; default: a small document with a ~400-byte
    text). Returns (rate, documents counted)."""
    from pymongo import MongoClient

    if make_doc is None:
        def make_doc() -> dict:
            return {"_id": uuid.uuid4().hex, "type": "bench", "payload": {"text": "停水三天了，村里老人取水困难" * 10}}
    client = MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        client.admin.command("ping")
        client.drop_database(database)
        coll = client[database]["cases"]
        try:
            for _ in range(warmup):
                coll.insert_one(make_doc())
            n = 0
            start = time.perf_counter()
            deadline = start + seconds
            while time.perf_counter() < deadline:
                coll.insert_one(make_doc())
                n += 1
            elapsed = time.perf_counter() - start
        finally:
            client.drop_database(database)
    finally:
        client.close()
    return n / elapsed, n


# ---- memory of the stack's processes, and the database server's per-collection counters ------------------------
# (added for bench/pipeline; usable by any bench)

def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgid) of a process from /proc/<pid>/stat; None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[2])


def _cmdline(pid: int) -> list[str]:
    try:
        return [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a]
    except OSError:
        return []


def process_label(pid: int) -> str:
    """A short name for a process of a stack: ``secantusdb``, ``nameko:<module>``, ``deploy/run.py`` or the
    program's name."""
    args = _cmdline(pid)
    joined = " ".join(args)
    if "secantusd" in joined:
        return "secantusdb"
    if any(a.endswith("/nameko") or a == "nameko" for a in args) and "run" in args:
        return f"nameko:{args[-1]}"
    if any(a.endswith("deploy/run.py") for a in args):
        return "deploy/run.py"
    return Path(args[0]).name if args else "?"


def stack_pids(root_pid: int) -> list[int]:
    """Processes of the stack that ``root_pid`` (deploy/run.py) started: its process group (SecantusDB, started
    in the background by deploy/backing.sh, is re-parented to init but stays in the group) and its descendants."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st:
                table[int(entry)] = st
    if root_pid not in table:
        return []
    pgid = table[root_pid][1]
    members = {pid for pid, (_, group) in table.items() if group == pgid}
    members.add(root_pid)
    grew = True
    while grew:  # descendants that left the group
        grew = False
        for pid, (ppid, _) in table.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    return sorted(members)


def rss_kb(pid: int) -> int | None:
    """VmRSS of a process in KiB (None if it is gone or has none, e.g. a zombie)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def find_stack_pid(http_port: int) -> int | None:
    """The deploy/run.py process (of this user) serving ``http_port`` (its HTTP_PORT, 8000 when unset); None if
    there is none or several."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if not any(a.endswith("deploy/run.py") for a in _cmdline(pid)):
            continue
        try:
            env = dict(item.split("=", 1) for item in
                       Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0") if "=" in item)
        except OSError:
            continue
        if int(env.get("HTTP_PORT") or 8000) == http_port:
            found.append(pid)
    return found[0] if len(found) == 1 else None


class RssSampler(threading.Thread):
    """Samples, every ``interval`` seconds, the VmRSS of the processes of the stack rooted at ``root_pid``
    (:func:`stack_pids`). ``peak_kb`` is the highest sum over the processes ``counted(label)`` selects (default:
    the nameko services and SecantusDB); ``peak_by_label`` the highest RSS seen per process label, all processes
    included."""

    def __init__(self, root_pid: int, interval: float = 0.5,
                 counted: Callable[[str], bool] | None = None):
        super().__init__(name="rss-sampler", daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.counted = counted or (lambda label: label == "secantusdb" or label.startswith("nameko:"))
        self.peak_kb = 0
        self.peak_parts: dict[str, int] = {}
        self.peak_by_label: dict[str, int] = {}
        self.samples = 0
        self.labels: dict[int, str] = {}
        self._stop_event = threading.Event()

    def sample(self) -> None:
        total, parts = 0, {}
        for pid in stack_pids(self.root_pid):
            kb = rss_kb(pid)
            if kb is None:
                continue
            label = self.labels.get(pid) or self.labels.setdefault(pid, process_label(pid))
            self.peak_by_label[label] = max(self.peak_by_label.get(label, 0), kb)
            if self.counted(label):
                total += kb
                parts[label] = parts.get(label, 0) + kb
        self.samples += 1
        if total > self.peak_kb:
            self.peak_kb, self.peak_parts = total, parts

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far, in seconds (None if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_cpu(root_pid: int) -> dict[str, float]:
    """CPU seconds used so far by each process label (:func:`process_label`) of the stack of ``root_pid``."""
    out: dict[str, float] = {}
    for pid in stack_pids(root_pid):
        cpu = cpu_seconds(pid)
        if cpu is not None:
            label = process_label(pid)
            out[label] = out.get(label, 0.0) + cpu
    return out


def mongo_top(mongodb_uri: str, client=None) -> dict[str, dict[str, tuple[int, int]]]:
    """The server's ``top`` counters: ``{"db.collection": {section: (operations, microseconds)}}`` (sections as
    mongod names them: total, queries, getmore, insert, update, remove, commands, readLock, writeLock).
    SecantusDB and mongod both serve it; counts are per command, not per document."""
    from pymongo import MongoClient

    own = client is None
    if own:
        client = MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        totals = client.admin.command("top")["totals"]
    finally:
        if own:
            client.close()
    return {ns: {section: (int(v.get("count", 0)), int(v.get("time", 0))) for section, v in sections.items()
                 if isinstance(v, dict)}
            for ns, sections in totals.items() if isinstance(sections, dict)}
