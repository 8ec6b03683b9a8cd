"""Dependencies of the identity service: its repository and the RPC proxy to dispatch's registry of actors."""
from nameko import rpc as nameko_rpc

from township_shared.consumers import ResilientQueueConsumer
from township_shared.mongo import MongoRepository

from .repository import IdentityRepository


def IdentityStore():
    return MongoRepository(IdentityRepository, database="identity")


class ReplyListener(nameko_rpc.ReplyListener):
    """nameko's listener for RPC replies on a :class:`ResilientQueueConsumer`, as the gateway's: an
    acknowledgement RabbitMQ cannot take (it went away) must not kill the container."""

    queue_consumer = ResilientQueueConsumer()


class RpcProxy(nameko_rpc.RpcProxy):
    rpc_reply_listener = ReplyListener()
