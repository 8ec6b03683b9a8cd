"""Dependencies of the intake service: its repository."""
from township_shared.mongo import MongoRepository

from .repository import DemandRepository


def DemandStore():
    return MongoRepository(DemandRepository, database="intake")
