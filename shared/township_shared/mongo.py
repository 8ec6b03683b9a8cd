"""MongoDB access for services: a nameko DependencyProvider that hands a worker a repository, never a client.

One ``MongoClient`` per service container (pymongo pools connections and is safe under eventlet's green
threads); the repository class gets the service's own database and declares its indexes in
``ensure_indexes()``, run once when the container starts, so every query the product runs has its index.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol

from nameko.extensions import DependencyProvider
from pymongo import MongoClient
from pymongo.database import Database

from .config import mongo_database_name

log = logging.getLogger(__name__)

DEFAULT_URI = "mongodb://127.0.0.1:27017"


class Repository(Protocol):
    def __init__(self, db: Database, **options: Any): ...

    def ensure_indexes(self) -> None: ...


def make_client(uri: str, **kwargs: Any) -> MongoClient:
    """A client with the product's conventions: timezone-aware datetimes, bounded waits when the server is down."""
    kwargs.setdefault("tz_aware", True)
    # Every write of the product is idempotent or guarded (unique ids, ``rev`` checks, applied-event lists), so
    # driver retries need no server-side bookkeeping; SecantusDB keeps up to 10,000 retryable-write records and
    # sorts them on every write once full (about 4 ms a write). A URI may still say retryWrites=true.
    if "retryWrites" not in uri:
        kwargs.setdefault("retryWrites", False)
    kwargs.setdefault("serverSelectionTimeoutMS", 5000)
    kwargs.setdefault("connectTimeoutMS", 3000)
    return MongoClient(uri, **kwargs)


class MongoRepository(DependencyProvider):
    """Inject ``repository_cls(db)`` bound to ``<MONGODB_DB_PREFIX>_<service>`` on ``MONGODB_URI``."""

    def __init__(self, repository_cls: type, database: str | None = None, **options: Any):
        self.repository_cls = repository_cls
        self.database = database
        self.options = options
        self.client: MongoClient | None = None
        self.database: Database | None = None
        self.repository = None

    def setup(self):
        config = self.container.config
        self.client = make_client(config.get("MONGODB_URI", DEFAULT_URI))
        name = mongo_database_name(config, self.database or self.container.service_name)
        self.database = self.client[name]
        self.repository = self.repository_cls(self.database, **self.options)

    def start(self):
        self.repository.ensure_indexes()

    def stop(self):
        if self.client is not None:
            self.client.close()

    def kill(self):
        """Leave the client open. nameko kills a container when it loses its broker connection; a worker it did
        not stop (one already past its entrypoint) would otherwise meet ``InvalidOperation: Cannot use
        MongoClient after close`` between its write and its read, and its caller a 500 (full chaos run 6). The
        process ends right after a kill; its sockets go with it."""

    def get_dependency(self, worker_ctx):
        return self.repository


def ping(client: MongoClient) -> dict[str, Any]:
    """Health of the MongoDB server: ``{"ok": bool, "detail": str}``; never raises."""
    try:
        client.admin.command("ping")
        return {"ok": True, "detail": "ping ok"}
    except Exception as exc:  # any failure is a health answer, not a crash
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}
