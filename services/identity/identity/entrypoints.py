"""The entrypoint of the audit trail: one durable queue bound to every service's event exchange.

nameko's event handler binds a queue to one event type of one service. The audit trail wants every event of every
service of ``services.toml`` (the registry), including services added later, so this handler's queue has one
binding per ``<service>.events`` exchange with routing key ``#``. It runs on the dead-lettering queue consumer of
:mod:`township_shared.consumers` (an undecodable body is a dead letter, not dropped), and gives the handler the
exchange a message came on, so an event that claims another source than the exchange's owner is refused."""
from __future__ import annotations

from functools import partial

from kombu import Queue, binding
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer
from nameko.standalone.events import get_event_exchange

from township_shared.consumers import EventHandler
from township_shared.queues import typed
from township_shared.registry import services


class EveryEvent(EventHandler):
    """``@every_event()``: the decorated method gets ``(body, exchange=<name>)`` for every event of every listed
    service. Declare the method with :func:`township_shared.consumers.consumer` below it, as any consumer."""

    def __init__(self, **kwargs):
        super().__init__(source_service=None, event_type="#", requeue_on_error=True, **kwargs)

    def setup(self):
        config = self.container.config
        bindings = [binding(get_event_exchange(spec.name, config), routing_key="#") for spec in services()]
        self.queue = typed(Queue(f"evt-all--{self.container.service_name}.{self.method_name}", bindings=bindings,
                                 durable=True, auto_delete=False, exclusive=False), config)
        Consumer.setup(self)  # nameko's EventHandler.setup would bind one exchange and one type

    def handle_message(self, body, message):
        exchange = (message.delivery_info or {}).get("exchange")
        context_data = self.unpack_message_headers(message)
        try:
            self.container.spawn_worker(self, (body,), {"exchange": exchange}, context_data=context_data,
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)


every_event = EveryEvent.decorator
