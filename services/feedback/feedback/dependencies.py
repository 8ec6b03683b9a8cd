"""Dependencies of the feedback service: its repository and settings from config."""
from datetime import timedelta

from nameko.extensions import DependencyProvider

from township_shared.mongo import MongoRepository

from .figures import FiguresRepository
from .repository import FeedbackRepository


def FeedbackStore():
    return MongoRepository(FeedbackRepository, database="feedback")


def FiguresStore():
    """One :class:`FiguresRepository` per process (its fold loop is shared by the workers)."""
    return MongoRepository(FiguresRepository, database="feedback")


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
