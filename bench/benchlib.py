"""Helpers shared by the benchmark scripts in bench/ (bench/dispatch, and whichever other bench wants them).

- :class:`Stack`: run ``deploy/run.py`` (what ``make run`` runs) as a child in its own process group, wait for
  ``GET /health`` to answer 200, and stop it with SIGINT (as Ctrl-C does) at the end;
- :func:`health`, :func:`port_busy`: is a stack up / is a port taken;
- :func:`raw_publish_rate`: the raw RabbitMQ rate of kombu persistent publishes with publisher confirms, one at a
  time, into a throwaway durable queue that is deleted afterwards;
- :func:`percentile`: nearest-rank percentile.

Only the standard library plus requests and kombu, which the project's virtualenv already has.
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


def health(base_url: str, timeout: float = 3.0) -> tuple[int | None, str]:
    """Status of ``GET <base_url>/health`` (None when nothing answers) and a short detail."""
    try:
        r = requests.get(f"{base_url.rstrip('/')}/health", timeout=timeout)
        return r.status_code, r.text[:300]
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]


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
    The combined output goes to a log file (``log_path``); :meth:`log_problems` picks out errors from it."""

    def __init__(self, base_url: str, prog: str, env: dict[str, str] | None = None,
                 timeout: float = 180.0, log: Callable[[str], None] | None = None):
        self.base_url = base_url.rstrip("/")
        self.prog = prog
        self.extra_env = dict(env or {})
        self.timeout = timeout
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
            if status == 200:
                self.log(f"stack is up ({self.base_url}/health answers 200; deploy/run.py pid {self.proc.pid})")
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.prog}: {self.base_url}/health did not answer 200 within "
                                 f"{self.timeout:.0f} s (last: {status} {detail}); the end of the output:\n"
                                 f"{self.tail()}")
            time.sleep(0.5)

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
