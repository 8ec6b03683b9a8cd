"""Dependencies of the meetings service: its repository, the RPC proxy to dispatch (the office's case items are
checked there) and the export settings."""
from nameko.extensions import DependencyProvider

from township_shared.mongo import MongoRepository
from township_shared.service import RpcProxy

from .repository import MeetingsRepository

__all__ = ["ExportSettings", "MeetingsStore", "RpcProxy"]


def MeetingsStore():
    return MongoRepository(MeetingsRepository, database="meetings")


class ExportSettings(DependencyProvider):
    """The township's time zone (minutes show local times) and the CJK font of the PDF (``MEETINGS_PDF_FONT``,
    else Debian's WenQuanYi Micro Hei)."""

    def setup(self):
        config = self.container.config
        self.timezone = config.get("TOWNSHIP_TIMEZONE") or "Asia/Shanghai"
        self.font = config.get("MEETINGS_PDF_FONT") or None

    def get_dependency(self, worker_ctx):
        return self
