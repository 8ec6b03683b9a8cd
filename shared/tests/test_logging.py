"""Every log line names its service: the filter and formats config.yaml sets up for every process."""
import io
import json
import logging
import logging.config

import pytest

from township_shared import observability
from township_shared.config import load_config
from township_shared.observability import JsonFormatter, ServiceFilter, serving, service_from_command_line


@pytest.mark.parametrize("argv, name", [
    (["/srv/.venv/bin/nameko", "run", "--config", "config.yaml", "intake.service"], "intake"),
    (["nameko", "run", "dispatch.service:DispatchService", "--broker", "amqp://x"], "dispatch"),
    (["nameko", "run", "--config", "c.yaml", "intake.service", "gateway.service"], "intake,gateway"),
    (["nameko", "shell"], "nameko"),
    (["/repo/bench/intake"], "intake"),
    (["/repo/services/intake/intake/demo.py"], "demo"),
    ([], "python"),
])
def test_the_service_is_read_from_the_nameko_run_command_line(argv, name):
    assert service_from_command_line(argv) == name


def configured_logger(monkeypatch, log_format):
    """A logger wired with config.yaml's LOGGING (its filters, formatters and handler), writing to a buffer."""
    monkeypatch.setenv("LOG_FORMAT", log_format)
    config = load_config()["LOGGING"]
    config["handlers"]["console"]["stream"] = io.StringIO()
    config["loggers"] = {"test.service_name": {"handlers": ["console"], "level": "INFO", "propagate": False}}
    config.pop("root")
    monkeypatch.setattr(logging.config, "_clearExistingHandlers", lambda: None)  # leave pytest's handlers alone
    logging.config.dictConfig(config)
    logger = logging.getLogger("test.service_name")
    return logger, logger.handlers[0].stream


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_every_line_of_both_formats_names_its_service(monkeypatch, log_format):
    logger, out = configured_logger(monkeypatch, log_format)
    monkeypatch.setattr(observability, "_process_services", {"intake"})
    logger.info("process line")
    serving("dispatch")
    try:
        logger.info("worker line")
    finally:
        serving(None)
    monkeypatch.setattr(observability, "_process_services", set())
    monkeypatch.setattr("sys.argv", ["/x/bin/nameko", "run", "--config", "config.yaml", "feedback.service"])
    logger.info("startup line")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    if log_format == "json":
        assert [json.loads(line)["service"] for line in lines] == ["intake", "dispatch", "feedback"]
    else:
        assert [line.split()[3] for line in lines] == ["intake", "dispatch", "feedback"]
        assert lines[1].endswith("test.service_name: worker line")


def test_the_json_formatter_names_the_service_without_the_filter_too():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    serving("gateway")
    try:
        assert json.loads(JsonFormatter().format(record))["service"] == "gateway"
    finally:
        serving(None)
    assert json.loads(JsonFormatter(service="fixed").format(record))["service"] == "fixed"
    assert ServiceFilter().filter(record) and record.service
