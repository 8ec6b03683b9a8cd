"""The gateway's edge rules alone (decisions 55-57): who the client is behind proxies, what counts as this host
for /metrics, the headers every answer gets, and the redaction of callback-link tokens in log lines."""
import logging

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from gateway.security import (CONTENT_SECURITY_POLICY, SECURITY_HEADERS, SVG_POLICY, SecurityHeaders, bearer_matches,
                              client_address, client_of, from_this_host, install_secret_redaction, networks,
                              rate_key)
from township_shared.errors import LongLineLogFilter, install_log_filter

LOCAL = networks("127.0.0.1/32,::1/128")


def request(remote="127.0.0.1", **headers):
    return Request(EnvironBuilder(path="/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote}).get_environ())


@pytest.mark.parametrize("remote, forwarded, trusted, client", [
    ("203.0.113.7", None, LOCAL, "203.0.113.7"),
    ("203.0.113.7", "10.0.0.1", LOCAL, "203.0.113.7"),          # an untrusted peer's header is ignored
    ("127.0.0.1", None, LOCAL, "127.0.0.1"),
    ("127.0.0.1", "198.51.100.9", LOCAL, "198.51.100.9"),       # a proxy on this host says who it served
    ("127.0.0.1", "1.2.3.4, 198.51.100.9", LOCAL, "198.51.100.9"),  # the client's own entry is not believed
    ("10.0.0.2", "1.2.3.4, 198.51.100.9, 10.0.0.3", networks("10.0.0.0/8"), "198.51.100.9"),  # two proxies
    ("127.0.0.1", "not-an-address", LOCAL, "127.0.0.1"),
    ("::ffff:203.0.113.7", None, LOCAL, "203.0.113.7"),
    ("not-an-address", None, LOCAL, None),
])
def test_the_client_is_the_first_untrusted_hop_from_the_right(remote, forwarded, trusted, client):
    found = client_address(remote, forwarded, trusted)
    assert (str(found) if found else None) == client


def test_ipv6_clients_are_counted_by_their_64_network():
    a, b = (client_address(x, None, ()) for x in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"))
    assert rate_key(a) == rate_key(b) == "2001:db8:1:2::/64"
    assert rate_key(client_address("2001:db8:1:3::1", None, ())) != rate_key(a)
    assert rate_key(client_address("198.51.100.9", None, ())) == "198.51.100.9"


def test_exempt_networks_are_not_counted():
    config = {"TRUSTED_PROXIES": "127.0.0.1", "RATE_LIMIT_EXEMPT": "192.168.10.0/24"}
    assert client_of(request("127.0.0.1", **{"X-Forwarded-For": "192.168.10.20"}), config) is None
    assert client_of(request("127.0.0.1", **{"X-Forwarded-For": "192.168.11.20"}), config) == "192.168.11.20"
    assert client_of(request("192.168.10.20"), {"RATE_LIMIT_EXEMPT": None}) == "192.168.10.20"


def test_this_host_means_a_loopback_peer_that_no_proxy_forwarded():
    assert from_this_host(request("127.0.0.1")) and from_this_host(request("::1"))
    assert not from_this_host(request("192.0.2.1"))
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        assert not from_this_host(request("127.0.0.1", **{header: "192.0.2.1"}))


def test_the_metrics_token_must_match_exactly_and_be_set():
    assert bearer_matches(request(Authorization="Bearer s3cret-token"), "s3cret-token")
    assert bearer_matches(request(Authorization="bearer s3cret-token"), "s3cret-token")
    for given in ("Bearer s3cret", "Bearer s3cret-tokenx", "Basic s3cret-token", "", "Bearer "):
        assert not bearer_matches(request(Authorization=given), "s3cret-token"), given
    assert not bearer_matches(request(Authorization="Bearer "), "") and not bearer_matches(request(), None)


def test_every_answer_gets_the_security_headers_and_no_store_unless_it_chose():
    def app(environ, start_response):
        headers = {"X-Content-Type-Options": "sniff-away"}
        if environ["PATH_INFO"] == "/cached":
            headers["Cache-Control"] = "max-age=60"
        return Response("{}", status=404, headers=headers)(environ, start_response)

    wrapped = SecurityHeaders(app)
    for path, cache in (("/api/v1/x", "no-store"), ("/cached", "max-age=60")):
        environ = EnvironBuilder(path=path).get_environ()
        got = {}
        wrapped(environ, lambda status, headers, exc_info=None: got.update(status=status, headers=headers))
        names = [n.lower() for n, _ in got["headers"]]
        assert got["status"].startswith("404")
        for name, value in SECURITY_HEADERS.items():
            assert names.count(name.lower()) == 1 and (name, value) in got["headers"]
        assert dict(got["headers"])["Cache-Control"] == cache
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert "unsafe-inline" not in SECURITY_HEADERS["Content-Security-Policy"]


def test_an_svg_answer_gets_the_svg_policy_and_no_route_sets_its_own():
    def app(environ, start_response):
        kind = "image/svg+xml; charset=utf-8" if environ["PATH_INFO"] == "/chart.svg" else "text/html"
        return Response("<svg/>", headers={"Content-Type": kind, "Content-Security-Policy": "default-src *"})(
            environ, start_response)

    wrapped = SecurityHeaders(app)
    policies = {}
    for path in ("/chart.svg", "/page"):
        got = {}
        wrapped(EnvironBuilder(path=path).get_environ(),
                lambda status, headers, exc_info=None: got.update(headers=headers))
        found = [v for n, v in got["headers"] if n.lower() == "content-security-policy"]
        assert len(found) == 1
        policies[path] = found[0]
    assert policies["/page"] == CONTENT_SECURITY_POLICY
    assert policies["/chart.svg"] == SVG_POLICY
    assert "script-src 'none'" in SVG_POLICY and "default-src 'none'" in SVG_POLICY
    assert "style-src 'unsafe-inline'" in SVG_POLICY and "frame-ancestors 'none'" in SVG_POLICY


def test_a_callback_token_is_redacted_before_a_long_line_is_cut(caplog):
    name = "gateway.tests.redaction"
    install_secret_redaction([name])
    install_log_filter(name, LongLineLogFilter(limit=120))  # cut first, it would keep the token's tail alone
    token = "Zk3sV9xQ2mT8yW1pL6rN4bHc"
    with caplog.at_level(logging.INFO, logger=name):
        logging.getLogger(name).info('%s "GET /api/v1/callback-links/%s HTTP/1.1" 200 512', "x" * 100, token)
        logging.getLogger(name).info("POST /api/v1/callback-links/%s?x=1 failed", token[:10])
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "chars cut" in text
    assert not any(token[i:i + 6] in text for i in range(len(token) - 5)), text
    assert "/api/v1/callback-links/<redacted>?x=1 failed" in text


def test_the_console_callback_page_token_is_redacted_too(caplog):
    """The link residents receive is the console's page (decision 97): its token is a key like the API's."""
    from gateway.security import LOGGERS_ECHOING_PATHS

    name = "gateway.tests.console_redaction"
    install_secret_redaction([name])
    token = "Qm7rT2vX9kP4wZ8nL3cB6hY1"
    with caplog.at_level(logging.INFO, logger=name):
        logging.getLogger(name).info('"POST /console/callback/%s HTTP/1.1" 303 0', token)
        logging.getLogger(name).info("console GET /console//callback/%s?done=x: remote error", token)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert token[:8] not in text and text.count("/callback/<redacted>") == 2, text
    assert "gateway.console.web" in LOGGERS_ECHOING_PATHS
