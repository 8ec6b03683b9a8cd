"""Errors the services raise on purpose, each with the HTTP status the gateway answers with.

Services raise these from RPC methods (listed in ``expected_exceptions`` so nameko does not log them as
crashes). nameko carries only the exception's class name and ``str()`` across the wire, so ``str()`` is the
JSON body the client will see; :func:`from_remote` rebuilds it on the gateway side.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

import pymongo.errors
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu.exceptions import OperationalError

from .schemas.bounds import echo


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


class Unprocessable(ValidationFailed):
    """A well-formed request, valid by the OpenAPI document, refused by what it names or by a rule the document
    cannot state: an unknown village, category or actor, a cursor this listing never returned, a rule between two
    fields, a phone number outside the numbering plan. 422, with ``fields`` like a 400 (decision 70): a 400 means
    the request breaks the document."""

    status = 422
    code = "unprocessable"

    def __init__(self, fields: dict[str, Any], message: str = "The request is well formed, but refused."):
        super().__init__(fields, message)


class RuleMessage(str):
    """The reason a marshmallow validator gives for a rule the OpenAPI document cannot state (a rule between
    fields, a numbering plan): a load refused only for such reasons is :class:`Unprocessable` (422), any other
    reason makes it a 400 (:func:`township_shared.service.load`)."""


def refused_input(problems: dict[str, list[str]],
                  message: str = "The request has invalid fields.") -> ValidationFailed:
    """:class:`Unprocessable` when every reason in ``problems`` is a :class:`RuleMessage`, else
    :class:`ValidationFailed`."""
    if problems and all(isinstance(m, RuleMessage) for reasons in problems.values() for m in reasons):
        return Unprocessable(problems, "The request is well formed, but refused.")
    return ValidationFailed(problems, message)


class Unauthorized(ServiceError):
    """No valid credentials: a token that is unknown, revoked or malformed, or a principal whose signature fails
    (:mod:`township_shared.auth`)."""

    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Gone(ServiceError):
    """The thing existed and is no longer usable, for good (an expired callback link): 410."""

    status = 410
    code = "gone"


class Refused(ServiceError):
    """An event a consumer will not act on although it is well formed: it did not come through the exchange of its
    one publisher, or it names a case, task or actor the consumer's service (or the service that owns them) does
    not know. Dead-lettered with the reason, never retried (decision 51)."""

    status = 422
    code = "refused"


class Unavailable(Exception):
    """A service a consumer must ask before acting did not answer (down, restarting, or too slow): the message is
    put back and handled again later, like a database outage (decision 51)."""


class ServiceUnavailable(ServiceError):
    """A service the request needs could not answer now (down, restarting, too slow): retry in a moment."""

    status = 503
    code = "service_unavailable"


class MethodNotAllowed(ServiceError):
    """A path the API answers, asked with a method it does not document: 405, ``allowed`` listing the methods it
    does, which the gateway also sends as ``Allow``."""

    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(ServiceError):
    """A client or a reporter over its submission limit (decision 55): 429, ``retry_after`` seconds in the body,
    which the gateway also sends as ``Retry-After``."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int, **details: Any):
        super().__init__(message, retry_after=max(1, int(retry_after)), **details)


EXPECTED = (Unprocessable, ValidationFailed, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict, Gone,
            PayloadTooLarge, UnsupportedMediaType, TooManyRequests, ServiceUnavailable, ServiceError)
_BY_NAME = {cls.__name__: cls for cls in EXPECTED}


# pymongo's errors for a database that cannot be reached or did not answer in time: a service behind the gateway
# is fine but its database is not, so the client should retry (503), not report a bug (500). Every subclass counts
# (pymongo raises private ones such as ``_OperationCancelled`` when a stalled server's pool is reset).
_UNAVAILABLE_BASES = (pymongo.errors.ConnectionFailure, pymongo.errors.ExecutionTimeout,
                      pymongo.errors.WaitQueueTimeoutError)
DATABASE_UNAVAILABLE = frozenset(name for name, value in vars(pymongo.errors).items()
                                 if isinstance(value, type) and issubclass(value, _UNAVAILABLE_BASES))
# server error codes that mean "not now" rather than "never": the ones pymongo itself retries (host unreachable,
# network timeout, shutting down, not primary, interrupted, exceeded time limit), a cursor lost in a restart and a
# write conflict with a concurrent transaction
TRANSIENT_CODES = frozenset({6, 7, 43, 89, 91, 112, 134, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436})
TRANSIENT_LABELS = ("TransientTransactionError", "RetryableWriteError", "RetryableError")
RETRY_AFTER_SECONDS = 5


def is_outage(exc: BaseException) -> bool:
    """True when the database is unreachable or busy (try again later), False for anything else it raised, such as
    a write it refuses (``WriteError``, ``OperationFailure``) or a document it cannot hold (``DocumentTooLarge``,
    ``InvalidDocument``, ``OverflowError``): the same message would fail the same way for ever."""
    if isinstance(exc, _UNAVAILABLE_BASES):
        return True
    if isinstance(exc, pymongo.errors.OperationFailure):
        return exc.code in TRANSIENT_CODES or any(exc.has_error_label(label) for label in TRANSIENT_LABELS)
    return False
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
                flat[path] = value if isinstance(value, list) else [value if isinstance(value, str) else str(value)]
    elif isinstance(messages, list):
        flat[prefix or "_schema"] = [str(m) for m in messages]
    return flat


class ExpectedErrorLogFilter(logging.Filter):
    """Turns nameko's record of an expected exception (``(expected) error handling worker ...``, at WARNING with
    the whole traceback, the caller's input in the message and again in the traceback's last line) into one INFO
    line naming the service, the method and the error, cut to ``bounds.MAX_ECHO`` characters: a refusal is the
    service working, and a 5 KB id must not write 20 KB of log. Attached to ``nameko.containers`` by
    :func:`install_expected_error_log_filter` (every service's ``@rpc``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if isinstance(record.msg, str) and record.msg.startswith("(expected)") and len(args) == 2:
            worker_ctx, exc = args
            entrypoint = getattr(worker_ctx, "entrypoint", None)
            where = f"{getattr(worker_ctx, 'service_name', '?')}.{getattr(entrypoint, 'method_name', '?')}"
            record.msg, record.args = "(expected) %s refused: %s", (where, echo(f"{type(exc).__name__}: {exc}"))
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.exc_info = record.exc_text = None
        return True


def install_expected_error_log_filter() -> None:
    """Attach :class:`ExpectedErrorLogFilter` to nameko's container logger, once per process."""
    install_log_filter("nameko.containers", ExpectedErrorLogFilter())


class LongLineLogFilter(logging.Filter):
    """Cuts a record's message longer than ``limit`` characters in the middle (its head and tail stay, e.g. the
    access log's client and its status and size). For the web server's access log, whose request line echoes the
    whole URL: a 5 KB id in a path is not 5 KB of log."""

    def __init__(self, limit: int = 400):
        super().__init__()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > self.limit:
            head, tail = self.limit * 2 // 3, self.limit // 3
            record.msg, record.args = f"{message[:head]} ...({len(message) - head - tail} chars cut)... " \
                                      f"{message[-tail:]}", ()
        return True


class RedactingLogFilter(logging.Filter):
    """Replaces what ``pattern`` matches in a record's message by ``replacement`` (a secret in a URL: the access
    log and our own lines echo the path, and ``/api/v1/callback-links/<token>`` is a resident's one-time key,
    decision 56). Install it first on a logger (:func:`install_log_filter` ``first=True``), so no other filter cuts
    a secret in two before it is recognised."""

    def __init__(self, pattern: str | re.Pattern, replacement: str):
        super().__init__()
        self.pattern = re.compile(pattern)
        self.replacement = replacement

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.pattern.sub(self.replacement, message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def install_log_filter(logger_name: str, log_filter: logging.Filter, first: bool = False) -> None:
    """Attach ``log_filter`` to the logger (before its other filters if ``first``), unless a filter of its class
    is there already (once per process)."""
    logger = logging.getLogger(logger_name)
    if not any(type(f) is type(log_filter) for f in logger.filters):
        if first:
            logger.filters.insert(0, log_filter)
        else:
            logger.addFilter(log_filter)
