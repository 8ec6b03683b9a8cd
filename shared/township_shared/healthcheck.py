"""``python -m township_shared.healthcheck [service]``: exit 0 when the service of this container answers, else 1.

A container's health check (``deploy/Dockerfile``, ``docker-compose.yml``); the service is the argument, else the
``SERVICE`` environment variable. The gateway is healthy when ``/health`` answers 200 (RabbitMQ and MongoDB
reachable); any other service when its metrics port answers, which it opens once its nameko container has
started (its consumers are registered) and which goes with the process. Kubernetes probes the same two addresses
with ``httpGet`` (deploy/k8s), without starting a Python process.
"""
from __future__ import annotations

import os
import sys
import urllib.request
from typing import Mapping


def address(service: str, environ: Mapping[str, str] = os.environ) -> str:
    """The URL that tells whether ``service`` is up, from ``services.toml`` and the ports of the environment."""
    from .registry import service as spec_of

    spec = spec_of(service)
    if spec.metrics_variable is None:  # the gateway: its /metrics is on its HTTP port, /health says more
        return f"http://127.0.0.1:{environ.get('HTTP_PORT', '8000')}/health"
    return f"http://127.0.0.1:{environ.get(spec.metrics_variable, str(spec.metrics_port))}/metrics"


def check(url: str, timeout: float = 4.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    service = argv[0] if argv else os.environ.get("SERVICE", "")
    if not service:
        print("healthcheck: name the service (argument or SERVICE)", file=sys.stderr)
        return 2
    url = address(service)
    if check(url):
        return 0
    print(f"healthcheck: {service} does not answer on {url}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
