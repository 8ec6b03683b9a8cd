"""Dependencies of the intake service: its repository and its clock."""
from nameko.extensions import DependencyProvider

from township_shared.clock import SystemClock
from township_shared.mongo import MongoRepository

from .repository import DemandRepository


def DemandStore():
    return MongoRepository(DemandRepository, database="intake")


class Clock(DependencyProvider):
    """The system clock; tests swap it for a ``FixedClock`` with ``replace_dependencies``."""

    def setup(self):
        self.clock = SystemClock()

    def get_dependency(self, worker_ctx):
        return self.clock
