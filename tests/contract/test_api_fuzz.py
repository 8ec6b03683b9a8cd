"""schemathesis over the whole OpenAPI document (bounded, seeded): no generated input, valid or not, makes the API
answer 5xx, and no service logs an error or an unhandled exception meanwhile. Operations are driven one by one with hypothesis (schemathesis' pytest plugin does not load under
pytest 9 with importlib mode)."""
import logging

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 25


def test_no_input_makes_a_5xx(stack, http_base, caplog):
    caplog.set_level(logging.WARNING)
    schema = schemathesis.openapi.from_url(f"{http_base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures = []
    answered = {}  # (method, path) -> {(status, media type)}
    for operation in operations:
        if operation.path == "/health":
            continue

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(base_url=http_base, timeout=20)
            answered.setdefault((case.method.upper(), operation.path), set()).add(
                (response.status_code, (response.headers.get("content-type") or [""])[0].split(";")[0]))
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:300]))
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect every operation's failure before failing the test
            failures.append((operation.method, operation.path, type(exc).__name__, str(exc)[:500]))
    assert not failures, "\n".join(map(str, failures))
    # the document is generated from the routes: the CSV route is in it and the fuzzing gets its CSV
    assert (200, "text/csv") in answered[("GET", "/api/v1/assessment.csv")], answered[("GET", "/api/v1/assessment.csv")]
    errors = [f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records
              if r.levelno >= logging.ERROR or (r.exc_info and "(expected)" not in r.getMessage())]
    assert not errors, "\n".join(errors)
