"""`nameko run` from the virtualenv starts a service that answers, as deploy/run.py starts it in `make run`.

nameko's command line imports ``pkg_resources``; a setuptools without it (82 and later) makes every service die
at start with ImportError, which no in-process test (``container_factory``) would notice (decision 24)."""
import json
import re
import signal

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from township_shared.auth import DEFAULT_PRINCIPAL_KEY, public, sign

from township_shared.testing import wait_for_consumer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_nameko_run_starts_a_service_that_answers_and_stops_on_sigterm(service_process, service_config, repo,
                                                                       rabbit_manager, log_format):
    intake = service_process("intake.service", LOG_FORMAT=log_format)
    try:
        wait_for_consumer(rabbit_manager, service_config["vhost"], "rpc-intake", timeout=60)
    except TimeoutError:
        pytest.fail(f"intake did not start under nameko run:\n{intake.log_tail()}")

    with ClusterRpcProxy({"AMQP_URI": service_config["AMQP_URI"]}, timeout=30) as cluster:
        villages = cluster.intake.list_villages(sign(public("qingshui"), DEFAULT_PRINCIPAL_KEY))
    assert "dongpo" in {v["code"] for v in villages}

    intake.proc.send_signal(signal.SIGTERM)
    assert intake.returncode(timeout=30) == 0, intake.log_tail()

    # every log line names its service (the JSON field, or the word after the level in the plain format)
    output = intake.log_tail(100_000)
    if log_format == "json":
        services = [json.loads(line)["service"] for line in output.splitlines() if line.startswith("{")]
    else:
        services = [line.split()[3] for line in output.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert len(services) >= 2, output  # at least nameko's "starting services" and the broker connection
    assert set(services) == {"intake"}, output
