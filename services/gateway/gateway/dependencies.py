"""Dependencies of the gateway: a health probe of the backing services."""
from __future__ import annotations

from kombu import Connection
from nameko.extensions import DependencyProvider

from township_shared.mongo import DEFAULT_URI, make_client, ping


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
