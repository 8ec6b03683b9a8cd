"""Dependencies of the feedback service: its repository, settings from config, and dispatch's word on a task."""
from datetime import timedelta
from typing import Any

from nameko.extensions import DependencyProvider

from township_shared.auth import DEFAULT_PRINCIPAL_KEY, service_principal, sign
from township_shared.mongo import MongoRepository
from township_shared.service import RpcProxy, ask

from .figures import FiguresRepository
from .repository import FeedbackRepository


def FeedbackStore():
    return MongoRepository(FeedbackRepository, database="feedback")


def FiguresStore():
    """One :class:`FiguresRepository` per process (its fold loop is shared by the workers)."""
    return MongoRepository(FiguresRepository, database="feedback")


ASK_TIMEOUT_SECONDS = 5.0


class DispatchTasks:
    """What a worker gets from :class:`Dispatch`: ``task_facts(township_id, case_id, task_id)``, the task as
    dispatch has it or None; raises ``Unavailable`` when dispatch cannot answer now (``township_shared.service.
    ask``). Tests hand the handlers a fake with the same method."""

    def __init__(self, proxy, timeout: float, key: str):
        self._proxy, self._timeout, self._key = proxy, timeout, key

    def task_facts(self, township_id: str, case_id: str, task_id: str) -> dict[str, Any] | None:
        principal = sign(service_principal("feedback", township_id), self._key)
        return ask("dispatch", lambda: self._proxy.task_facts(principal, {"case_id": case_id, "task_id": task_id}),
                   self._timeout)


class Dispatch(RpcProxy):
    """RPC to dispatch, for the tasks feedback has not heard of yet (decision 52)."""

    def __init__(self, timeout: float = ASK_TIMEOUT_SECONDS):
        super().__init__("dispatch")
        self.timeout = timeout

    def setup(self):
        super().setup()
        self.key = self.container.config.get("PRINCIPAL_KEY") or DEFAULT_PRINCIPAL_KEY

    def get_dependency(self, worker_ctx):
        return DispatchTasks(super().get_dependency(worker_ctx), self.timeout, self.key)


class FundsProjects:
    """What a worker gets from :class:`Funds`: ``project_facts(township_id, project_id)``, the project as funds has
    it or None; raises ``Unavailable`` when funds cannot answer now. Tests hand the handlers a fake."""

    def __init__(self, proxy, timeout: float, key: str):
        self._proxy, self._timeout, self._key = proxy, timeout, key

    def project_facts(self, township_id: str, project_id: str) -> dict[str, Any] | None:
        principal = sign(service_principal("feedback", township_id), self._key)
        return ask("funds", lambda: self._proxy.project_facts(principal, project_id), self._timeout)


class Funds(RpcProxy):
    """RPC to funds, for a project a report names that feedback has not heard of yet (decision 66)."""

    def __init__(self, timeout: float = ASK_TIMEOUT_SECONDS):
        super().__init__("funds")
        self.timeout = timeout

    def setup(self):
        super().setup()
        self.key = self.container.config.get("PRINCIPAL_KEY") or DEFAULT_PRINCIPAL_KEY

    def get_dependency(self, worker_ctx):
        return FundsProjects(super().get_dependency(worker_ctx), self.timeout, self.key)


class Settings(DependencyProvider):
    """Callback attempts and link lifetime, hotspot rule and the local timezone that decides which day an event counts in."""

    def setup(self):
        config = self.container.config
        self.max_attempts = int(config.get("CALLBACK_MAX_ATTEMPTS", 3))
        self.link_lifetime = timedelta(days=float(config.get("CALLBACK_LINK_DAYS", 14)))
        self.hotspot_min = int(config.get("HOTSPOT_MIN_DEMANDS", 5))
        self.hotspot_window = timedelta(hours=float(config.get("HOTSPOT_WINDOW_HOURS", 24)))
        self.timezone = config.get("TOWNSHIP_TIMEZONE", "Asia/Shanghai")

    def get_dependency(self, worker_ctx):
        return self
