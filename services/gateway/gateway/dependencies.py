"""Dependencies of the gateway: a health probe of the backing services, RabbitMQ's management API, and the RPC
proxy to the services."""
from __future__ import annotations

import json
from urllib.parse import quote, unquote, urlparse

import requests
from kombu import Connection
from nameko.extensions import DependencyProvider

from township_shared.mongo import DEFAULT_URI, make_client, ping
from township_shared.service import RpcProxy

__all__ = ["Broker", "HealthProbe", "RpcProxy"]

DEAD_LETTER_SCAN = 2000  # letters read per listing (a few KB each): enough for a township's office to see its own


class HealthProbe(DependencyProvider):
    """Answers whether RabbitMQ and MongoDB are reachable, each with a short detail; never raises."""

    def setup(self):
        config = self.container.config
        self.amqp_uri = config["AMQP_URI"]
        self.mongo = make_client(config.get("MONGODB_URI", DEFAULT_URI), serverSelectionTimeoutMS=1500)

    def stop(self):
        self.mongo.close()

    def check(self) -> dict:
        return {"rabbitmq": self._rabbit(), "mongodb": ping(self.mongo)}

    def _rabbit(self) -> dict:
        try:
            with Connection(self.amqp_uri, connect_timeout=1.5) as conn:
                conn.ensure_connection(max_retries=1)
                return {"ok": True, "detail": f"connected to {conn.as_uri()}"}
        except Exception as exc:  # any failure is a health answer
            return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}

    def get_dependency(self, worker_ctx):
        return self


class Broker(DependencyProvider):
    """Reads RabbitMQ through its management API: the dead-letter queue (peeked, never consumed) and queue depths.
    It signs in as ``RABBIT_API_URI``'s user if the URI names one, else as the gateway's own broker user (decision
    50), which ``township_shared.bus`` tags ``management`` and lets read the dead-letter queue because of
    ``reads_dead_letters``."""

    reads_dead_letters = True

    def setup(self):
        config = self.container.config
        self.api = config.get("RABBIT_API_URI", "http://127.0.0.1:15672").rstrip("/")
        self.amqp = urlparse(config["AMQP_URI"])
        self.vhost = quote(self.amqp.path.lstrip("/") or "/", safe="")

    def _url(self, path: str) -> tuple[str, tuple[str, str]]:
        parts = urlparse(self.api)
        base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
        who = parts if parts.username else self.amqp
        return f"{base}/api/{path}", (unquote(who.username or "guest"), unquote(who.password or "guest"))

    def dead_letters(self, township_id: str, limit: int) -> dict:
        """Up to ``limit`` dead letters of ``township_id``, oldest first, left in the queue (ack_requeue_true).

        The queue is shared by every township: the oldest :data:`DEAD_LETTER_SCAN` letters are read and those of
        other townships, or of none (decision 58), left out; ``count`` is how many of the township's were among
        them."""
        from township_shared.consumers import DEAD_LETTERS

        url, auth = self._url(f"queues/{self.vhost}/{quote(DEAD_LETTERS, safe='')}")
        info = requests.get(url, auth=auth, timeout=5)
        if info.status_code == 404:
            return {"count": 0, "items": []}
        info.raise_for_status()
        got = requests.post(f"{url}/get", auth=auth, timeout=30,
                            json={"count": DEAD_LETTER_SCAN, "ackmode": "ack_requeue_true", "encoding": "auto"})
        got.raise_for_status()
        mine = []
        for message in got.json():
            try:
                letter = json.loads(message["payload"])
            except (ValueError, TypeError):
                continue  # not written by a service: no township to show it to
            if isinstance(letter, dict) and letter.get("township_id") == township_id:
                mine.append(letter)
        return {"count": len(mine), "items": mine[:limit]}

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """Messages ready and unacknowledged per queue of the product's vhost."""
        url, auth = self._url(f"queues/{self.vhost}")
        res = requests.get(url, auth=auth, timeout=5)
        res.raise_for_status()
        return {q["name"]: {"ready": q.get("messages_ready", 0), "unacked": q.get("messages_unacknowledged", 0)}
                for q in res.json()}

    def get_dependency(self, worker_ctx):
        return self
