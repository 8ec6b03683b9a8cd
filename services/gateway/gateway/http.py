"""HTTP plumbing for the gateway: JSON answers, body limits, and the mapping of errors to statuses.

Every route goes through :func:`api`, so a client only ever gets JSON: a 4xx naming each bad field and the
reason, 503 when a service behind the gateway, its database or the broker is unreachable, 504 when it does not answer within
``RPC_TIMEOUT_SECONDS`` (nameko 2's RPC proxy waits forever, and a reply lost when RabbitMQ restarts would otherwise
hold a gateway worker for good), and a logged 500 only for a real bug. Routes are declared with this module's
:data:`http`, which gives what fails before a route runs the same JSON answers."""
from __future__ import annotations

import functools
import json
import logging
import socket
from dataclasses import replace
from typing import Any, Callable

import eventlet
from marshmallow import ValidationError
from nameko.exceptions import ContainerBeingKilled, RemoteError, UnknownService
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Request, Response

from township_shared.auth import Principal
from township_shared.errors import (BROKER_UNAVAILABLE, RETRY_AFTER_SECONDS, Forbidden, LongLineLogFilter,
                                    PayloadTooLarge, ServiceError, Unauthorized, UnsupportedMediaType,
                                    Unprocessable, ValidationFailed, from_remote, install_log_filter)
from township_shared.schemas.bounds import MAX_DEPTH, check_json, echo
from township_shared.schemas.common import CODE

from .methods import MethodGuard, served_operations
from .security import SecurityHeaders, install_secret_redaction

log = logging.getLogger(__name__)

TOWNSHIP_HEADER = "X-Township-Id"
DEFAULT_RPC_TIMEOUT_SECONDS = 30
MAX_TOKEN_LENGTH = 200


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers or {},
                    mimetype="application/json")


def error_response(status: int, body: dict[str, Any]) -> Response:
    """A JSON error; a 503 and a 429 say when to retry (a 429 as its body's ``retry_after``), a 401 how to
    authenticate, a 405 which methods the path has (its body's ``allowed``)."""
    headers = {}
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    elif status == 429:
        headers = {"Retry-After": str(body.get("retry_after") or RETRY_AFTER_SECONDS)}
    elif status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="township"'}
    elif status == 405:
        headers = {"Allow": ", ".join(body.get("allowed") or ())}
    return json_response(status, body, headers)


# what any route wrapped by :func:`api` may answer, whatever the route does: 400 a malformed ``X-Township-Id`` (or
# a county token naming none), 401 a bad token, 403 a token of another township or a role the route does not grant,
# 503 a service, its database or the broker unreachable, 504 no answer in time (the OpenAPI document lists them on
# every such route: decision 70)
API_ERRORS = (400, 401, 403, 503, 504)
API_ERRORS_ATTR = "openapi_common_errors"


def api(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a route: find who calls (``self.authenticate(request)``, 401 for a bad token), refuse a role the
    route's declared operation does not grant (401 for the public, 403 for a token), settle the township it
    addresses (:func:`choose_township`), then run it; map expected
    errors to their status, unreachable services to 503, anything else to 500."""
    from .openapi import route_operation

    @functools.wraps(handler)
    def wrapper(self, request: Request, *args, **kwargs) -> Response:
        seconds = float(self.config.get("RPC_TIMEOUT_SECONDS", DEFAULT_RPC_TIMEOUT_SECONDS))
        timer = eventlet.Timeout(seconds)
        try:
            principal = self.authenticate(request)
            op = route_operation(wrapper, kwargs)
            if op is not None and principal.role not in op.roles:
                if principal.is_public:
                    raise Unauthorized("sign in: send Authorization: Bearer <token>", allowed=list(op.roles))
                raise Forbidden(f"the {principal.role} role may not do this", role=principal.role,
                                allowed=list(op.roles))
            request.principal = choose_township(request, principal, self.config.get("DEFAULT_TOWNSHIP_ID",
                                                                                    "qingshui"))
            return handler(self, request, *args, **kwargs)
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            log.warning("%s %s: no answer from the services within %s s", request.method, echo(request.path),
                        seconds)
            return error_response(504, {"error": "timeout", "message": f"no answer within {seconds:g} s; retry "
                                        "(with the same Idempotency-Key for a demand)"})
        except ServiceError as exc:
            return error_response(exc.status, exc.body)
        except RemoteError as exc:
            mapped = from_remote(exc.exc_type, exc.value)
            if mapped:
                if mapped[0] == 503:
                    log.warning("%s %s: %s", request.method, echo(request.path), mapped[1]["message"])
                return error_response(*mapped)
            log.error("remote error behind %s %s: %s", request.method, echo(request.path), echo(str(exc), 2000))
            return error_response(500, {"error": "internal_error", "message": "a service failed; see its log"})
        except UnknownService as exc:
            return error_response(503, {"error": "service_unavailable", "message": str(exc)})
        except BROKER_UNAVAILABLE as exc:  # the request may or may not have left: a retry is safe (idempotency)
            log.warning("%s %s: message broker unavailable: %r", request.method, echo(request.path), exc)
            message = f"the message broker is unavailable; retry in {RETRY_AFTER_SECONDS} s"
            return error_response(503, {"error": "service_unavailable", "message": message})
        except Exception:
            log.exception("unhandled error in %s %s", request.method, echo(request.path))
            return error_response(500, {"error": "internal_error", "message": "unexpected error; it was logged"})
        finally:
            timer.cancel()

    setattr(wrapper, API_ERRORS_ATTR, API_ERRORS)
    return wrapper


class NoDelayWebServer(WebServer):
    """nameko's web server with ``TCP_NODELAY`` on its listening socket (accepted connections inherit it).

    Without it, an answer larger than about 16 KB (eventlet writes it in two parts) waited for the client's
    delayed acknowledgement of the first part: 40 ms more for a year of unit figures, 16.4 KB (bench/assessment,
    decision 32)."""

    def get_wsgi_server(self, sock, wsgi_app, *args, **kwargs):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().get_wsgi_server(sock, wsgi_app, *args, **kwargs)

    def get_wsgi_app(self):
        """nameko's application inside :class:`~gateway.methods.MethodGuard` (405 for a method a documented path
        does not have) inside :class:`~gateway.security.SecurityHeaders`: every answer gets them, the ones made
        before a route is found included."""
        return SecurityHeaders(MethodGuard(super().get_wsgi_app(), lambda: served_operations(self._providers)))


class HttpEntrypoint(HttpRequestHandler):
    """nameko's ``@http`` entrypoint, answering in the API's JSON what fails before a route runs.

    nameko kills a container that loses RabbitMQ, and the kill can take seconds (its consumers retry the broker)
    while the web server still accepts requests: nameko answers each ``Error: ContainerBeingKilled`` with a text
    500. A restarting gateway is unavailable, not broken: 503 with ``Retry-After`` (full chaos run 7: 178 such
    500s in 12 s of one kill)."""

    server = NoDelayWebServer()

    def setup(self):
        install_secret_redaction()  # first: a cut line must not keep half a token
        install_log_filter("nameko.web.server", LongLineLogFilter())  # the access log echoes the whole URL
        super().setup()

    def response_from_exception(self, exc):
        if isinstance(exc, ContainerBeingKilled):
            log.warning("request refused: the gateway is restarting")
            return error_response(503, {"error": "service_unavailable",
                                        "message": f"the gateway is restarting; retry in {RETRY_AFTER_SECONDS} s"})
        if isinstance(exc, BadRequest):
            return error_response(400, {"error": "bad_request", "message": exc.description or str(exc)})
        log.error("request failed before its route ran", exc_info=(type(exc), exc, exc.__traceback__))
        return error_response(500, {"error": "internal_error", "message": "unexpected error; it was logged"})


http = HttpEntrypoint.decorator


def read_json(request: Request, max_bytes: int) -> Any:
    """The request body as JSON, enforcing ``application/json`` (415) and ``max_bytes`` (413)."""
    mimetype = (request.mimetype or "").lower()
    if mimetype != "application/json":
        raise UnsupportedMediaType(f"send the body as application/json, not {mimetype or 'nothing'}",
                                   expected="application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"body is {request.content_length} bytes; the limit is {max_bytes}",
                              max_bytes=max_bytes)
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"body exceeds the limit of {max_bytes} bytes", max_bytes=max_bytes)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed({"_body": [f"not valid JSON: {exc}"]}, "The body is not valid JSON.") from None
    except RecursionError:  # thousands of nested arrays: deeper than the check below would allow anyway
        raise ValidationFailed({"_body": [f"nested deeper than {MAX_DEPTH} levels"]},
                               "The body has fields nested too deeply.") from None
    problems = check_json(body)
    if problems:
        raise ValidationFailed(problems, "The body has fields nested too deeply or text that is not valid Unicode.")
    return body


def read_json_or_empty(request: Request, max_bytes: int) -> Any:
    """Like :func:`read_json`, but a command without a body (``POST .../sign``) is an empty object."""
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return {}
    return read_json(request, max_bytes)


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None without the header; 401 for another scheme."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("send Authorization: Bearer <token>")
    return token


def choose_township(request: Request, principal: Principal, default: str) -> Principal:
    """The principal a request acts as, with the township it addresses (decision 38).

    ``X-Township-Id`` grants nothing: the public names the township it writes to (default ``default``); a county
    token must name one of its county's townships (which its principal lists); any other token belongs to one
    township, and naming another is refused."""
    named = request.headers.get(TOWNSHIP_HEADER)
    if named is not None:
        named = named.strip()
        try:
            CODE(named)
        except ValidationError:
            raise ValidationFailed({TOWNSHIP_HEADER: ["must be a township code"]}) from None
    if principal.is_public:
        return replace(principal, township_id=named or default)
    if principal.role == "county":
        if not named:
            raise ValidationFailed({TOWNSHIP_HEADER: ["a county token names the township it reads"]})
        if named not in principal.townships:
            raise Forbidden(f"township {named!r} is not in county {principal.county_id!r}", township_id=named)
        return replace(principal, township_id=named)
    if named and named != principal.township_id:
        raise Forbidden(f"this token belongs to township {principal.township_id!r}, not {named!r}",
                        township_id=named)
    return principal


def query_args(request: Request) -> dict[str, str]:
    """Query string as a flat dict; a parameter given twice is an error rather than silently one of them."""
    repeated = [k for k, v in request.args.lists() if len(v) > 1]
    if repeated:
        raise ValidationFailed({echo(k): ["given more than once"] for k in repeated})
    args = request.args.to_dict()
    problems = check_json(args)
    if problems:
        raise ValidationFailed(problems)
    return args
