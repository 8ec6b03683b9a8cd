"""Dependencies of the identity service: its repository and the RPC proxy to dispatch's registry of actors."""
from township_shared.mongo import MongoRepository
from township_shared.service import RpcProxy

from .repository import IdentityRepository


def IdentityStore():
    return MongoRepository(IdentityRepository, database="identity")


__all__ = ["IdentityStore", "RpcProxy"]
