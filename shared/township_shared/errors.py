"""Errors the services raise on purpose, each with the HTTP status the gateway answers with.

Services raise these from RPC methods (listed in ``expected_exceptions`` so nameko does not log them as
crashes). nameko carries only the exception's class name and ``str()`` across the wire, so ``str()`` is the
JSON body the client will see; :func:`from_remote` rebuilds it on the gateway side.
"""
from __future__ import annotations

import json
from typing import Any

import pymongo.errors
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu.exceptions import OperationalError


class ServiceError(Exception):
    """Base of expected errors: ``status`` is the HTTP status, ``body`` the JSON answer."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any):
        self.body = {"error": self.code, "message": message, **details}
        super().__init__(json.dumps(self.body, ensure_ascii=False, default=str))


class ValidationFailed(ServiceError):
    """Input broke a rule. ``fields`` maps each field (dotted path) to its list of reasons."""

    status = 400
    code = "validation_failed"

    def __init__(self, fields: dict[str, Any], message: str = "The request has invalid fields."):
        super().__init__(message, fields=fields)


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


EXPECTED = (ValidationFailed, Forbidden, NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType, ServiceError)
_BY_NAME = {cls.__name__: cls for cls in EXPECTED}


# pymongo's errors for a database that cannot be reached or did not answer in time: a service behind the gateway
# is fine but its database is not, so the client should retry (503), not report a bug (500). Every subclass counts
# (pymongo raises private ones such as ``_OperationCancelled`` when a stalled server's pool is reset).
_UNAVAILABLE_BASES = (pymongo.errors.ConnectionFailure, pymongo.errors.ExecutionTimeout,
                      pymongo.errors.WaitQueueTimeoutError)
DATABASE_UNAVAILABLE = frozenset(name for name, value in vars(pymongo.errors).items()
                                 if isinstance(value, type) and issubclass(value, _UNAVAILABLE_BASES))
RETRY_AFTER_SECONDS = 5
# what publishing raises while RabbitMQ is down or restarting (kombu wraps socket errors in OperationalError;
# py-amqp and the socket raise the others directly)
BROKER_UNAVAILABLE = (OperationalError, AmqpConnectionError, RecoverableConnectionError, ConnectionError)


def from_remote(exc_type: str, value: str) -> tuple[int, dict[str, Any]] | None:
    """Map a nameko ``RemoteError`` (class name and message) back to ``(status, body)``; None if not ours."""
    if exc_type in DATABASE_UNAVAILABLE:
        return 503, {"error": "service_unavailable",
                     "message": f"the database is unavailable ({exc_type}); retry in {RETRY_AFTER_SECONDS} s"}
    cls = _BY_NAME.get(exc_type)
    if cls is None:
        return None
    try:
        body = json.loads(value)
    except (TypeError, ValueError):
        body = {"error": cls.code, "message": value}
    return cls.status, body


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested error dict into ``{"reporter.phone": ["reason", ...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (dict,)):
                flat.update(flatten_messages(value, path))
            elif isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
                for i, item in enumerate(value):
                    flat.update(flatten_messages(item, f"{path}.{i}"))
            else:
                flat[path] = value if isinstance(value, list) else [str(value)]
    elif isinstance(messages, list):
        flat[prefix or "_schema"] = [str(m) for m in messages]
    return flat
