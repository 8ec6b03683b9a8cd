"""Dependencies of the funds service: its repository and its settings from config."""
from datetime import timedelta

from nameko.extensions import DependencyProvider

from township_shared.mongo import MongoRepository

from .repository import FundsRepository

DEFAULT_THRESHOLD_FEN = 5_000_000  # 50,000 yuan: where localities often require a collective decision (三重一大)
DEFAULT_ADVANCE_PERCENT = 30


def FundsStore():
    return MongoRepository(FundsRepository, database="funds")


class Settings(DependencyProvider):
    """The joint meeting's threshold, the default advance, and how long an allocation may stay under way before
    the recovery abandons it (longer than any live request: RPC_TIMEOUT_SECONDS)."""

    def setup(self):
        config = self.container.config
        self.threshold_fen = int(config.get("FUNDS_MEETING_THRESHOLD_FEN", DEFAULT_THRESHOLD_FEN))
        self.advance_percent = int(config.get("FUNDS_ADVANCE_PERCENT", DEFAULT_ADVANCE_PERCENT))
        self.recovery_grace = timedelta(seconds=float(config.get("FUNDS_RECOVERY_SECONDS", 60)))

    def get_dependency(self, worker_ctx):
        return self
