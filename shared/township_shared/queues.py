"""Which type of queue the product declares: ``AMQP_QUEUE_TYPE`` (decision 80).

- ``classic`` (the default): the single development broker, and any broker where the queues already exist as
  classic queues;
- ``quorum``: a RabbitMQ cluster (docker-compose.yml and deploy/k8s set it): each queue replicated on a majority
  of the nodes (Raft), so a node can be lost or restarted without losing a message or a consumer.

Every durable, non-exclusive, non-auto-delete queue the product declares takes the type: the event handlers'
(``township_shared.consumers``, identity's every-event queue), the RPC queues (``township_shared.service``) and
the dead-letter queue. RPC reply queues and test listeners are transient (exclusive, auto-delete or expiring):
a quorum queue can be none of these, so they stay classic. RabbitMQ refuses to declare an existing queue with
another type (PRECONDITION_FAILED, inequivalent arg 'x-queue-type'), so every declarer of a vhost must agree:
the switch is per deployment, and moving a deployment from one type to the other is a migration (drain the
queues, delete them, start with the new type: docs/operations.md).
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from kombu import Queue

QUEUE_TYPE_KEY = "AMQP_QUEUE_TYPE"
QUEUE_TYPES = ("classic", "quorum")


def queue_type(config: Mapping[str, Any]) -> str:
    value = str(config.get(QUEUE_TYPE_KEY) or "classic").strip().lower()
    if value not in QUEUE_TYPES:
        raise ValueError(f"{QUEUE_TYPE_KEY} is {value!r}: one of {', '.join(QUEUE_TYPES)}")
    return value


def replicable(queue: Queue) -> bool:
    """A queue that outlives its consumer: durable, neither exclusive nor auto-delete, without an expiry."""
    return (bool(queue.durable) and not queue.exclusive and not queue.auto_delete
            and "x-expires" not in (queue.queue_arguments or {}))


def arguments(config: Mapping[str, Any]) -> dict[str, Any]:
    """The declaration arguments the type adds to a replicable queue."""
    return {"x-queue-type": "quorum"} if queue_type(config) == "quorum" else {}


def typed(queue: Queue, config: Mapping[str, Any]) -> Queue:
    """``queue`` as the deployment declares it: a copy with the type's arguments when it is replicable and the
    type is not classic, else ``queue`` itself."""
    extra = arguments(config)
    if not extra or not replicable(queue):
        return queue
    clone = copy.copy(queue)
    clone.queue_arguments = {**(queue.queue_arguments or {}), **extra}
    return clone
