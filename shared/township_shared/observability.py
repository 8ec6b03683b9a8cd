"""Structured logs carrying the case id, and Prometheus metrics of every entrypoint.

- :class:`JsonFormatter` writes one JSON object per line (time, level, logger, message, service, correlation_id,
  and the exception); :func:`correlation` sets the case id a worker is busy with (the event envelope's
  ``correlation_id``, or a case id argument), so one case can be followed across services' logs.
- :class:`Metrics`, a DependencyProvider, times every entrypoint of its service (RPC, HTTP, event, timer) into a
  latency histogram, counts failures, and serves the process's metrics on ``METRICS_PORT_<SERVICE>`` (0: off).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Histogram, start_http_server

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


def correlation(case_id: str | None) -> None:
    _local.correlation_id = case_id


def current_correlation() -> str | None:
    return getattr(_local, "correlation_id", None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the case id of the worker that logged it."""

    def __init__(self, service: str | None = None, **kwargs: Any):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "correlation_id": current_correlation()}
        if self.service:
            entry["service"] = self.service
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

    def formatTime(self, record, datefmt=None):  # noqa: N802  (logging's name)
        return time.strftime(datefmt or "%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))


class Metrics(DependencyProvider):
    """Latency and failures of every entrypoint of the service; the process's metrics on
    ``METRICS_PORT_<SERVICE>`` (Prometheus text format), one port per service process."""

    _served: set[int] = set()

    def setup(self):
        config = self.container.config
        self.port = int(config.get(f"METRICS_PORT_{self.container.service_name.upper()}", 0) or 0)
        self.service = self.container.service_name
        self.started: dict[Any, float] = {}

    def start(self):
        if self.port and self.port not in Metrics._served:
            try:
                start_http_server(self.port, addr="127.0.0.1")
                Metrics._served.add(self.port)
            except OSError as exc:  # metrics are not worth refusing to serve residents
                logging.getLogger(__name__).error("%s: metrics not served on port %s: %s", self.service,
                                                  self.port, exc)

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()
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
