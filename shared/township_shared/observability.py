"""Structured logs carrying the case id, and Prometheus metrics of every entrypoint.

- :class:`JsonFormatter` writes one JSON object per line (time, level, logger, message, service, correlation_id,
  and the exception); :func:`correlation` sets the case id a worker is busy with (the event envelope's
  ``correlation_id``, or a case id argument), so one case can be followed across services' logs.
- :class:`ServiceFilter` puts the service's name on every record (``%(service)s`` in a plain format): the name of
  the service whose worker logs, else the services of the process (registered by :class:`Metrics` when their
  container starts), else what ``nameko run`` was asked to run (``nameko run intake.service``: ``intake``), so even
  the lines nameko logs before the container exists name their service (:func:`service_name`).
- :class:`Metrics`, a DependencyProvider, times every entrypoint of its service (RPC, HTTP, event, timer) into a
  latency histogram, counts failures, and serves the process's metrics on ``METRICS_HOST:METRICS_PORT_<SERVICE>``
  (0: off; the host 127.0.0.1 unless configured).
"""
from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge, Histogram, start_http_server

_local = threading.local()  # eventlet makes it greenthread-local: one value per worker

ENTRYPOINT_SECONDS = Histogram("township_entrypoint_seconds", "Time spent in an entrypoint",
                               ["service", "entrypoint"],
                               buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
ENTRYPOINT_FAILURES = Counter("township_entrypoint_failures_total", "Entrypoints that raised",
                              ["service", "entrypoint", "error"])
EVENTS_HANDLED = Counter("township_events_handled_total", "Events consumed successfully", ["service", "handler"])
EVENTS_DEAD_LETTERED = Counter("township_events_dead_lettered_total", "Events sent to the dead-letter queue",
                               ["service", "handler"])
EVENTS_REQUEUED = Counter("township_events_requeued_total", "Events requeued for a database outage",
                          ["service", "handler"])

# timer duties under a lease (township_shared.lease, decision 81): 1 in the one instance that holds a duty
LEASE_HELD = Gauge("township_lease_held", "1 where this process holds the duty's lease", ["service", "duty"])
DUTY_ROUNDS = Counter("township_duty_rounds_total", "Rounds of a timer duty done under its lease",
                      ["service", "duty"])
# how long the oldest event pending in a service's outboxes has waited (set by the instance that sweeps them)
OUTBOX_OLDEST_SECONDS = Gauge("township_outbox_oldest_pending_seconds",
                              "Age of the oldest event pending in the service's outboxes (0: none)", ["service"])
ALARMS_FIRED = Counter("township_alarms_fired_total", "Reminders, overdue notices and escalations raised",
                       ["service", "kind"])

DEFAULT_METRICS_HOST = "127.0.0.1"

_process_services: set[str] = set()
NAMEKO_RUN_OPTIONS_WITH_VALUE = ("--config", "--broker", "--backdoor-port")


def register_service(name: str) -> None:
    """Name this process's log lines after ``name`` (a service container set up in it)."""
    _process_services.add(name)


def serving(service: str | None) -> None:
    """The service whose worker runs in this greenthread (set by :class:`Metrics` around every worker)."""
    _local.service = service


def service_name() -> str:
    """The service a log line belongs to: the current worker's, else the process's (comma-separated when one
    process runs several, as the tests do), else the one ``nameko run`` names on its command line, else the
    program's name (a script)."""
    name = getattr(_local, "service", None)
    if name:
        return name
    if _process_services:
        return ",".join(sorted(_process_services))
    return service_from_command_line(sys.argv)


def service_from_command_line(argv: Sequence[str]) -> str:
    """``nameko run --config config.yaml intake.service`` -> ``intake`` (the service's package, which is the service
    name by this project's convention); anything else -> the program's name."""
    if not argv:
        return "python"
    if Path(argv[0]).name == "nameko" and len(argv) > 1 and argv[1] == "run":
        names, skip = [], False
        for arg in argv[2:]:
            if skip:
                skip = False
            elif arg in NAMEKO_RUN_OPTIONS_WITH_VALUE:
                skip = True
            elif not arg.startswith("-"):
                names.append(arg.split(":")[0].split(".")[0])
        if names:
            return ",".join(names)
    return Path(argv[0]).stem or "python"


class ServiceFilter(logging.Filter):
    """Sets ``record.service`` (see :func:`service_name`) on every record; attach it to the handlers, so records of
    every logger, nameko's and kombu's included, carry it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "service", None):
            record.service = service_name()
        return True


def correlation(case_id: str | None) -> None:
    _local.correlation_id = case_id


def current_correlation() -> str | None:
    return getattr(_local, "correlation_id", None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the service (the ``service`` argument, else :class:`ServiceFilter`'s, else
    :func:`service_name`) and the case id of the worker that logged it."""

    def __init__(self, service: str | None = None, **kwargs: Any):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "service": self.service or getattr(record, "service", None) or service_name(),
                 "correlation_id": current_correlation()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

    def formatTime(self, record, datefmt=None):  # noqa: N802  (logging's name)
        return time.strftime(datefmt or "%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))


class Metrics(DependencyProvider):
    """Latency and failures of every entrypoint of the service; the process's metrics on
    ``METRICS_PORT_<SERVICE>`` (Prometheus text format), one port per service process, bound to ``METRICS_HOST``
    (127.0.0.1: this host only; a scraper elsewhere reaches it through the host's own agent or a tunnel,
    decision 57)."""

    _served: set[int] = set()

    def setup(self):
        config = self.container.config
        self.port = int(config.get(f"METRICS_PORT_{self.container.service_name.upper()}", 0) or 0)
        self.host = config.get("METRICS_HOST") or DEFAULT_METRICS_HOST
        self.service = self.container.service_name
        self.started: dict[Any, float] = {}
        register_service(self.service)

    def start(self):
        if self.port and self.port not in Metrics._served:
            try:
                start_http_server(self.port, addr=self.host)
                Metrics._served.add(self.port)
            except OSError as exc:  # metrics are not worth refusing to serve residents
                logging.getLogger(__name__).error("%s: metrics not served on port %s: %s", self.service,
                                                  self.port, exc)

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()
        serving(self.service)
        args = worker_ctx.args
        body = args[0] if args else None
        correlation(body.get("correlation_id") if isinstance(body, dict) else None)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        began = self.started.pop(worker_ctx, None)
        name = worker_ctx.entrypoint.method_name
        if began is not None:
            ENTRYPOINT_SECONDS.labels(self.service, name).observe(time.perf_counter() - began)
        if exc_info is not None:
            ENTRYPOINT_FAILURES.labels(self.service, name, exc_info[0].__name__).inc()
        correlation(None)
        serving(None)
