"""What the gateway does for every answer and every caller, whatever the route (decisions 55-57):

- :class:`SecurityHeaders`, a WSGI middleware around the whole web server, so errors, werkzeug's own 404 and 405
  and answers of routes yet to come carry the same headers;
- :func:`client_of`: who is asking, for the submission limits (the address behind trusted proxies, IPv6 grouped
  by /64, None for an exempt network);
- :func:`metrics_guard`: ``/metrics`` answers the host itself, or a scraper with ``METRICS_TOKEN``;
- :func:`install_secret_redaction`: a callback link's token never reaches a log line.
"""
from __future__ import annotations

import functools
import hmac
import ipaddress
import re
from typing import Any, Callable, Iterable, Mapping

from werkzeug.wrappers import Request, Response

from township_shared.errors import RedactingLogFilter, install_log_filter

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# A strict policy for the console to come: its own scripts and styles only (no inline script, no eval), no
# plugins, no <base> rewriting, forms post only here, and no page may frame it (clickjacking).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "no-referrer",
}
# An SVG document the console serves as an image (a chart, decision 103) styles itself with one <style> element
# (pygal's). The page policy would block it when the image is opened on its own, so SVG answers get this policy
# instead: nothing may load or run (no script at all, no fetch, no font, no image), inline styles only, never framed.
SVG_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'none'; object-src 'none'; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SVG_MIMETYPE = "image/svg+xml"
# answers carry personal data (names, phones, comments) or figures about named people: no cache keeps them
DEFAULT_CACHE_CONTROL = "no-store"
SVG_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": SVG_POLICY}
_REPLACED = {name.lower() for name in SECURITY_HEADERS}


class SecurityHeaders:
    """WSGI middleware: :data:`SECURITY_HEADERS` on every answer (replacing any a route set), and ``Cache-Control:
    no-store`` unless the route chose its own caching. The one exception: an ``image/svg+xml`` answer gets
    :data:`SVG_POLICY` as its Content-Security-Policy (decision 103); whatever policy a route set is still
    replaced, so no route can loosen its own."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable):
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            names = {name.lower() for name, _ in headers}
            kind = next((v for n, v in headers if n.lower() == "content-type"), "")
            added = SECURITY_HEADERS if kind.split(";")[0].strip().lower() != SVG_MIMETYPE else SVG_HEADERS
            headers = [(n, v) for n, v in headers if n.lower() not in _REPLACED] + list(added.items())
            if "cache-control" not in names:
                headers.append(("Cache-Control", DEFAULT_CACHE_CONTROL))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, start)


# ---- who is asking ----------------------------------------------------------------------------------------------
FORWARDED_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
DEFAULT_TRUSTED_PROXIES = "127.0.0.1/32,::1/128"
IPV6_GROUP_PREFIX = 64


def networks(spec: str | Iterable[str] | None) -> tuple[Network, ...]:
    """``"10.0.0.0/8, ::1"`` -> networks; an entry that is not an address or network is a configuration error."""
    if spec is None:
        return ()
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in parts if str(p).strip())


def _address(text: str | None) -> Address | None:
    try:
        address = ipaddress.ip_address((text or "").strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _within(address: Address, nets: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def client_address(remote_addr: str | None, forwarded_for: str | None,
                   trusted: Iterable[Network]) -> Address | None:
    """The client's address: the peer, unless the peer is a trusted proxy; then the right-most address of
    ``X-Forwarded-For`` that is not a trusted proxy (each proxy appends the address it got the request from, so
    the entries left of it are whatever the client wrote and are never believed). None if the peer is unknown."""
    peer = _address(remote_addr)
    if peer is None:
        return None
    trusted = tuple(trusted)
    client = peer
    hops = [h for h in (forwarded_for or "").split(",") if h.strip()]
    while _within(client, trusted) and hops:
        hop = _address(hops.pop())
        if hop is None:  # garbage where a proxy should have written an address: stop at the last proxy
            break
        client = hop
    return client


def rate_key(address: Address) -> str:
    """The key one client is counted under: an IPv4 address, or the /64 network of an IPv6 address (one
    subscriber's line gets a /64 or more, and picks any address within it at will)."""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_GROUP_PREFIX}", strict=False))
    return str(address)


def client_of(request: Request, config: Mapping[str, Any]) -> str | None:
    """The key the request's client is counted under for the submission limits (:func:`rate_key`), or None for a
    client in ``RATE_LIMIT_EXEMPT`` (the office's own network) or one whose address is unknown."""
    trusted = networks(config.get("TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES))
    address = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), trusted)
    if address is None or _within(address, networks(config.get("RATE_LIMIT_EXEMPT", ""))):
        return None
    return rate_key(address)


# ---- /metrics -----------------------------------------------------------------------------------------------------
def from_this_host(request: Request) -> bool:
    """The peer is a loopback address and no proxy forwarded the request: a proxy on this host would otherwise
    make every outside request look local."""
    peer = _address(request.remote_addr)
    return (peer is not None and peer.is_loopback
            and not any(request.headers.get(name) for name in FORWARDED_HEADERS))


def bearer_matches(request: Request, expected: str | None) -> bool:
    """``Authorization: Bearer <expected>`` (compared in constant time); never true for an empty ``expected``."""
    scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                                  str(expected).encode())


def metrics_guard(route: Callable[..., Response]) -> Callable[..., Response]:
    """Decorator of the ``/metrics`` route: served to the host itself, or to a scraper sending ``Authorization:
    Bearer <METRICS_TOKEN>``; anyone else gets 401 (decision 57)."""

    @functools.wraps(route)
    def guarded(self, request: Request, *args, **kwargs) -> Response:
        if from_this_host(request) or bearer_matches(request, self.config.get("METRICS_TOKEN")):
            return route(self, request, *args, **kwargs)
        from .http import error_response

        response = error_response(401, {"error": "unauthorized", "message": "metrics are served to this host, or "
                                        "with Authorization: Bearer <METRICS_TOKEN>"})
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response

    return guarded


# ---- secrets in URLs ----------------------------------------------------------------------------------------------
# the resident's callback link: the API's and the console page it points to (decisions 56, 97)
SECRET_PATHS = re.compile(r"(/callback-links/+|/console/+callback/+)[^\s/?#\"']+")
REDACTED = r"\1<redacted>"
LOGGERS_ECHOING_PATHS = ("nameko.web.server", "gateway.http", "gateway.service", "gateway.security",
                         "gateway.console.web")


def install_secret_redaction(loggers: Iterable[str] = LOGGERS_ECHOING_PATHS) -> None:
    """Redact the tokens of :data:`SECRET_PATHS` in every record of the loggers that echo a request's path (the
    web server's access log and the gateway's own lines), before any other filter of theirs."""
    for name in loggers:
        install_log_filter(name, RedactingLogFilter(SECRET_PATHS, REDACTED), first=True)
