"""The event envelope every service publishes, and the registry of versioned payload schemas.

An event is a past-tense fact. On the wire (nameko's ``<source>.events`` topic exchange, routing key = type) the
body is the envelope::

    {"id", "type", "version", "time", "source", "correlation_id", "township_id", "actor", "payload"}

``actor`` is who caused the fact: the authenticated actor of the request that wrote it (``office:wang``,
``unit:water_station``, ``public``), or ``service:<name>`` when a service acted on its own (decision 38); the
identity service keeps the audit trail from it. ``correlation_id`` is the case id the fact is about, so logs and consumers can follow a case across services.
Consumers call :func:`load_event`, which validates the envelope and loads the payload through the schema
registered for ``(type, version)``; they never index raw dicts. A new incompatible payload gets a new version
number and both schemas stay registered until no producer emits the old one.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .auth import current_actor
from .clock import utcnow
from .errors import Refused, ValidationFailed, flatten_messages
from .schemas.bounds import AwareDateTime, Integer, check_json, echo

PAYLOAD_SCHEMAS: dict[tuple[str, int], type[Schema]] = {}
PUBLISHERS: dict[str, str] = {}  # event type -> the one service that announces it


EXCHANGE_SUFFIX = ".events"


def exchange_of(service: str) -> str:
    """nameko's event exchange of ``service``: the only exchange it may publish to (decision 50)."""
    return f"{service}{EXCHANGE_SUFFIX}"


class NotThePublisher(ValueError):
    """A service tried to publish an event type another service owns."""


def register(event_type: str, version: int, publisher: str):
    """Class decorator: declare ``schema_cls`` as the payload schema of ``event_type`` at ``version``, an event
    only ``publisher`` announces (one authority per fact: every other service asks it or reacts)."""

    def decorate(schema_cls: type[Schema]) -> type[Schema]:
        owner = PUBLISHERS.setdefault(event_type, publisher)
        if owner != publisher:
            raise NotThePublisher(f"{event_type} is published by {owner}, not {publisher}")
        PAYLOAD_SCHEMAS[(event_type, version)] = schema_cls
        schema_cls.event_type = event_type
        schema_cls.event_version = version
        schema_cls.publisher = publisher
        return schema_cls

    return decorate


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = Integer(required=True, strict=True, validate=validate.Range(min=1))
    time = AwareDateTime(required=True)
    source = fields.String(required=True, validate=validate.Length(min=1, max=64))
    correlation_id = fields.String(required=True, allow_none=True)
    township_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    actor = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=140))
    payload = fields.Dict(required=True)


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    version: int
    time: datetime
    source: str
    correlation_id: str | None
    township_id: str
    payload: dict[str, Any]
    actor: str | None = None


def make_event(schema_cls: type[Schema], payload: dict[str, Any], *, source: str, township_id: str,
               correlation_id: str | None, time: datetime | None = None) -> dict[str, Any]:
    """Build a wire-ready envelope (a JSON-able dict) for a payload, validating it against its schema first.
    Raises :class:`NotThePublisher` when ``source`` does not own the event type."""
    if source != schema_cls.publisher:
        raise NotThePublisher(f"{source} cannot publish {schema_cls.event_type}: {schema_cls.publisher} owns it")
    schema = schema_cls()
    errors = schema.validate(schema.dump(payload))
    if errors:
        raise ValueError(f"invalid {schema_cls.event_type} payload: {errors}")
    return {
        "id": uuid.uuid4().hex,
        "type": schema_cls.event_type,
        "version": schema_cls.event_version,
        "time": (time or utcnow()).isoformat(),
        "source": source,
        "correlation_id": correlation_id,
        "township_id": township_id,
        "actor": current_actor(f"service:{source}"),
        "payload": schema.dump(payload),
    }


def envelopes(facts, *, source: str, township_id: str, correlation_id: str | None,
              time: datetime) -> list[dict[str, Any]]:
    """Envelopes of the ``(schema_cls, payload)`` pairs a domain function returns, all about one case."""
    return [make_event(schema_cls, payload, source=source, township_id=township_id, correlation_id=correlation_id,
                       time=time) for schema_cls, payload in facts]


def load_event(body: Any, expected_type: str | None = None) -> Event:
    """Validate an envelope and its payload; raise :class:`ValidationFailed` naming every bad field."""
    if not isinstance(body, dict):
        raise ValidationFailed({"_schema": ["event body must be a JSON object"]})
    problems = check_json(body, root="_schema")
    if problems:
        raise ValidationFailed(problems, "The event cannot be stored: fields nested too deeply or not valid text.")
    try:
        env = EnvelopeSchema().load(body)
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from None
    if expected_type and env["type"] != expected_type:
        raise ValidationFailed({"type": [f"expected {expected_type}, got {env['type']}"]})
    from .schemas import load_all

    load_all()
    schema_cls = PAYLOAD_SCHEMAS.get((env["type"], env["version"]))
    if schema_cls is None:
        raise ValidationFailed({"version": [f"no schema for {env['type']} v{env['version']}"]})
    try:
        payload = schema_cls().load(env["payload"])
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages, "payload")) from None
    return Event(payload=payload, **{k: v for k, v in env.items() if k != "payload"})


def check_origin(body: Any, exchange: str | None, subscribed: str) -> None:
    """Refuse (:class:`~township_shared.errors.Refused`) an event a handler subscribed to ``subscribed``'s
    exchange received unless it came through that exchange, its envelope's ``source`` is that service, and that
    service is the one publisher of its type (``PUBLISHERS``). Only ``subscribed``'s broker user may publish to
    its exchange (decision 50); this catches a message put on a queue by another route (the default exchange, a
    binding someone added) and a publisher announcing, or claiming to be, what is not its own (decision 51).

    A body without a textual ``source`` is left to :func:`load_event`, which names what is wrong with it."""
    expected = exchange_of(subscribed)
    if exchange != expected:
        raise Refused(f"came through the exchange {echo(exchange)}, not {expected}", field="exchange",
                      exchange=exchange)
    if not isinstance(body, dict) or not isinstance(body.get("source"), str):
        return
    source, kind = body["source"], body.get("type")
    if source != subscribed:
        raise Refused(f"source {echo(source)} does not own the exchange {expected}", field="source")
    from .schemas import load_all

    load_all()
    publisher = PUBLISHERS.get(kind) if isinstance(kind, str) else None
    if publisher is not None and publisher != subscribed:
        raise Refused(f"{kind} is published by {publisher}, not {subscribed}", field="type")
