"""The container health check: which address tells whether a service is up, and its answers."""
import socket

from township_shared import healthcheck


def test_the_gateway_is_asked_for_its_health_and_the_others_for_their_metrics():
    assert healthcheck.address("gateway", {}) == "http://127.0.0.1:8000/health"
    assert healthcheck.address("gateway", {"HTTP_PORT": "8080"}) == "http://127.0.0.1:8080/health"
    assert healthcheck.address("intake", {}) == "http://127.0.0.1:9101/metrics"
    assert healthcheck.address("dispatch", {"METRICS_PORT_DISPATCH": "9999"}) == "http://127.0.0.1:9999/metrics"


def test_nothing_listening_is_unhealthy_and_a_missing_service_name_is_an_error(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert healthcheck.check(f"http://127.0.0.1:{port}/metrics", timeout=1) is False
    monkeypatch.setenv("METRICS_PORT_INTAKE", str(port))
    assert healthcheck.main(["intake"]) == 1
    monkeypatch.delenv("SERVICE", raising=False)
    assert healthcheck.main([]) == 2
